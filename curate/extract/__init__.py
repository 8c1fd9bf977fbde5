"""Extract: per image, decode once and compute every extractor's features; cache them by content hash.

Extractors are modules with NAME, VERSION and `compute(decoded) -> dict` (the protocol and the feature
records: curate/features.py). Bump VERSION when an extractor's output changes; cached rows of other versions
are then recomputed.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import sys
import time
import warnings
from collections import deque
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from curate.cache import FeatureCache, stat_key
from curate.extract import faces, frame, image, marks, metadata, quality, stamps
from curate.extract.decode import Decoded, Limits, copy_reduction, decode_image, draft_scale, sha256_of
from curate.features import Extractor
from curate.files import NotRegularFile, open_regular
from curate.model import ImageRecord, StoredFeatures
from curate.spool import Spool

EXTRACTORS: list[Extractor] = [image, metadata, quality, frame, stamps, marks, faces]

# Commit the cache after this many new images (or each second): a killed run loses at most one batch.
COMMIT_EVERY = 32

# Errors that depend on this machine or this moment, not on the file's bytes: never cached
# ("unavailable": an optional analyser is not installed here; "failed": an extractor raised — a bug, reported
# as UNR010 and tried again next time, never cached as if the file were corrupt).
TRANSIENT_ERRORS = {"timeout", "unopenable", "unavailable", "failed"}


BY_NAME = {m.NAME: m for m in EXTRACTORS}


def versions(names=None) -> dict[str, int]:
    """{extractor: version} for `names` (all extractors when None)."""
    return {m.NAME: m.VERSION for m in EXTRACTORS if names is None or m.NAME in names}


@dataclass
class ExtractStats:
    images: int = 0
    from_cache: int = 0  # features found in the cache (no decode)
    hashed: int = 0  # files read and hashed (their path and date were not in the cache)
    decoded: int = 0  # files decoded: each distinct content once
    identical: int = 0  # files whose bytes equal another file's in this audit: not decoded again
    memory_limited: int = 0  # images extracted with fewer workers to stay under [decode] memory_budget_mb
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "from_cache": self.from_cache,
            "hashed": self.hashed,
            "decoded": self.decoded,
            "identical": self.identical,
            "memory_limited": self.memory_limited,
            "seconds": round(self.seconds, 3),
        }


def _open(path: str, limits: Limits) -> tuple[int | None, os.stat_result | None, dict[str, Any] | None]:
    """(descriptor, stat, None) of a regular file within the size limit, or (None, stat or None, read error).
    FIFOs, devices and sockets are refused before any read (a FIFO would block, /dev/zero never ends)."""
    try:
        fd, st = open_regular(path)
    except NotRegularFile as e:
        return None, None, {"kind": "unopenable", "detail": f"not read: the path is {e.strerror}"}
    except OSError as e:
        return None, None, {"kind": "unopenable", "detail": f"cannot open the file: {e.strerror or e}"}
    if st.st_size > limits.max_file_bytes:
        os.close(fd)
        return None, st, {"kind": "too-large", "limit_bytes": limits.max_file_bytes}
    return fd, st, None


def _chunks(fd: int, limits: Limits) -> Iterable[bytes]:
    """The file's bytes in chunks, never more than the size limit (a file may grow while it is read)."""
    left = limits.max_file_bytes + 1
    with os.fdopen(fd, "rb") as f:
        while left > 0 and (chunk := f.read(min(1 << 20, left))):
            left -= len(chunk)
            yield chunk


def _read(path: str, limits: Limits) -> tuple[bytes | None, dict[str, Any] | None, tuple[int, int, int] | None]:
    fd, st, error = _open(path, limits)
    if fd is None or st is None:
        return None, error, stat_key(st) if st else None
    try:
        data = b"".join(_chunks(fd, limits))
    except OSError as e:
        return None, {"kind": "unopenable", "detail": f"cannot read the file: {e.strerror or e}"}, stat_key(st)
    if len(data) > limits.max_file_bytes:
        return None, {"kind": "too-large", "limit_bytes": limits.max_file_bytes}, stat_key(st)
    return data, None, stat_key(st)


