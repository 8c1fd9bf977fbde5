"""The feature cache: SQLite, keyed by file content (SHA-256) and extractor version.

Three tables. `files` maps a path's stat signature (size, mtime, inode) to the SHA-256 of its bytes, so that
an unchanged folder is not even read again. `features` maps (sha256, extractor) to that extractor's JSON
output and version. `memos` keeps, per dataset folder, what a derivation carries to the next audit of it (the
near-duplicate pairs found: see curate/derive/duplicates.PairMemo). Rows are committed in small batches: a
killed run leaves every finished image cached.

The cache is an optimisation: any fault in it (a damaged file, a malformed row, a full disk, a read-only
file) is one notice, and the audit goes on without it, with the same findings.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs

from curate.model import StoredFeatures, encode, light_of

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS features (
    sha256 TEXT NOT NULL, extractor TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (sha256, extractor));
CREATE TABLE IF NOT EXISTS memos (
    dataset TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (dataset, name));
"""


def default_cache_dir() -> Path:
    return Path(os.environ.get("CURATE_CACHE_DIR") or platformdirs.user_cache_dir("curate"))


def stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def path_key(path: str) -> str:
    """A file path as the cache stores it: the name's bytes as UTF-8, undecodable bytes as `\\xNN` (file names
    need not be valid UTF-8; SQLite text must be)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


class FeatureCache:
    """`FeatureCache(None)` is an in-memory cache that forgets everything (`--no-cache`)."""

    FILE_NAME = "features-v1.sqlite"

    def __init__(self, directory: Path | None):
        self.notice: str | None = None  # one line for the user when the cache could not be used as asked
        self.path: Path | None = None
        if directory is not None:
            try:
                self.db = self._open(Path(directory))
                return
            except (OSError, sqlite3.Error) as e:
                self.notice = f"feature cache in {directory} unusable ({e}); running without a cache"
                self.path = None
        self.db = sqlite3.connect(":memory:")
        self.db.executescript(SCHEMA)

    def _open(self, directory: Path) -> sqlite3.Connection:
        directory = directory.expanduser().absolute()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / self.FILE_NAME
        for attempt in (1, 2):
            db = sqlite3.connect(path, timeout=30)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(SCHEMA)
                db.commit()
                self.path = path
                return db
            except sqlite3.DatabaseError:
                db.close()
                if attempt == 2:
                    raise
                # Not a database (or damaged): keep it aside for inspection and start a fresh cache.
                path.replace(path.with_suffix(".corrupt"))
                self.notice = f"the feature cache {path} was damaged; moved it aside and started a new one"
        raise AssertionError("unreachable")

    def _fault(self, e: Exception) -> None:
        """A cache operation failed: say so once and go on with an empty in-memory cache."""
        where = self.path or "memory"
        self.notice = (self.notice + "; " if self.notice else "") + (
            f"the feature cache {where} failed ({type(e).__name__}: {e}); continuing without it"
        )
        self.path = None
        try:
            self.db.close()
        except sqlite3.Error:
            pass
        self.db = sqlite3.connect(":memory:")
        self.db.executescript(SCHEMA)

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """Run one cache operation; a SQLite fault drops the cache (see _fault) instead of the audit."""
        try:
            yield
        except sqlite3.Error as e:
            self._fault(e)

    def close(self) -> None:
        with self._guarded():
            self.db.commit()
            self.db.close()

    def lookup_shas(self, items: list[tuple[str, os.stat_result | None]]) -> list[str | None]:
        """The SHA-256 of each file whose path, size, date and inode are as the cache saw them (else None; a stat
        of None is a file that could not be stat'ed), in a few queries."""
        keys = [path_key(path) for path, _ in items]
        rows: dict[str, tuple] = {}
        with self._guarded():
            for part in _parts(sorted(set(keys))):
                marks = ",".join("?" * len(part))
                for row in self.db.execute(
                    f"SELECT path, size, mtime_ns, inode, sha256 FROM files WHERE path IN ({marks})", part
                ):
                    rows[row[0]] = row[1:]
        out: list[str | None] = []
        for key, (_, st) in zip(keys, items):
            row = rows.get(key)
            ok = row is not None and st is not None and tuple(row[:3]) == stat_key(st) and isinstance(row[3], str)
            out.append(row[3] if ok and row is not None else None)
        return out

    def put_sha(self, path: str, st: tuple[int, int, int], sha: str) -> None:
        with self._guarded():
            self.db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", (path_key(path), *st, sha))

    def get_features(self, sha: str, versions: dict[str, int], stored: bool = False) -> Any:
        """All extractors' features for `sha` at the current versions, or None if any is missing or unreadable.
        `stored`: as StoredFeatures (the JSON texts, each checked to be a JSON object) instead of a dict."""
        with self._guarded():
            return get_features(self.db, sha, versions, stored)
        return None

    def get_many(self, shas: list[str], versions: dict[str, int], stored: bool = False) -> dict[str, Any]:
        """get_features for many contents at once: {sha: features} for those with every extractor cached."""
        out: dict[str, Any] = {}
        with self._guarded():
            found: dict[str, dict[str, tuple]] = {}
            names = sorted(versions)
            for part in _parts(sorted(set(shas))):
                marks = ",".join("?" * len(part))
                query = (
                    f"SELECT sha256, extractor, version, data FROM features WHERE sha256 IN ({marks}) "
                    f"AND extractor IN ({','.join('?' * len(names))})"
                )
                for sha, name, version, data in self.db.execute(query, (*part, *names)):
                    found.setdefault(sha, {})[name] = (version, data)
            for sha, rows in found.items():
                features = _parse(rows, versions, stored)
                if features is not None:
                    out[sha] = features
        return out

    def put_features(self, sha: str, features: dict[str, Any], versions: dict[str, int]) -> None:
        with self._guarded():
            self.db.executemany(
                "INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?)",
                [
                    (sha, name, versions[name], data if isinstance(data, str) else encode(data))
                    for name, data in features.items()
                ],
            )

    def get_memo(self, dataset: str, name: str) -> bytes | None:
        row = None
        with self._guarded():
            row = self.db.execute(
                "SELECT data FROM memos WHERE dataset = ? AND name = ?", (path_key(dataset), name)
            ).fetchone()
        return row[0] if row and isinstance(row[0], bytes) else None

    def put_memo(self, dataset: str, name: str, data: bytes) -> None:
        with self._guarded():
            self.db.execute("INSERT OR REPLACE INTO memos VALUES (?, ?, ?)", (path_key(dataset), name, data))
            self.db.commit()

    def commit(self) -> None:
        with self._guarded():
            self.db.commit()


def _parts(keys: list[str], size: int = 500) -> Iterator[list[str]]:
    """Keys in parts small enough for one query's parameters (SQLite allows 999 in old builds)."""
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def get_features(db: sqlite3.Connection, sha: str, versions: dict[str, int], stored: bool = False) -> Any:
    rows = db.execute("SELECT extractor, version, data FROM features WHERE sha256 = ?", (sha,)).fetchall()
    return _parse({name: (version, data) for name, version, data in rows}, versions, stored)


def _parse(found: dict[str, tuple], versions: dict[str, int], stored: bool = False) -> Any:
    """The features of one content from its rows {extractor: (version, JSON)}, or None if any is missing or
    unreadable. `stored`: StoredFeatures over the JSON texts themselves, once each is known to decode to an object."""
    out = {}
    light = {}
    for name, version in versions.items():
        if name not in found or found[name][0] != version:
            return None
        try:
            value = json.loads(found[name][1])
        except (TypeError, ValueError, RecursionError):
            return None  # a malformed row is a miss: the features are computed again and the row replaced
        if not isinstance(value, dict):
            return None
        if stored:
            out[name] = found[name][1]
            if lt := light_of(value):
                light[name] = lt
        else:
            out[name] = value
    return StoredFeatures(out, light) if stored else out
