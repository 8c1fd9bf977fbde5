"""Per-image extraction on a Ray cluster (`curate audit --engine ray [--ray-address ADDR]`).

The local engine runs the extractors in a process pool on this machine; this one runs the same function
(`extract_one`) in Ray actors, one per CPU of the cluster (or --jobs of them), so each actor loads the text
detector, the mark detector and the face models once and keeps them. Everything else stays on the driver, as
with the local engine: the scan, the feature cache (results flow back and are cached here, keyed by content),
the checks and the reports — so the findings are the same whichever engine ran (tests/test_ray_engine.py).

Actors read each file by its path: on a real cluster the dataset must be at the same path on every node (a
shared volume). Pictures too large to decode `jobs` at a time get fewer actors at once, as in the local pool.
Ray is optional: `pip install 'curate[ray]'`.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any, Iterator

INSTALL_HINT = "--engine ray needs Ray: pip install 'curate[ray]' (on the driver and on every node)"
BATCH = 8  # files per actor call: fewer round trips, still fine-grained enough to balance the actors


class EngineError(Exception):
    """Ray could not be reached, or failed mid-run: one line for the user (exit 2)."""


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


def missing() -> str | None:
    """Why the Ray engine cannot run here, or None."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return INSTALL_HINT
    return None


class Extractor:
    """One actor: the extractors' models loaded once (warm_up), then any number of files."""

    def __init__(self, names: tuple[str, ...]):
        from curate.extract import BY_NAME

        for name in names:
            getattr(BY_NAME[name], "warm_up", lambda: None)()

    def run(self, batch: list[tuple]) -> list[tuple]:
        from curate.extract import extract_one

        return [extract_one(*args) for args in batch]


def _answers(address: str, timeout: float = 5.0) -> bool:
    """Whether something accepts connections at HOST:PORT (Ray itself retries a wrong address for minutes).
    Other forms (ray://…, auto) are left to Ray."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return True
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except OSError:
        return False


class Session:
    """A connection to Ray for one extraction: to the cluster at `address` (or RAY_ADDRESS), else a Ray instance
    started on this machine for the audit and stopped after it."""

    def __init__(self, address: str | None, names: tuple[str, ...]):
        import ray

        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
            target = address or os.environ.get("RAY_ADDRESS")
            if not target:
                options["include_dashboard"] = False
            elif not _answers(target):
                raise EngineError(f"nothing answers at the Ray address {target}: start the cluster, or fix the address")
            # Ray's notice that its cluster uses token authentication (it does) is not for the audit's console.
            logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
            try:
                ray.init(address=address, **options)
            except Exception as e:  # a cluster of another Ray version, no room for a local one, …
                where = f" at {target}" if target else ""
                raise EngineError(f"could not start or reach Ray{where} ({_first_line(e)})") from e
            self.started = True
        self.names = names
        self.cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.actors: list[Any] = []

    def _actors(self, n: int) -> list[Any]:
        remote = self.ray.remote(num_cpus=1)(Extractor)
        while len(self.actors) < n:
            self.actors.append(remote.remote(self.names))
        return self.actors[:n]

    def map(self, args: list[tuple], workers: int) -> Iterator[tuple]:
        """extract_one(*a) for each a, in order, on `workers` actors (at most one per cluster CPU)."""
        from ray.util import ActorPool

        pool = ActorPool(self._actors(max(1, min(workers, self.cpus, len(args)))))
        batches = [args[i : i + BATCH] for i in range(0, len(args), BATCH)]
        try:
            for results in pool.map(lambda actor, batch: actor.run.remote(batch), batches):
                yield from results
        except self.ray.exceptions.RayError as e:  # a node or actor lost: what finished is cached already
            raise EngineError(
                f"the Ray cluster failed during extraction ({_first_line(e)}); images done so far are cached: "
                "run the same command again to go on"
            ) from e

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
        if self.started:
            self.ray.shutdown()
