"""The near-duplicate matcher's inner loop compiled with Numba (the `scale` extra): the same multi-index lookups
and checks as curate/derive/duplicates.py's NumPy code, without building an array of every candidate.

At a million pictures a query's 16-bit piece probes ~430 buckets of ~15 whole pictures each: 7 million queries
(the whole picture and six crop views of each) meet ~4.6 × 10¹⁰ candidates, each checked on both full hashes.
NumPy spends ~25 ns a candidate materialising index arrays; this loop spends a few, with queries taken in the
order of their piece so that the buckets they probe stay in the processor's cache. The hits are the same
(query, whole picture, pHash distance, dHash distance) rows NumPy finds, in another order (tests compare the
pairs both make; bench/bench_matching.py measures both).

The loop itself is curate/derive/hamming_loop.py, imported only when `available()` is first asked: duplicates.py
asks from COMPILED_FROM queries up, so a small audit never pays Numba's import (~0.3 s) or its first call.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Queries a block: one call of the compiled loop on one thread (its hits are returned together).
BLOCK = 1 << 16
# Hits a block's arrays hold at first (doubled as they fill).
FIRST_CAPACITY = 1024
# From this many queries (views × pictures) on, duplicates.py uses the compiled loop when it is installed.
COMPILED_FROM = 100_000


@functools.cache
def available() -> bool:
    """Whether Numba is installed and imports (the first call imports it and the loop's module)."""
    try:
        from curate.derive import hamming_loop  # noqa: F401
    except ImportError:  # the `scale` extra is not installed, or its Numba does not run with this NumPy
        return False
    return True


def piece_hits(
    query_p: np.ndarray,
    query_d: np.ndarray,
    query_owner: np.ndarray,
    query_order: np.ndarray,
    table_p: np.ndarray,
    table_d: np.ndarray,
    table_owner: np.ndarray,
    table_order: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    shift: int,
    flips: np.ndarray,
    max_p: int,
    max_d: int,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(query index, table index, pHash distance, dHash distance) arrays, a block of queries at a time, for one
    piece of the multi-index — the 16 bits of pHash from `shift` on — as duplicates.py's `_Piece` holds it: the
    table rows sorted by piece (`table_order`) and where each value's run starts and how long it is; the queries in
    the order of their piece (`query_order`, so that neighbours probe the same buckets), read in place. `flips`:
    the masks a piece may differ by."""
    assert available(), "numba is not installed (pip install 'curate[scale]')"
    from curate.derive.hamming_loop import block_hits

    tp, td, towner = table_p[table_order], table_d[table_order], table_owner[table_order]
    flips = flips.astype(np.int64)

    def block(s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        q, t, dp, dd = block_hits(
            query_order[s : s + BLOCK], query_p, query_d, query_owner, shift, flips, starts, counts, tp, td, towner,
            max_p, max_d, FIRST_CAPACITY,
        )  # fmt: skip
        return q, table_order[t], dp, dd

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # the loop releases the GIL (nogil)
        yield from pool.map(block, range(0, len(query_order), BLOCK))