def hash_file(path: str, limits: Limits) -> tuple[str | None, tuple[int, int, int] | None, dict[str, Any] | None]:
    """(sha256, stat key, read error) of one file, read in chunks (memory stays small whatever its size)."""
    fd, st, error = _open(path, limits)
    if fd is None or st is None:
        return None, stat_key(st) if st else None, error
    h = hashlib.sha256()
    size = 0
    try:
        for chunk in _chunks(fd, limits):
            size += len(chunk)
            h.update(chunk)
    except OSError as e:
        return None, stat_key(st), {"kind": "unopenable", "detail": f"cannot read the file: {e.strerror or e}"}
    if size > limits.max_file_bytes:
        return None, stat_key(st), {"kind": "too-large", "limit_bytes": limits.max_file_bytes}
    return h.hexdigest(), stat_key(st), None


def extract_one(
    path: str, limits: Limits, names: tuple[str, ...] | None = None
) -> tuple[str | None, tuple | None, dict, bool]:
    """(sha256, stat key, features, decoded?) for one file. Runs in a worker process; never raises."""
    vers = versions(names)
    data, error, st = _read(path, limits)
    if data is None:
        return None, st, {name: {"error": error} for name in vers}, False
    sha = sha256_of(data)
    decoded: Decoded = decode_image(data, limits)
    features = {}
    for mod in (BY_NAME[n] for n in vers):
        try:
            with warnings.catch_warnings():  # Pillow's advice on odd files is not for the user's console
                warnings.simplefilter("ignore")
                features[mod.NAME] = mod.compute(decoded)
        except Exception as e:  # an extractor bug becomes a finding on this file (UNR010), not a crash or silence
            features[mod.NAME] = {"error": {"kind": "failed", "detail": f"{type(e).__name__}: {e}"[:300]}}
    if decoded.image is not None:
        decoded.image.close()
    return sha, st, features, True


# Peak memory of one worker extracting one image, measured on 24 and 100 MP PNGs and JPEGs with the image,
# metadata, quality and marks extractors (docs/benchmarks.md): 17–19 bytes per decoded pixel, plus the
# worker's own ~80 MB.
BYTES_PER_PIXEL = 19
RAW_BYTES_PER_PIXEL = 5  # a decoded buffer (RGBA) before its analyses: docs/benchmarks.md §Memory
WORKER_BASE_BYTES = 100 << 20


