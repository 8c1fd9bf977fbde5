"""Throughput of --engine ray against the local engine, on the same cores.

Builds N distinct 1024×1024 JPEGs from real photos (bench/bench_audit.py's builder), then audits them cold (an
empty feature cache each time) with every default check:
  * local: the process pool (--jobs J),
  * ray, two nodes: a Ray cluster of two nodes on this machine (J/2 CPUs each), started before timing (as a
    real cluster would be), J actors,
  * ray, started by the audit: no address, so the audit starts a Ray instance and stops it (start-up included).
Reports images/s and the Ray runs' share of the local throughput. Findings are compared too (they must match).

    python bench/bench_ray.py --n 200 --jobs 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_audit import build  # noqa: E402

from curate.audit import AuditOptions, run_audit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def audit(folder: Path, jobs: int, **engine) -> tuple[float, list]:
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        result = run_audit(AuditOptions(root=folder, jobs=jobs, cache_dir=Path(cache), **engine))
        took = time.perf_counter() - t0
    return took, sorted((f.path or "", f.code, f.message) for f in result.findings)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--folder", type=Path, default=ROOT / "bench" / "_work")
    args = ap.parse_args()
    folder = args.folder / f"jpeg1024_{args.n}"
    build(folder, args.n)
    import ray
    from ray.cluster_utils import Cluster

    local, want = audit(folder, args.jobs)
    print(f"{args.n} JPEGs 1024×1024, every default check, {args.jobs} workers, cold cache")
    print(f"  local engine:              {local:6.1f} s  {args.n / local:6.1f} images/s")
    half = max(1, args.jobs // 2)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": half, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=args.jobs - half)
        cluster.wait_for_nodes()
        took, got = audit(folder, args.jobs, engine="ray", ray_address=cluster.address)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
    print(
        f"  ray, two-node cluster:     {took:6.1f} s  {args.n / took:6.1f} images/s "
        f"({local / took:.0%} of local; findings {'identical' if got == want else 'DIFFER'})"
    )
    took, got = audit(folder, args.jobs, engine="ray")
    print(
        f"  ray, started by the audit: {took:6.1f} s  {args.n / took:6.1f} images/s "
        f"({local / took:.0%} of local; findings {'identical' if got == want else 'DIFFER'})"
    )


if __name__ == "__main__":
    main()
