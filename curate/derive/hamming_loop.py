"""The compiled inner loop of curate/derive/hamming_kernel.py (Numba, the `scale` extra). Imported only when a
set is large enough to use it: importing Numba costs ~0.3 s, which a small audit should not pay.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import types
from numba.core.extending import intrinsic


@intrinsic
def _ctpop(typingctx: Any, x: Any) -> Any:
    """The processor's population count (LLVM's ctpop) of a 64-bit word."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fn = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(fn, args)

    return types.uint64(types.uint64), codegen


popcount: Any = _ctpop  # called from compiled code only (a Numba intrinsic takes no typing context there)


def block_hits_py(qidx, qp, qd, qowner, shift, flips, starts, counts, tp, td, towner, max_p, max_d, cap):
    """Every (query, table row, pHash distance, dHash distance) within both limits, the two of different
    pictures, for the queries `qidx` (indices into qp, qd, qowner, in the order of their piece so that neighbours
    probe the same buckets), among the table rows whose piece — the 16 bits of pHash from `shift` — lies within
    `flips` of the query's (`starts`, `counts`: where each piece value's run lies in the table, sorted by piece).
    `cap`: the first size of the arrays of hits, doubled as they fill."""
    out_q = np.empty(cap, np.int64)
    out_t = np.empty(cap, np.int64)
    out_dp = np.empty(cap, np.int64)
    out_dd = np.empty(cap, np.int64)
    n = 0
    for i in range(len(qidx)):
        q = qidx[i]
        p, d, owner = qp[q], qd[q], qowner[q]
        key = np.int64((p >> np.uint64(shift)) & np.uint64(0xFFFF))
        for f in flips:
            probe = key ^ f
            start = starts[probe]
            for j in range(start, start + counts[probe]):
                dp = np.int64(popcount(p ^ tp[j]))
                if dp > max_p or towner[j] == owner:
                    continue
                dd = np.int64(popcount(d ^ td[j]))
                if dd > max_d:
                    continue
                if n == cap:
                    cap *= 2
                    grown = np.empty((4, cap), np.int64)
                    grown[0, :n], grown[1, :n], grown[2, :n], grown[3, :n] = out_q, out_t, out_dp, out_dd
                    out_q, out_t, out_dp, out_dd = grown[0], grown[1], grown[2], grown[3]
                out_q[n], out_t[n], out_dp[n], out_dd[n] = q, j, dp, dd
                n += 1
    return out_q[:n].copy(), out_t[:n].copy(), out_dp[:n].copy(), out_dd[:n].copy()


try:  # compiled once, then loaded from Numba's cache (beside this file, or in the user's cache folder)
    block_hits = njit(nogil=True, cache=True)(block_hits_py)
except RuntimeError:  # neither is writable: compile in each process
    block_hits = njit(nogil=True)(block_hits_py)
