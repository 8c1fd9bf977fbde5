"""Composition and identity, measured: clustering on labelled synthetic embeddings, CLIP CPU throughput,
and face-descriptor distances on the real face photos available offline.

1. Clustering (curate/derive/embeddings.py, the code the checks run). No CLIP weights can be downloaded where curate
   is developed, so the aspect clustering is measured on synthetic embeddings with CLIP's geometry: a bank of
   label text vectors that are highly alike (cosine ≈ 0.8 between prompts, as CLIP's are), and image vectors
   whose cosine with their true label exceeds the other labels' by a margin Δ (real CLIP zero-shot margins for a
   correct label are a few hundredths: Δ = 0.03 already gives e^3 ≈ 20:1 odds at logit scale 100). Sets: 15-image
   person sets (the field notes' size) with a known repeated background (clusters of 6, 3, 2 and singletons),
   and 200-image general sets. Prints pairwise precision/recall of the clusters and precision/recall of the
   images flagged (over the allowed 2, or max(3, 20 %)) against the truth, per Δ, at the [composition]
   profile_min_cosine in rules/checks.toml and around it.
2. Throughput: open_clip ViT-B-32 (random weights: same cost as trained ones) on CPU at batch sizes 1–32,
   and the whole CLIP stage (decode, views, preprocess, encode) on 1024-px JPEGs.
3. Identity: dlib descriptors of the real faces in the bundled sample photos (astronaut, Grace Hopper) under
   edits (flip, crop, resize, JPEG, brightness, rotation): same-person vs different-person distances.

    python bench/eval_composition.py [--quick]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from curate.derive.embeddings import allowed, aspect_profiles, complete_linkage, label_probabilities  # noqa: E402
from curate.rules import load_settings  # noqa: E402

D = 512


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def text_bank(n_labels: int, rng) -> np.ndarray:
    """Label vectors with cosine ≈ 0.8 to each other (CLIP prompts of one template are that alike)."""
    common = unit(rng.normal(size=D))
    return unit(common[None, :] * 2.0 + rng.normal(size=(n_labels, D)) / np.sqrt(D))


def images_for(labels: list[int], texts: np.ndarray, margin: float, rng) -> np.ndarray:
    """Image vectors whose cosine with their own label beats the bank's mean by ≈ margin (plus noise)."""
    gap = unit(rng.normal(size=D))  # the image/text "modality gap" shared by all images
    out = []
    for c in labels:
        own = texts[c] - texts.mean(axis=0)
        own = own / np.linalg.norm(own)
        v = gap * 0.95 + texts.mean(axis=0) * 0.25 + rng.normal(size=D) / np.sqrt(D) * 0.5
        v = unit(v)
        # scale the label direction so that cos(v, t_c) − mean cos(v, t_other) ≈ margin
        v = unit(v + own * margin * 4.0)
        out.append(v)
    return np.stack(out)


def measured_margin(vectors, texts, labels) -> float:
    sims = vectors @ texts.T
    own = sims[np.arange(len(labels)), labels]
    others = (sims.sum(axis=1) - own) / (texts.shape[0] - 1)
    return float(np.mean(own - others))


def pair_scores(truth: list[int], clusters: list[list[int]]) -> tuple[int, int, int]:
    pred = {}
    for k, members in enumerate(clusters):
        for i in members:
            pred[i] = k
    tp = fp = fn = 0
    for i, j in combinations(range(len(truth)), 2):
        same_t, same_p = truth[i] == truth[j], pred[i] == pred[j]
        tp += same_t and same_p
        fp += same_p and not same_t
        fn += same_t and not same_p
    return tp, fp, fn


def flagged(truth_or_clusters, limit: int, from_truth: bool) -> set[int]:
    """Images over the limit (the first `limit` of each group are kept; which ones does not matter here)."""
    groups: dict[int, list[int]] = {}
    if from_truth:
        for i, c in enumerate(truth_or_clusters):
            groups.setdefault(c, []).append(i)
        groups_list = list(groups.values())
    else:
        groups_list = truth_or_clusters
    return {i for g in groups_list if len(g) > limit for i in g}


