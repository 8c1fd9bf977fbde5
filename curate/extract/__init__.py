"""Extract: per image, decode once and compute every extractor's features; cache them by content hash.

Extractors are modules with NAME, VERSION and `compute(decoded) -> dict`. Bump VERSION when an
extractor's output changes; cached rows of other versions are then recomputed.
"""

from __future__ import annotations

import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from curate.cache import FeatureCache, get_features, open_readonly, stat_key
from curate.extract import faces, image, marks, metadata, quality
from curate.extract.decode import Decoded, Limits, decode_image, sha256_of
from curate.model import ImageRecord

EXTRACTORS = [image, metadata, quality, marks, faces]

# Commit the cache after this many new images (or each second): a killed run loses at most one batch.
COMMIT_EVERY = 32

# Errors that depend on this machine or this moment, not on the file's bytes: never cached
# ("unavailable": an optional analyser is not installed here).
TRANSIENT_ERRORS = {"timeout", "unopenable", "unavailable"}


BY_NAME = {m.NAME: m for m in EXTRACTORS}


def versions(names=None) -> dict[str, int]:
    """{extractor: version} for `names` (all extractors when None)."""
    return {m.NAME: m.VERSION for m in EXTRACTORS if names is None or m.NAME in names}


@dataclass
class ExtractStats:
    images: int = 0
    from_cache: int = 0      # features found in the cache (no decode)
    hashed: int = 0          # files read and hashed
    decoded: int = 0         # files decoded
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"images": self.images, "from_cache": self.from_cache, "hashed": self.hashed,
                "decoded": self.decoded, "seconds": round(self.seconds, 3)}


def _read(path: str, limits: Limits) -> tuple[bytes | None, dict[str, Any] | None, tuple[int, int, int] | None]:
    try:
        st = os.stat(path)
    except OSError as e:
        return None, {"kind": "unopenable", "detail": f"cannot open the file: {e.strerror or e}"}, None
    if st.st_size > limits.max_file_bytes:
        return None, {"kind": "too-large", "limit_bytes": limits.max_file_bytes}, stat_key(st)
    try:
        with open(path, "rb") as f:
            return f.read(), None, stat_key(st)
    except OSError as e:
        return None, {"kind": "unopenable", "detail": f"cannot read the file: {e.strerror or e}"}, stat_key(st)


_worker_db: Any = None
_worker_db_path: Path | None = None


def extract_one(path: str, cache_path: Path | None, limits: Limits,
                names: tuple[str, ...] | None = None) -> tuple[str | None, tuple | None, dict, bool]:
    """(sha256, stat key, features, decoded?) for one file. Runs in a worker process; never raises."""
    global _worker_db, _worker_db_path
    vers = versions(names)
    data, error, st = _read(path, limits)
    if data is None:
        return None, st, {name: {"error": error} for name in vers}, False
    sha = sha256_of(data)
    if cache_path is not None:
        if _worker_db is None or _worker_db_path != cache_path:
            _worker_db, _worker_db_path = open_readonly(cache_path), cache_path
        if _worker_db is not None:
            try:
                cached = get_features(_worker_db, sha, vers)
            except Exception:
                cached = None
            if cached is not None:
                return sha, st, cached, False
    decoded: Decoded = decode_image(data, limits)
    features = {}
    for mod in (BY_NAME[n] for n in vers):
        try:
            with warnings.catch_warnings():  # Pillow's advice on odd files is not for the user's console
                warnings.simplefilter("ignore")
                features[mod.NAME] = mod.compute(decoded)
        except Exception as e:  # an extractor bug becomes a finding on this file, not a crash
            features[mod.NAME] = {"error": {"kind": "corrupt", "detail": f"the {mod.NAME} extractor failed: "
                                            f"{type(e).__name__}: {e}"}}
    if decoded.image is not None:
        decoded.image.close()
    return sha, st, features, True


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
    `names` limits extraction to those extractors (the ones the enabled checks read)."""
    t0 = time.perf_counter()
    stats = ExtractStats(images=len(records))
    vers = versions(names)
    names = tuple(vers)
    todo: list[ImageRecord] = []
    for rec in records:
        try:
            sha = cache.lookup_sha(rec.abs_path, os.stat(rec.abs_path))
        except OSError:
            sha = None
        cached = cache.get_features(sha, vers) if sha else None
        if cached is not None:
            rec.sha256, rec.features = sha, cached
            stats.from_cache += 1
            if on_progress:
                on_progress(1)
        else:
            todo.append(rec)

    jobs = jobs if jobs and jobs > 0 else (os.cpu_count() or 1)
    if todo:
        for name in names:  # heavy imports once, before workers fork, instead of once per worker
            getattr(BY_NAME[name], "warm_up", lambda: None)()
    args = [(rec.abs_path, cache.path, limits, names) for rec in todo]
    last_commit = time.monotonic()

    pending = 0

    def consume(results: Iterable[tuple]) -> None:
        nonlocal last_commit, pending
        for rec, (sha, st, features, was_decoded) in zip(todo, results):
            rec.sha256, rec.features = sha, features
            stats.hashed += sha is not None
            stats.decoded += was_decoded
            if not was_decoded and sha is not None:
                stats.from_cache += 1
            if sha is not None:
                transient = any(isinstance(f, dict) and f.get("error", {}).get("kind") in TRANSIENT_ERRORS
                                for f in features.values())
                if not transient:
                    cache.put_features(sha, features, vers)
                    if st is not None:
                        cache.put_sha(rec.abs_path, st, sha)
            pending += 1
            if pending >= COMMIT_EVERY or time.monotonic() - last_commit > 1.0:
                pending = 0
                cache.commit()
                last_commit = time.monotonic()
            if on_progress:
                on_progress(1)

    try:
        if jobs == 1 or len(todo) < 4:
            consume(_extract_star(a) for a in args)
        else:
            with ProcessPoolExecutor(max_workers=min(jobs, len(todo))) as pool:
                consume(pool.map(_extract_star, args, chunksize=max(1, min(16, len(todo) // (jobs * 8)))))
    finally:
        cache.commit()
    stats.seconds = time.perf_counter() - t0
    return stats
