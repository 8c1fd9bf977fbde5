"""A spool: bytes written once to an anonymous temporary file and read back by position.

What an audit would otherwise hold in memory for every picture until its reports are written — each picture's
features (curate.model.StoredFeatures) and every finding (curate.decide.FindingLog), and from 100,000 pictures the
CLIP vectors DUP003 searches (SpooledRows) — goes here, so that a million pictures fit in a bounded memory (issue
22; docs/benchmarks.md). The file is made by `tempfile.TemporaryFile` in the system's temporary folder (TMPDIR),
never in the dataset: it has no name (unlinked when made, on POSIX) and is gone when the audit's result is, or
when the process ends however it ends.

If the file cannot be made or written (no temporary folder, a full disk), the spool holds the bytes in memory
instead: the audit is the same, only larger.
"""

from __future__ import annotations

import os
import tempfile
from typing import IO, Any

WRITE_EVERY = 1 << 20  # bytes gathered before one write to the file


class Spool:
    """Append bytes, get back a position (`put`); read them back by that position (`get`).

    A position packs the offset and the length into one int (offset << 32 | length), so a caller holds one small
    number per item. Items are limited to 4 GiB each."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None
        try:
            self._file = tempfile.TemporaryFile(prefix="curate-spool-", buffering=0)
        except OSError:
            self._file = None
        self._writing = self._file is not None
        self._pending = bytearray()  # the bytes after the first `_written` (all of them without a file)
        self._written = 0

    @property
    def on_disk(self) -> bool:
        """False where the file could not be made or written: everything since is held in memory."""
        return self._writing

    def put(self, data: bytes) -> int:
        at = self._written + len(self._pending)
        self._pending += data
        if len(self._pending) >= WRITE_EVERY:
            self._flush()
        return at << 32 | len(data)

    def get(self, position: int) -> bytes:
        return self.read(position >> 32, (position >> 32) + (position & 0xFFFFFFFF))

    def read(self, start: int, end: int) -> bytes:
        """The bytes from offset `start` to `end` (a position's offset is `position >> 32`)."""
        if start >= self._written:
            return bytes(self._pending[start - self._written : end - self._written])
        if self._file is None:
            raise ValueError(f"offset {start} is not in this spool")
        data = os.pread(self._file.fileno(), min(end, self._written) - start, start)
        if len(data) != min(end, self._written) - start:
            raise OSError(f"the audit's spool file was cut short at {start + len(data)}")
        return data + self._pending[: max(0, end - self._written)] if end > self._written else data

    def _flush(self) -> None:
        if not self._writing or self._file is None:
            return
        try:
            done = 0
            while done < len(self._pending):
                done += os.pwrite(self._file.fileno(), memoryview(self._pending)[done:], self._written + done)
        except OSError:  # a full disk: keep what is not written, and everything after it, in memory
            self._writing = False
            return
        self._written += len(self._pending)
        self._pending = bytearray()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._writing = False


class SpooledRows:
    """Rows of one width and number type (a million half-precision CLIP vectors: 1 GB) appended once to their own
    spool and read back by row: what DUP003 and the composition keeps search at scale without holding it
    (docs/benchmarks.md, "The CLIP checks at scale").

    Indexing gives numpy arrays as an array of the rows would: `rows[i]` one row, `rows[a:b]` (any step) and
    `rows[indices]` several. Rows next to each other are read with one call."""

    def __init__(self, width: int, dtype: Any = "float16") -> None:
        import numpy as np

        self.dtype = np.dtype(dtype)
        self.width = int(width)
        self._row_bytes = self.width * self.dtype.itemsize
        self._spool = Spool()
        self._n = 0

    def append(self, row: Any) -> None:
        import numpy as np

        data = np.ascontiguousarray(row, dtype=self.dtype).tobytes()
        if len(data) != self._row_bytes:
            raise ValueError(f"a row of {len(data)} bytes where this spool holds rows of {self._row_bytes}")
        self._spool.put(data)
        self._n += 1

    def __len__(self) -> int:
        return self._n

    @property
    def shape(self) -> tuple[int, int]:
        return (self._n, self.width)

    def _read(self, start: int, stop: int) -> Any:
        import numpy as np

        data = self._spool.read(start * self._row_bytes, stop * self._row_bytes)
        return np.frombuffer(data, dtype=self.dtype).reshape(stop - start, self.width)

    def __getitem__(self, key: Any) -> Any:
        import numpy as np

        if isinstance(key, slice):
            start, stop, step = key.indices(self._n)
            if step == 1:
                return self._read(start, max(start, stop))
            return self.take(np.arange(start, stop, step))
        if isinstance(key, (int, np.integer)):
            i = int(key) + (self._n if key < 0 else 0)
            if not 0 <= i < self._n:
                raise IndexError(f"row {key} of {self._n}")
            return self._read(i, i + 1)[0]
        return self.take(key)

    def take(self, indices: Any) -> Any:
        """The rows at `indices` (any order, repeats allowed), as an array in that order."""
        import numpy as np

        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        out = np.empty((len(idx), self.width), dtype=self.dtype)
        if not len(idx):
            return out
        if idx.min() < 0 or idx.max() >= self._n:
            raise IndexError(f"rows {idx.min()}–{idx.max()} of {self._n}")
        order = np.argsort(idx, kind="stable")
        wanted = idx[order]
        breaks = np.flatnonzero(np.diff(wanted) > 1) + 1  # runs of rows next to (or equal to) each other
        for run in np.split(np.arange(len(wanted)), breaks):
            first, last = int(wanted[run[0]]), int(wanted[run[-1]])
            block = self._read(first, last + 1)
            out[order[run]] = block[wanted[run] - first]
        return out

    def close(self) -> None:
        self._spool.close()
