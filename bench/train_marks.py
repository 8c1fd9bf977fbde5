"""Train the mark detector (curate/extract/overlay.py) from licensed synthetic data, export it to ONNX, measure it.

    pip install -e '.[bench]' cairosvg onnx       # torch comes with the [clip] extra
    python bench/train_marks.py                   # data (cached), training, export, figures: ~1 h on 2 cores
    CURATE_MARK_PHOTOS_RELEASE=2 python bench/train_marks.py --out DIR   # backgrounds from the photo corpus's
                                                  # second release (bench/mark_assets.photos_release)

Steps (each cached in $CURATE_MARK_WORK, default ~/.cache/curate/mark-work, keyed by the recipe):
  1. data: `bench/mark_data.py` draws TRAIN_N pictures from the tuning split's ingredients (seeds 0…), TUNE_N more
     from the tuning split with other seeds (to choose thresholds), and VALID_N from the validation split (logos,
     fonts, objects and photographs the training never saw), balanced over kinds;
  2. train: the network below from random initialisation (no downloaded weights), AdamW, EPOCHS epochs, seed SEED,
     on the CPU;
  3. export: ONNX (opset 17, input "image" 1×3×384×384 in 0–1, output "logits" 1×1×48×48) into curate/data/, with
     the model card curate/data/mark_detector.json (recipe, seed, data, figures);
  4. figures: per kind and opacity band on the validation split, at thresholds chosen on the tuning draw.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mark_assets  # noqa: E402
import mark_data  # noqa: E402

from curate.extract.overlay import CARD_FILE, GRID, INPUT, MODEL_FILE  # noqa: E402

SEED = 1
TRAIN_N = 16000
TUNE_N = 1200
VALID_N = 2400
EPOCHS = 5
BATCH = 32
FULL_COVER = 0.15  # a cell whose mark coverage reaches this is a positive cell (target 1); less: proportionally
RECIPE = dict(seed=SEED, train_n=TRAIN_N, tune_n=TUNE_N, valid_n=VALID_N, epochs=EPOCHS, batch=BATCH, version=2)


def work_dir() -> Path:
    return Path(os.environ.get("CURATE_MARK_WORK", Path.home() / ".cache" / "curate" / "mark-work"))


def _data_key() -> str:
    release = mark_assets.photos_release()  # backgrounds from another corpus release: other data
    return f"v{mark_data.DATA_VERSION}" + (f"-photos{release}" if release != 1 else "")


def _one(args: tuple[str, int, str | None]):
    split, seed, kind = args
    s = mark_data.sample(split, seed, kind)
    return s.image, s.cover, s.kind, s.opacity


def build(name: str, split: str, seeds: range, kinds: list[str | None], jobs: int) -> dict[str, np.ndarray]:
    """Draw (or load) one data set: images N×384×384×3 uint8 (memory-mapped), cover N×48×48, kind, opacity."""
    folder = work_dir() / f"data-{_data_key()}" / name
    if (folder / "done").exists():
        return {
            "images": np.load(folder / "images.npy", mmap_mode="r"),
            "cover": np.load(folder / "cover.npy"),
            "kind": np.load(folder / "kind.npy"),
            "opacity": np.load(folder / "opacity.npy"),
        }
    folder.mkdir(parents=True, exist_ok=True)
    n = len(seeds)
    images = np.lib.format.open_memmap(folder / "images.npy", "w+", np.uint8, (n, INPUT, INPUT, 3))
    cover = np.zeros((n, GRID, GRID), np.float32)
    kind = np.empty(n, dtype="U16")
    opacity = np.zeros(n, np.float32)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(jobs) as ex:
        args = [(split, s, kinds[i % len(kinds)]) for i, s in enumerate(seeds)]
        for i, (im, cv, k, op) in enumerate(ex.map(_one, args, chunksize=16)):
            images[i], cover[i], kind[i], opacity[i] = im, cv, k, op
            if i % 2000 == 1999:
                print(f"  {name}: {i + 1}/{n} in {time.perf_counter() - t0:.0f} s", flush=True)
    images.flush()
    np.save(folder / "cover.npy", cover)
    np.save(folder / "kind.npy", kind)
    np.save(folder / "opacity.npy", opacity)
    (folder / "done").write_text("")
    return build(name, split, seeds, kinds, jobs)


def evaluation_draws(jobs: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The tuning draw (thresholds) and the validation draw (figures), balanced over kinds; their predictions
    (pred-tune.npy, pred-valid.npy) are row for row these."""
    balanced: list[str | None] = list(mark_data.POSITIVE) + list(mark_data.NEGATIVE)
    tune = build("tune", "tuning", range(10**6, 10**6 + TUNE_N), balanced, jobs)
    valid = build("valid", "validation", range(VALID_N), balanced, jobs)
    return tune, valid


