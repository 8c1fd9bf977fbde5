"""The spine audit from 1,000 to 100,000 small pictures: cold and warm speed, and peak memory (issue 22).

Builds distinct pictures the way bench/hash_corpus.py does (random crops of the Debian wallpaper photographs,
160-px short side, 30 % with 1–3 labelled copies: resizes, JPEG, crops, colour shifts, recoloured objects), saved
as JPEG q90 with a caption each; the smaller sizes are hard links to the first N files of the largest. Then times
the real CLI in a subprocess with the spine's checks (`--select unreadable,resolution,DUP001,DUP002,caption`):
cold (an empty cache) and warm (the same command again: nothing decoded), with the JSON report written; peak =
the largest resident size among the audit and its workers.

    python bench/bench_scale.py --sizes 1000,10000,100000 [--jobs 2] [--add 1000]

`--add K`: after the largest size's warm audit, K more pictures (drawn like the others, copies included) are put
in its folder and the same command is timed again — a re-audit after adding pictures (their features are
extracted; the near-duplicate pairs among the others are kept from the last audit) — then they are removed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hash_corpus import _init, draw  # noqa: E402
from mark_assets import backgrounds  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPINE = "unreadable,resolution,DUP001,DUP002,caption"


def _save(seed: int, stem: Path) -> list[Path]:
    """The picture drawn with this seed and its copies as stem_0.jpg, stem_1.jpg, … with a caption each: the files."""
    made: list[Path] = []
    for c, (_, im) in enumerate(draw(seed)):
        picture = stem.with_name(f"{stem.name}_{c}.jpg")
        im.convert("RGB").save(picture, quality=90)
        picture.with_suffix(".txt").write_text("a photo", encoding="utf-8")
        made += [picture, picture.with_suffix(".txt")]
    return made


def _write(args: tuple[int, str]) -> int:
    pid, folder = args
    return len(_save(7 * 10**7 + pid, Path(folder) / f"{pid:06d}")) // 2


def build(folder: Path, n: int, jobs: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    have = len(list(folder.glob("*.jpg")))
    if have >= n:
        return
    done = {p.name.split("_")[0] for p in folder.glob("*.jpg")}
    todo = (pid for pid in range(10**6) if f"{pid:06d}" not in done)
    # The photographs fetched once, before the workers (fetching into a cold cache together they would clobber each
    # other's files), and in a process of its own: loading them grows this process, and a command it starts
    # inherits its peak resident size (ru_maxrss survives exec) — the audits timed below would report it as theirs.
    with Pool(1) as once:
        once.apply(backgrounds)
    with Pool(jobs, initializer=_init, initargs=("tuning",)) as pool:
        for made in pool.imap(_write, ((pid, str(folder)) for pid in todo), chunksize=64):
            have += made
            if have >= n:
                break


def subset(full: Path, n: int) -> Path:
    """A folder of hard links to the first n pictures of `full` (and their captions)."""
    out = full.parent / f"{full.name}_first{n}"
    if out.exists() and len(list(out.glob("*.jpg"))) == n:
        return out
    out.mkdir(exist_ok=True)
    for p in sorted(full.glob("*.jpg"))[:n]:
        for q in (p, p.with_suffix(".txt")):
            if not (out / q.name).exists():
                os.link(q, out / q.name)
    return out


def timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, int]:
    """Wall seconds and the peak resident size (MB) of the command and its waited-for children."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_maxrss // 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--folder", type=Path, default=ROOT / "bench" / "_work")
    ap.add_argument("--add", type=int, default=0, help="then add this many pictures and audit again")
    args = ap.parse_args()
    sizes = sorted(int(x) for x in args.sizes.split(","))
    full = args.folder / f"scale_{sizes[-1]}"
    t0 = time.perf_counter()
    build(full, sizes[-1], args.jobs)
    print(f"{sizes[-1]:,} pictures in {full} (built in {time.perf_counter() - t0:.0f} s); {args.jobs} workers; {SPINE}")
    print(f"{'pictures':>9} {'cold s':>8} {'cold /s':>8} {'warm s':>7} {'warm /s':>8} {'peak MB':>8}")
    for n in sizes:
        folder = subset(full, n) if n < sizes[-1] else full
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
            cmd = [sys.executable, "-m", "curate", "audit", str(folder), "--cache-dir", cache, "--select", SPINE]
            cmd += ["--json", str(Path(out) / "r.json"), "-q", "--jobs", str(args.jobs), "--fail-on", "never"]
            cold, peak_cold = timed(cmd)
            warm, peak_warm = timed(cmd)
            print(
                f"{n:>9,} {cold:>8.1f} {n / cold:>8.0f} {warm:>7.2f} {n / warm:>8.0f} {max(peak_cold, peak_warm):>8}",
                flush=True,
            )
            if args.add and n == sizes[-1]:
                added = add(folder, args.add)
                try:
                    again, peak = timed(cmd)
                finally:
                    for p in added:
                        p.unlink()
                print(f"{len(added) // 2:,} pictures added: re-audit {again:.1f} s (warm {warm:.1f} s), peak {peak} MB")


def add(folder: Path, k: int) -> list[Path]:
    """k or a few more new pictures (with their copies and captions) in `folder`, named added_*: the files made."""
    _init("tuning")
    made: list[Path] = []
    pid = 0
    while len(made) < 2 * k:
        made += _save(9 * 10**7 + pid, folder / f"added_{pid:06d}")
        pid += 1
    return made


if __name__ == "__main__":
    main()