def decoded_pixels(path: str, limits: Limits) -> int:
    """Pixels the decoder will hold for this file (header only; a JPEG above full_decode_max_pixels is decoded
    at 1/2, 1/4 or 1/8 scale). 0 when the header cannot be read (the decode will say why)."""
    from PIL import Image

    try:
        fd, _ = open_regular(path)
        with os.fdopen(fd, "rb") as f, Image.open(f) as im:
            w, h = im.size
            fmt = im.format
    except Exception:  # noqa: BLE001 — any header the decoder cannot read is the decoder's finding
        return 0
    if w * h > limits.max_pixels:
        return 0  # refused as a decompression bomb, never decoded
    reduce = copy_reduction(fmt, w, h, limits)
    if reduce > 1:
        # Decoded whole (no reduced decoding in PNG, WebP, TIFF), then analysed on a reduced copy (decode.py):
        # the whole buffer, in the per-pixel units of the analyses, plus the copy.
        return (w * h * RAW_BYTES_PER_PIXEL) // BYTES_PER_PIXEL + (w // reduce) * (h // reduce)
    scale = draft_scale(fmt, w, h, limits)
    return (w // scale) * (h // scale)


def plan_workers(pixels: Sequence[int] | np.ndarray, jobs: int, budget_bytes: int) -> list[tuple[int, np.ndarray]]:
    """Phases of (worker count, indices into `pixels`) that keep the workers' summed peak under the budget:
    images small enough to run `jobs` at a time first, then the bigger ones with as many workers as fit (at least
    one: an image over the whole budget alone is still extracted, alone), biggest first. On arrays: 8 bytes a
    picture, not a list of Python numbers (a million pictures)."""
    need = np.asarray(pixels, dtype=np.int64) * BYTES_PER_PIXEL + WORKER_BASE_BYTES
    fits = need * jobs <= budget_bytes
    small = np.flatnonzero(fits)
    big = np.flatnonzero(~fits)
    big = big[np.argsort(-need[big], kind="stable")]
    phases = [(jobs, small)] if len(small) else []
    if len(big):
        workers = max(1, min(jobs, budget_bytes // int(need[big[0]])))
        phases.append((workers, big))
    return phases


def _worker_init() -> None:
    """In each worker: die with the parent (Linux: PR_SET_PDEATHSIG), and leave Ctrl-C to the parent, which ends
    the workers itself (a worker interrupted mid-task would make the pool wait forever)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
            if os.getppid() == 1:  # the parent died before prctl took effect
                os._exit(1)
        except (OSError, AttributeError):
            pass


def _pooled(
    args: Iterable[tuple],
    count: int,
    workers: int,
    jobs: int,
    consume: Callable[[Iterable[tuple], list], None],
    items: list[ImageRecord],
) -> None:
    """consume(results of extract_one(*a) for the `count` args, in order; `items`) on a pool of `workers`."""
    pool = ProcessPoolExecutor(max_workers=min(workers, count), initializer=_worker_init)
    try:
        consume(_in_order(pool, args, max(1, min(16, count // (jobs * 8)))), items)
    except BaseException:
        _kill_workers(pool)  # Ctrl-C / SIGTERM: end every worker now, never wait on them
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


IN_FLIGHT_CHUNKS = 64  # chunks handed to the workers ahead of the one being read: every worker stays busy


def _extract_chunk(chunk: tuple[tuple, ...]) -> list[tuple]:
    return [extract_one(*a) for a in chunk]


def _in_order(pool: ProcessPoolExecutor, args: Iterable[tuple], chunksize: int) -> Iterator[tuple]:
    """extract_one(*a) for each a, in order, on the pool: as Executor.map, but with at most IN_FLIGHT_CHUNKS chunks
    submitted at a time (Executor.map submits every one at once: a million pictures' arguments and futures held)."""
    pending: deque = deque()
    it = iter(args)
    while chunk := tuple(itertools.islice(it, chunksize)):
        pending.append(pool.submit(_extract_chunk, chunk))
        if len(pending) >= IN_FLIGHT_CHUNKS:
            yield from pending.popleft().result()
    while pending:
        yield from pending.popleft().result()


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    for proc in list(getattr(pool, "_processes", {}).values()):
        try:
            proc.kill()
        except (OSError, ValueError):
            pass


CACHE_READS = 2000  # records whose cached features are looked up together


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _extract_star(args):
    return extract_one(*args)


def extract_features(
    records: list[ImageRecord],
    cache: FeatureCache,
    limits: Limits,
    jobs: int = 0,
    on_progress: Callable[[int], None] | None = None,
    names: tuple[str, ...] | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    spool: Spool | None = None,
) -> ExtractStats:
    """Fill `record.sha256` and `record.features` for every record, from the cache where possible.
    `names` limits extraction to those extractors (the ones the enabled checks read).

    Three steps, each deterministic whatever the job count: files whose path, size and date are in the cache
    are not read; the others are hashed, and a content already in the cache is not decoded; each remaining
    distinct content is decoded once, however many files hold it (byte-identical copies share its features).
    `engine` "ray" decodes on a Ray cluster instead of a local process pool (curate/extract/ray_engine.py).
    `spool`: where the records' features are held (curate/spool.py), instead of in memory.
    """
    t0 = time.perf_counter()
    stats = ExtractStats(images=len(records))
    vers = versions(names)
    names = tuple(vers)
    requested_jobs = jobs if jobs and jobs > 0 else 0
    jobs = requested_jobs or (os.cpu_count() or 1)

    def held(features: dict | StoredFeatures) -> StoredFeatures:
        """Features as the records hold them: the cache's JSON texts, in the spool where there is one."""
        if not isinstance(features, StoredFeatures):
            return StoredFeatures.encoded(features, spool)
        return features.spooled(spool) if spool is not None else features

    def done(rec: ImageRecord, sha: str | None, features: StoredFeatures) -> None:
        # Each record gets its own mapping: identical files share the extractors' results, but later stages
        # add per-file entries (the sidecars beside each file).
        rec.sha256 = sha
        rec.features = features.copy()
        if on_progress:
            on_progress(1)

    unknown: list[ImageRecord] = []
    for start in range(0, len(records), CACHE_READS):  # the cache is read in parts: a few queries each
        some = records[start : start + CACHE_READS]
        shas = cache.lookup_shas([(rec.abs_path, _stat(rec.abs_path)) for rec in some])
        known = cache.get_many([sha for sha in shas if sha], vers, stored=True)
        for rec, sha in zip(some, shas):
            cached = known.get(sha) if sha else None
            if cached is not None:
                stats.from_cache += 1
                done(rec, sha, held(cached))
            else:
                unknown.append(rec)

    # Hash what the cache does not know by path, in parts (a million at once would hold a million futures):
    # reading and hashing release the GIL, so threads suffice. A content the cache has is read from it, a part
    # at a time; the others are grouped by content, in the order they were found, to be decoded once each.
    # One record per content to decode (its sha256 set), and the other files of that content where there are any
    first_of: dict[str, ImageRecord] = {}
    copies: dict[str, list[ImageRecord]] = {}
    threads = ThreadPoolExecutor(max_workers=jobs) if jobs > 1 and len(unknown) > 1 else None
    try:
        for start in range(0, len(unknown), CACHE_READS):
            some = unknown[start : start + CACHE_READS]
            hashes = (
                threads.map(lambda r: hash_file(r.abs_path, limits), some)
                if threads
                else (hash_file(r.abs_path, limits) for r in some)
            )
            fresh: list[tuple[ImageRecord, str]] = []
            for rec, (sha, st, error) in zip(some, hashes):
                if sha is None:  # cannot be read: the finding says why; never cached (it may be readable later)
                    done(rec, None, held({name: {"error": error} for name in vers}))
                    continue
                stats.hashed += 1
                if st is not None:
                    cache.put_sha(rec.abs_path, st, sha)
                if sha in first_of:
                    copies.setdefault(sha, []).append(rec)
                else:
                    fresh.append((rec, sha))
            known = cache.get_many([sha for _, sha in fresh], vers, stored=True)
            for rec, sha in fresh:
                cached = known.get(sha)
                if cached is not None:
                    stats.from_cache += 1
                    known[sha] = cached = held(cached)  # copies of it later in the part share its texts
                    done(rec, sha, cached)
                elif sha in first_of:  # a copy later in the same part
                    copies.setdefault(sha, []).append(rec)
                else:
                    rec.sha256 = sha
                    first_of[sha] = rec
    finally:
        if threads is not None:
            threads.shutdown()
    todo = list(first_of.values())  # in the order found
    del first_of

    if todo:
        for name in names:  # heavy imports once, before workers fork, instead of once per worker
            getattr(BY_NAME[name], "warm_up", lambda: None)()

    def args_of(items: Iterable[ImageRecord]) -> Iterator[tuple]:
        return ((rec.abs_path, limits, names) for rec in items)

    last_commit = time.monotonic()
    pending = 0
    changed: list[ImageRecord] = []

    def consume(results: Iterable[tuple], items: list[ImageRecord]) -> None:
        nonlocal last_commit, pending
        for first, (got_sha, st, features, was_decoded) in zip(items, results):
            sha = first.sha256
            assert sha is not None  # set when hashed
            same = [first, *copies.pop(sha, ())]
            stats.decoded += was_decoded
            if got_sha is not None and got_sha != sha:  # the file changed since it was hashed
                changed.extend(same[1:])
                same = same[:1]
                sha = got_sha
            if got_sha is not None:
                transient = any(
                    isinstance(f, dict) and f.get("error", {}).get("kind") in TRANSIENT_ERRORS
                    for f in features.values()
                )
                if not transient:
                    features = StoredFeatures.encoded(features)
                    cache.put_features(sha, features.texts(), vers)
                    if st is not None:
                        cache.put_sha(same[0].abs_path, st, sha)
            stats.identical += len(same) - 1
            features = held(features)
            for rec in same:
                done(rec, got_sha, features)
            pending += 1
            if pending >= COMMIT_EVERY or time.monotonic() - last_commit > 1.0:
                pending = 0
                cache.commit()
                last_commit = time.monotonic()

    ray = None
    if engine == "ray" and todo:
        from curate.extract.ray_engine import Session

        ray = Session(ray_address, names)
        jobs = requested_jobs or ray.cpus
    try:
        if ray is None and (jobs == 1 or len(todo) < 4):
            consume((_extract_star(a) for a in args_of(todo)), todo)
        elif todo:
            pixels = np.fromiter((decoded_pixels(rec.abs_path, limits) for rec in todo), np.int64, len(todo))
            for workers, idx in plan_workers(pixels, jobs, limits.memory_budget_mb << 20):
                items = [todo[i] for i in idx]
                if workers < jobs:
                    stats.memory_limited += len(idx)
                if ray is not None:
                    consume(ray.map(list(args_of(items)), workers), items)
                elif workers == 1:
                    consume((_extract_star(a) for a in args_of(items)), items)
                else:
                    _pooled(args_of(items), len(items), workers, jobs, consume, items)
        for rec in changed:  # rare: copies of a file that changed mid-audit are decoded on their own
            sha, st, features, was_decoded = extract_one(rec.abs_path, limits, names)
            stats.decoded += was_decoded
            done(rec, sha, held(features))
    finally:
        cache.commit()
        if ray is not None:
            ray.close()
    stats.seconds = time.perf_counter() - t0
    return stats