def network():
    import torch
    from torch import nn

    def conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
        )

    class MarkNet(nn.Module):
        """An encoder to 1/32 with a two-step decoder back to 1/8 (the output grid), and the picture's mean
        features beside every cell: context from the whole picture (a mark is what floats over the scene) with
        8-px cells for small corner marks."""

        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(conv(3, 16, 2), conv(16, 32, 2))  # 1/4
            self.s8 = nn.Sequential(conv(32, 48, 2), conv(48, 48))  # 1/8
            self.s16 = nn.Sequential(conv(48, 64, 2), conv(64, 64))  # 1/16
            self.s32 = nn.Sequential(conv(64, 96, 2), conv(96, 96))  # 1/32
            self.up16 = conv(96 + 96 + 64, 64)
            self.up8 = conv(64 + 48, 48)
            self.out = nn.Conv2d(48, 1, 1)

        def forward(self, x):
            x = (x - 0.5) / 0.25
            a8 = self.s8(self.stem(x))
            a16 = self.s16(a8)
            a32 = self.s32(a16)
            # the whole picture's summary beside every cell: a large faint mark is flat inside, and only the
            # picture as a whole says it floats over the scene
            context = a32.mean(dim=(2, 3), keepdim=True).expand(-1, -1, a16.shape[2], a16.shape[3])
            u16 = self.up16(torch.cat([nn.functional.interpolate(a32, scale_factor=2.0), context, a16], 1))
            u8 = self.up8(torch.cat([nn.functional.interpolate(u16, scale_factor=2.0), a8], 1))
            return self.out(u8)

    return MarkNet()


def _targets(cover: np.ndarray) -> np.ndarray:
    return np.minimum(1.0, cover / FULL_COVER)