def clustering(quick: bool) -> None:
    settings = load_settings()
    t_default = float(settings.get("composition", "profile_min_cosine"))
    bank = len(settings.data["prompts"]["background"]["labels"])
    trials = 10 if quick else 40
    print(f"## 1. Aspect clustering on synthetic embeddings ({bank}-label bank, {trials} sets per row)\n")
    print("| set | Δ (measured) | threshold | pair precision | pair recall | flagged precision | flagged recall |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, n, sizes in (("person, 15", 15, [6, 3, 2, 1, 1, 1, 1]), ("general, 200", 200, None)):
        for margin in (0.01, 0.02, 0.03, 0.05):
            for t in sorted({t_default - 0.1, t_default, t_default + 0.1}):
                tp = fp = fn = 0
                ftp = ffp = ffn = 0
                deltas = []
                for trial in range(trials):
                    rng = np.random.default_rng(1000 * trial + int(margin * 1000))
                    texts = text_bank(bank, rng)
                    if sizes:
                        picks = rng.permutation(bank)[: len(sizes)]
                        truth = [int(picks[k]) for k, s in enumerate(sizes) for _ in range(s)]
                    else:
                        weights = rng.dirichlet(np.ones(bank) * 0.5)
                        truth = [int(x) for x in rng.choice(bank, size=n, p=weights)]
                    vectors = images_for(truth, texts, margin, rng)
                    deltas.append(measured_margin(vectors, texts, truth))
                    probs = label_probabilities(vectors, texts)
                    order = sorted(range(n), key=lambda i: -float(probs[i].max()))
                    clusters = complete_linkage(aspect_profiles(vectors, texts), t, order)
                    a, b, c = pair_scores(truth, clusters)
                    tp, fp, fn = tp + a, fp + b, fn + c
                    limit = allowed(n, 2, 0.0) if sizes else allowed(n, 3, 0.2)
                    want, got = flagged(truth, limit, True), flagged(clusters, limit, False)
                    ftp, ffp, ffn = ftp + len(want & got), ffp + len(got - want), ffn + len(want - got)
                mark = " (default)" if abs(t - t_default) < 1e-9 else ""
                print(
                    f"| {kind} | {margin:.2f} ({statistics.mean(deltas):.3f}) | {t:.2f}{mark} | "
                    f"{tp / max(tp + fp, 1):.2f} | {tp / max(tp + fn, 1):.2f} | "
                    f"{ftp / max(ftp + ffp, 1):.2f} | {ftp / max(ftp + ffn, 1) if ftp + ffn else 1:.2f} |"
                )
    print()


def throughput(quick: bool) -> None:
    import torch

    from curate.cache import FeatureCache
    from curate.extract.clip import ClipOptions, Loader, embed_images, load_model
    from curate.extract.decode import Limits

    loaded = load_model(ClipOptions(pretrained=None, device="cpu"))  # the stage's own loader: its threads
    model = loaded.model
    print(f"## 2. CLIP throughput on CPU ({torch.get_num_threads()} threads, torch {torch.__version__})\n")
    print("| batch | images/s (encode only) |")
    print("|---:|---:|")
    for batch in (1, 8, 16, 32):
        x = torch.randn(batch, 3, 224, 224)
        with torch.no_grad():
            model.encode_image(x)
            reps = 2 if quick else 4
            t0 = time.perf_counter()
            for _ in range(reps):
                model.encode_image(x)
        print(f"| {batch} | {batch * reps / (time.perf_counter() - t0):.1f} |")

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from photos import photo_at, real_photos

    from curate.model import Caption, Concept, ImageRecord

    n = 32 if quick else 64
    photos = [im for _, im in real_photos(split_large=False)]
    with tempfile.TemporaryDirectory() as tmp:
        recs = []
        concept = Concept("", None, "", ".txt", (1024, 1024), True, 256, 2048, False)
        for i in range(n):
            p = Path(tmp) / f"{i:03d}.jpg"
            photo_at(photos[i % len(photos)], (1024, 1024)).save(p, "JPEG", quality=90)
            rec = ImageRecord(p.name, str(p), p.stat().st_size, concept, Caption(None, None))
            rec.sha256 = f"{i:064x}"
            rec.features = {"image": {"width": 1024, "height": 1024}}
            recs.append(rec)
        loader = Loader(ClipOptions(pretrained=None), loaded)
        for label, faces in (
            ("whole picture only (no face found)", None),
            ("four views (a face found)", {"faces": [{"box": [0.4, 0.2, 0.6, 0.4], "score": 1.0}]}),
        ):
            for rec in recs:
                rec.features.pop("clip", None)
                rec.features["faces"] = faces
            cache = FeatureCache(None)
            t0 = time.perf_counter()
            status = embed_images(recs, cache, ClipOptions(pretrained=None), Limits(), 0.3, loader=loader)
            dt = time.perf_counter() - t0
            print(f"\nwhole CLIP stage, {n} 1024-px JPEGs, {label}: {n / dt:.1f} images/s ({status['status']})")
            t0 = time.perf_counter()
            embed_images(recs, cache, ClipOptions(pretrained=None), Limits(), 0.3, loader=loader)
            print(f"  again from the cache: {(time.perf_counter() - t0) * 1000:.0f} ms for {n} images")
    print()


def identity() -> None:
    from PIL import Image, ImageEnhance

    from curate.extract import faces
    from curate.extract.decode import Limits, decode_image

    if faces.available():
        print(f"## 3. Identity: skipped — {faces.available()}")
        return
    sample = ROOT / "sample_datasets" / "lora_data" / "10_pdphoto photo"
    people = {"astronaut": sample / "astronaut.jpg", "grace_hopper": sample / "grace_hopper.jpg"}
    edits = {
        "original": lambda im: im,
        "mirrored": lambda im: im.transpose(Image.FLIP_LEFT_RIGHT),
        "crop 80 %": lambda im: im.crop((im.width // 10, im.height // 10, im.width * 9 // 10, im.height * 9 // 10)),
        "half size": lambda im: im.resize((im.width // 2, im.height // 2), Image.LANCZOS),
        "darker": lambda im: ImageEnhance.Brightness(im).enhance(0.6),
        "rotated 10°": lambda im: im.rotate(10, resample=Image.BICUBIC, expand=True),
        "JPEG q30": None,
    }
    descriptors: list[tuple[str, str, np.ndarray]] = []
    missed = []
    for person, path in people.items():
        with Image.open(path) as im0:
            im0 = im0.convert("RGB")
        for name, edit in edits.items():
            buf = io.BytesIO()
            (im0 if edit is None else edit(im0)).save(buf, "JPEG", quality=30 if edit is None else 92)
            f = faces.compute(decode_image(buf.getvalue(), Limits()))
            good = [x for x in f["faces"] if x["score"] >= 0.3 and "descriptor" in x]
            if not good:
                missed.append(f"{person}/{name}")
                continue
            descriptors.append((person, name, np.asarray(good[0]["descriptor"])))
    same, diff = [], []
    for (p1, _, d1), (p2, _, d2) in combinations(descriptors, 2):
        (same if p1 == p2 else diff).append(float(np.linalg.norm(d1 - d2)))
    print("## 3. Identity: dlib descriptors of the real faces in the sample photos under edits\n")
    print(f"faces found: {len(descriptors)} of {len(people) * len(edits)} (missed: {', '.join(missed) or 'none'})")
    print(
        f"same person: {len(same)} pairs, distance {min(same):.3f}–{max(same):.3f} (median {statistics.median(same):.3f})"
    )
    print(
        f"different people: {len(diff)} pairs, distance {min(diff):.3f}–{max(diff):.3f} "
        f"(median {statistics.median(diff):.3f})"
    )
    print(
        f"at 0.6: same-person pairs called different {sum(d > 0.6 for d in same)}/{len(same)}, "
        f"different-person pairs called same {sum(d <= 0.6 for d in diff)}/{len(diff)}"
    )
    t0 = time.perf_counter()
    with Image.open(people["grace_hopper"]) as im:
        buf = io.BytesIO()
        im.convert("RGB").resize((1024, 1200)).save(buf, "JPEG", quality=90)
    d = decode_image(buf.getvalue(), Limits())
    for _ in range(5):
        faces.compute(d)
    print(f"faces extractor on a 1024×1200 portrait, one core: {(time.perf_counter() - t0) * 200:.0f} ms per image")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer trials and repetitions")
    ap.add_argument("--only", choices=("clustering", "throughput", "identity"))
    a = ap.parse_args()
    if a.only in (None, "clustering"):
        clustering(a.quick)
    if a.only in (None, "throughput"):
        throughput(a.quick)
    if a.only in (None, "identity"):
        identity()


if __name__ == "__main__":
    main()
