"""Extract: per image, decode once and compute every extractor's features; cache them by content hash.

Extractors are modules with NAME, VERSION and `compute(decoded) -> dict` (the protocol and the feature
records: curate/features.py). Bump VERSION when an extractor's output changes; cached rows of other versions
are then recomputed.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from curate.cache import FeatureCache, stat_key
from curate.extract import faces, image, marks, metadata, quality
from curate.extract.decode import Decoded, Limits, decode_image, sha256_of
from curate.features import Extractor
from curate.files import NotRegularFile, open_regular
from curate.model import ImageRecord

EXTRACTORS: list[Extractor] = [image, metadata, quality, marks, faces]

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
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "from_cache": self.from_cache,
            "hashed": self.hashed,
            "decoded": self.decoded,
            "identical": self.identical,
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


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    for proc in list(getattr(pool, "_processes", {}).values()):
        try:
            proc.kill()
        except (OSError, ValueError):
            pass


def _extract_star(args):
    return extract_one(*args)


def extract_features(
    records: list[ImageRecord],
    cache: FeatureCache,
    limits: Limits,
    jobs: int = 0,
    on_progress: Callable[[int], None] | None = None,
    names: tuple[str, ...] | None = None,
) -> ExtractStats:
    """Fill `record.sha256` and `record.features` for every record, from the cache where possible.
    `names` limits extraction to those extractors (the ones the enabled checks read).

    Three steps, each deterministic whatever the job count: files whose path, size and date are in the cache
    are not read; the others are hashed, and a content already in the cache is not decoded; each remaining
    distinct content is decoded once, however many files hold it (byte-identical copies share its features).
    """
    t0 = time.perf_counter()
    stats = ExtractStats(images=len(records))
    vers = versions(names)
    names = tuple(vers)
    jobs = jobs if jobs and jobs > 0 else (os.cpu_count() or 1)

    def done(rec: ImageRecord, sha: str | None, features: dict) -> None:
        # Each record gets its own mapping: identical files share the extractors' results, but later stages
        # add per-file entries (the sidecars beside each file).
        rec.sha256, rec.features = sha, dict(features)
        if on_progress:
            on_progress(1)

    unknown: list[ImageRecord] = []
    for rec in records:
        try:
            sha = cache.lookup_sha(rec.abs_path, os.stat(rec.abs_path))
        except OSError:
            sha = None
        cached = cache.get_features(sha, vers) if sha else None
        if cached is not None:
            stats.from_cache += 1
            done(rec, sha, cached)
        else:
            unknown.append(rec)

    # Hash what the cache does not know by path: reading and hashing release the GIL, so threads suffice.
    if jobs > 1 and len(unknown) > 1:
        with ThreadPoolExecutor(max_workers=jobs) as threads:
            hashes = list(threads.map(lambda r: hash_file(r.abs_path, limits), unknown))
    else:
        hashes = [hash_file(r.abs_path, limits) for r in unknown]
    by_content: dict[str, list[ImageRecord]] = {}
    for rec, (sha, st, error) in zip(unknown, hashes):
        if sha is None:  # cannot be read: the finding says why; never cached (it may be readable later)
            done(rec, None, {name: {"error": error} for name in vers})
            continue
        stats.hashed += 1
        if st is not None:
            cache.put_sha(rec.abs_path, st, sha)
        by_content.setdefault(sha, []).append(rec)
    todo: list[tuple[str, list[ImageRecord]]] = []
    for sha, same in by_content.items():
        cached = cache.get_features(sha, vers)
        if cached is not None:
            stats.from_cache += len(same)
            for rec in same:
                done(rec, sha, cached)
        else:
            todo.append((sha, same))

    if todo:
        for name in names:  # heavy imports once, before workers fork, instead of once per worker
            getattr(BY_NAME[name], "warm_up", lambda: None)()
    args = [(same[0].abs_path, limits, names) for _, same in todo]
    last_commit = time.monotonic()
    pending = 0
    changed: list[ImageRecord] = []

    def consume(results: Iterable[tuple]) -> None:
        nonlocal last_commit, pending
        for (sha, same), (got_sha, st, features, was_decoded) in zip(todo, results):
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
                    cache.put_features(sha, features, vers)
                    if st is not None:
                        cache.put_sha(same[0].abs_path, st, sha)
            stats.identical += len(same) - 1
            for rec in same:
                done(rec, got_sha, features)
            pending += 1
            if pending >= COMMIT_EVERY or time.monotonic() - last_commit > 1.0:
                pending = 0
                cache.commit()
                last_commit = time.monotonic()

    try:
        if jobs == 1 or len(todo) < 4:
            consume(_extract_star(a) for a in args)
        else:
            pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), initializer=_worker_init)
            try:
                consume(pool.map(_extract_star, args, chunksize=max(1, min(16, len(todo) // (jobs * 8)))))
            except BaseException:
                _kill_workers(pool)  # Ctrl-C / SIGTERM: end every worker now, never wait on them
                raise
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
        for rec in changed:  # rare: copies of a file that changed mid-audit are decoded on their own
            sha, st, features, was_decoded = extract_one(rec.abs_path, limits, names)
            stats.decoded += was_decoded
            done(rec, sha, features)
    finally:
        cache.commit()
    stats.seconds = time.perf_counter() - t0
    return stats