def train(data: dict[str, np.ndarray], epochs: int, log) -> object:
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(os.cpu_count() or 1)
    net = network()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    n = len(data["kind"])
    steps = epochs * (n // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    rng = np.random.default_rng(SEED)
    positive = np.isin(data["kind"], mark_data.POSITIVE).astype(np.float32)
    targets = _targets(data["cover"])
    step = 0
    t0 = time.perf_counter()
    # Large marks (centre, diagonal) are the hardest and a seventh of the draw: drawn twice as often.
    weight = np.where(np.isin(data["kind"], ("centre", "diagonal")), 2.0, 1.0)
    for epoch in range(epochs):
        net.train()
        order = rng.choice(n, size=n, replace=True, p=weight / weight.sum())
        total = 0.0
        for b in range(n // BATCH):
            idx = np.sort(order[b * BATCH : (b + 1) * BATCH])
            x = torch.from_numpy(np.ascontiguousarray(data["images"][idx])).permute(0, 3, 1, 2).float() / 255
            total += train_step(net, opt, sched, rng, x, targets[idx], positive[idx])
            step += 1
            if step % 100 == 0:
                log(
                    f"epoch {epoch + 1} step {step}/{steps} loss {total / (b + 1):.4f} ({time.perf_counter() - t0:.0f} s)"
                )
    return net


def train_step(net, opt, sched, rng: np.random.Generator, x, cover: np.ndarray, positive: np.ndarray) -> float:
    """One optimiser step on a batch (x: N × C × H × W tensor; cover: N × GRID × GRID cell targets; positive: N
    picture labels), each picture mirrored left-right at random; the loss's value. Shared with
    bench/train_text_marks.py."""
    import torch

    t = torch.from_numpy(cover)[:, None]
    y = torch.from_numpy(positive)
    flip = torch.from_numpy(rng.random(len(positive)) < 0.5)
    x[flip] = x[flip].flip(-1)
    t[flip] = t[flip].flip(-1)
    logits = net(x)
    cell = torch.nn.functional.binary_cross_entropy_with_logits(logits, t)
    # the picture's score is its strongest cell: trained directly too, so a negative has no hot cell anywhere
    pooled = logits.flatten(1).max(dim=1).values
    image = torch.nn.functional.binary_cross_entropy_with_logits(pooled, y)
    loss = cell * 4 + image
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    return float(loss.detach())


def export(net, path: Path) -> None:
    import torch

    net.eval()
    dummy = torch.zeros(1, 3, INPUT, INPUT)
    torch.onnx.export(
        net, (dummy,), str(path), input_names=["image"], output_names=["logits"], opset_version=17, dynamo=False
    )


def predict(path: Path, images: np.ndarray) -> np.ndarray:
    """GRID × GRID probabilities for each image, with onnxruntime as the audit runs it (batched here for speed)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = np.zeros((len(images), GRID, GRID), np.float32)
    for i in range(len(images)):
        x = images[i : i + 1].astype(np.float32).transpose(0, 3, 1, 2) / 255
        out[i] = 1 / (1 + np.exp(-sess.run(None, {"image": x})[0][0, 0]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--train-n", type=int, default=TRAIN_N)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "curate" / "data")
    args = ap.parse_args()
    work = work_dir()
    work.mkdir(parents=True, exist_ok=True)
    log_file = (work / "train.log").open("a")

    def log(msg: str) -> None:
        print(msg, flush=True)
        log_file.write(msg + "\n")
        log_file.flush()

    t0 = time.perf_counter()
    train_set = build(f"train-{args.train_n}", "tuning", range(args.train_n), [None], args.jobs)
    tune_set, valid_set = evaluation_draws(args.jobs)
    log(f"data ready in {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    net = train(train_set, args.epochs, log)
    train_s = time.perf_counter() - t0
    log(f"trained in {train_s:.0f} s")
    model = work / MODEL_FILE
    export(net, model)
    import torch

    torch.save(net.state_dict(), work / "mark_detector.pt")
    figures = {}
    for name, ds in (("tune", tune_set), ("valid", valid_set)):
        p = predict(model, ds["images"])
        np.save(work / f"pred-{name}.npy", p)
        figures[name] = summarise(p, ds)
        log(f"{name}: {json.dumps(figures[name])}")
    out_model = args.out / MODEL_FILE
    out_model.write_bytes(model.read_bytes())
    card = {
        "version": f"marknet-{RECIPE['version']}-{hashlib.sha256(model.read_bytes()).hexdigest()[:8]}",
        "recipe": "python bench/train_marks.py",
        **{k: v for k, v in RECIPE.items() if k != "version"},
        "train_n": args.train_n,
        "epochs": args.epochs,
        "training_seconds": round(train_s),
        "input": [3, INPUT, INPUT],
        "grid": GRID,
        "data": "bench/mark_data.py (sources and licences: bench/DATA-LICENCES.md)",
        # share of pictures whose strongest cell reaches 0.5, per kind (the thresholds the checks use are chosen
        # afterwards by bench/eval_mark_detector.py; its figures are in docs/benchmarks.md)
        "picture_rate_at_0.5": figures,
    }
    (args.out / CARD_FILE).write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    log(f"wrote {out_model} ({out_model.stat().st_size // 1024} KB) and {args.out / CARD_FILE}")


def summarise(p: np.ndarray, ds: dict[str, np.ndarray], threshold: float = 0.5) -> dict[str, float]:
    """Share of pictures whose strongest cell reaches `threshold`, per kind (recall for marks, false positives for
    negatives)."""
    score = p.reshape(len(p), -1).max(axis=1)
    out = {}
    for k in sorted(set(ds["kind"].tolist())):
        sel = ds["kind"] == k
        out[k] = round(float((score[sel] >= threshold).mean()), 3)
    return out


if __name__ == "__main__":
    main()
