"""Composition (CLIP) and identity (dlib).

No model hub is reachable where these tests run, so the open_clip path runs a randomly initialised model
(pretrained=None, or a checkpoint of one saved in the test and given as --clip-weights) for shapes, batching,
caching and the skip/require paths; clustering, labelling and keep-selection run on synthetic embeddings with
known structure; identity runs the real dlib models on the real face photos of the sample dataset."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import PHOTOS, by_path, write_image
from PIL import Image

from curate.cache import FeatureCache
from curate.checks import Context, load_all, run_checks
from curate.derive.embeddings import allowed, aspect_profiles, choose_keep, complete_linkage
from curate.derive.identity import main_identity
from curate.extract import clip
from curate.extract.decode import Limits
from curate.model import Caption, Concept, ImageRecord, Spooled, StoredFeatures
from curate.rules import load_settings, resolve_base_model
from curate.spool import Spool

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")
pytestmark = pytest.mark.clip


def codes(report, name):
    return [f["code"] for f in by_path(report)[name]["findings"]]


# ---- the open_clip path, with random weights -------------------------------------------------------------


@pytest.fixture(scope="module")
def random_model():
    return clip.load_model(clip.ClipOptions(pretrained=None, device="cpu"))


def _record(path, sha, faces=None):
    concept = Concept("", None, "", ".txt", (1024, 1024), True, 256, 2048, False)
    rec = ImageRecord(path.name, str(path), path.stat().st_size, concept, Caption(None, None))
    rec.sha256 = sha
    with Image.open(path) as im:
        rec.features = {"image": {"width": im.width, "height": im.height}, "faces": faces}
    return rec


def test_random_clip_model_embeds_views_in_batches_and_caches_them(tmp_path, random_model, monkeypatch):
    paths = [PHOTOS / n for n in ("astronaut.jpg", "coffee.jpg", "rocket.jpg", "grace_hopper.jpg", "hubble.jpg")]
    face = {"faces": [{"box": [0.35, 0.15, 0.55, 0.4], "score": 1.2}]}
    recs = [_record(p, f"{i:064x}", face if i == 0 else None) for i, p in enumerate(paths)]
    cache = FeatureCache(tmp_path / "cache")
    loader = clip.Loader(clip.ClipOptions(pretrained=None), random_model)
    status = clip.embed_images(
        recs, cache, clip.ClipOptions(pretrained=None, batch_size=2), Limits(), 0.3, loader=loader
    )
    assert status["status"] == "ok" and status["embedded"] == 5 and status["model"] == "ViT-B-32@random-init"
    assert set(recs[0].features["clip"]["views"]) == {"full", "background", "person", "head"}
    assert set(recs[1].features["clip"]["views"]) == {"full"}  # no face: the whole picture only
    full = clip.decode_vector(recs[1].features["clip"]["views"]["full"])
    assert full.shape == (512,) and abs(float(np.linalg.norm(full)) - 1) < 1e-2
    # Batch size does not change the result (float16 storage aside).
    again = [_record(p, f"{i + 10:064x}") for i, p in enumerate(paths[1:3])]
    clip.embed_images(
        again, FeatureCache(None), clip.ClipOptions(pretrained=None, batch_size=16), Limits(), 0.3, loader=loader
    )
    assert np.allclose(clip.decode_vector(again[0].features["clip"]["views"]["full"]), full, atol=2e-3)
    # A second pass comes from the cache: nothing decoded, no model needed.
    for rec in recs:
        rec.features.pop("clip")
    monkeypatch.setattr(clip, "decode_image", lambda *a: pytest.fail("decoded an image on a warm cache"))
    status = clip.embed_images(
        recs,
        cache,
        clip.ClipOptions(pretrained=None),
        Limits(),
        0.3,
        loader=clip.Loader(clip.ClipOptions(pretrained=None)),
    )
    assert status["from_cache"] == 5 and status["embedded"] == 0
    assert recs[0].features["clip"]["views"]["head"]
    # Features an audit holds in its spool get the embeddings there too, not as values in memory
    spool = Spool()
    held = [_record(p, f"{i:064x}", face if i == 0 else None) for i, p in enumerate(paths)]
    for rec in held:
        rec.features = StoredFeatures.encoded(rec.features, spool)
    status = clip.embed_images(held, cache, clip.ClipOptions(pretrained=None), Limits(), 0.3, loader=loader)
    assert status["from_cache"] == 5
    fresh = [_record(p, f"{i + 20:064x}") for i, p in enumerate(paths[1:3])]
    for rec in fresh:
        rec.features = StoredFeatures.encoded(rec.features, spool)
    monkeypatch.undo()  # these two are embedded: decoded
    status = clip.embed_images(fresh, cache, clip.ClipOptions(pretrained=None), Limits(), 0.3, loader=loader)
    assert status["embedded"] == 2
    for rec, want in [*zip(held, recs), (fresh[0], recs[1])]:
        assert "clip" not in (rec.features._given or {}) and isinstance(rec.features._stored, Spooled)
        assert rec.features["clip"]["views"].keys() == want.features["clip"]["views"].keys()
    assert held[3].features["clip"] == recs[3].features["clip"]
    texts = clip.embed_texts(
        ["a photo of a classroom", "a photo of a beach"], cache, clip.ClipOptions(pretrained=None), loader
    )
    assert texts.shape == (2, 512)
    # and read back from the cache, with no model (a cached row once was never read: every audit loaded CLIP)
    no_model = clip.Loader(clip.ClipOptions(pretrained=None))
    monkeypatch.setattr(no_model, "get", lambda: pytest.fail("loaded the model for cached prompts"))
    again = clip.embed_texts(["a photo of a classroom", "a photo of a beach"], cache, no_model.opts, no_model)
    assert np.array_equal(again, texts)


def test_views_grey_out_the_person_and_crop_outfit_and_hair():
    with Image.open(PHOTOS / "grace_hopper.jpg") as im:
        im = im.convert("RGB")
    views = clip.views_of(im, [0.35, 0.23, 0.72, 0.55])
    assert views["person"].size[1] > views["head"].size[1] and views["person"].size[0] > views["head"].size[0]
    bg = np.asarray(views["background"])
    x, y = int(0.53 * im.width), int(0.5 * im.height)
    assert tuple(bg[y, x]) == (124, 116, 104)  # the face region is grey in the background view
    assert clip.views_of(im, None).keys() == {"full"}


def test_without_weights_the_clip_checks_are_skipped_with_one_line(tmp_path, run, audit_json):
    d = tmp_path / "d"
    write_image(d / "a.png", (768, 768))
    write_image(d / "b.png", (768, 768), name="coffee.jpg")
    t0 = time.monotonic()
    code, report = audit_json(d, "--offline")
    assert time.monotonic() - t0 < 60  # no network retries: --offline answers from the cache at once
    a = report["analyses"]["clip"]
    assert a["status"] == "skipped" and "--offline" in a["reason"] and "CPS001" in a["checks"]
    _, out, _ = run("audit", str(d), "--offline")
    assert "clip checks (" in out and "skipped" in out
    code, _, err = run("audit", str(d), "--offline", "--require-clip")
    assert code == 2 and "--require-clip" in err and len(err.strip().splitlines()) == 1
    code, _, err = run("audit", str(d), "--clip-weights", str(tmp_path / "missing.pt"))
    assert code == 2 and "--clip-weights: no such file" in err


def test_unreachable_hub_is_found_by_one_quick_probe():
    t0 = time.monotonic()
    why = clip._reachable("https://127.0.0.1:9")
    assert why and "unreachable" in why and time.monotonic() - t0 < clip.PROBE_TIMEOUT + 1


@pytest.mark.slow
def test_clip_weights_file_runs_the_composition_checks_and_caches_embeddings(tmp_path, random_model, run, audit_json):
    weights = tmp_path / "vit-b-32-random.pt"
    torch.save(random_model.model.state_dict(), weights)
    d = tmp_path / "d"
    for i, name in enumerate(["hubble.jpg", "coffee.jpg", "rocket.jpg", "motorcycle.jpg", "astronaut.jpg"]):
        write_image(d / f"{i}.png", (768, 768), name=name)
    _, report = audit_json(d, "--clip-weights", str(weights), "--require-clip")
    a = report["analyses"]["clip"]
    assert a["status"] == "ok" and a["model"].startswith("ViT-B-32@file-") and a["embedded"] == 5
    _, again = audit_json(d, "--clip-weights", str(weights), "--require-clip")
    assert again["analyses"]["clip"]["embedded"] == 0 and again["analyses"]["clip"]["from_cache"] == 5
    assert again["summary"]["extraction"]["decoded"] == 0


# ---- clustering, labels and keep-selection on synthetic embeddings ---------------------------------------

D = 64


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _bank(rng, n):
    common = _unit(rng.normal(size=D))
    return _unit(common * 2.0 + rng.normal(size=(n, D)) / np.sqrt(D))


def _image(rng, texts, label, margin=0.3):
    own = _unit(texts[label] - texts.mean(axis=0))
    return _unit(_unit(rng.normal(size=D)) * 0.3 + texts.mean(axis=0) + own * margin)


def test_complete_linkage_does_not_chain_and_is_deterministic():
    a, b, c = _unit(np.array([1.0, 0, 0])), _unit(np.array([1.0, 1.0, 0])), _unit(np.array([0.0, 1.0, 0]))
    v = np.stack([a, b, c])  # a~b and b~c at cos 0.71, a and c orthogonal
    assert complete_linkage(v, 0.7) == [[0, 1], [2]]
    assert complete_linkage(v, 0.7, order=[1, 0, 2]) == [[1, 0], [2]]
    assert allowed(15, 2, 0.0) == 2 and allowed(100, 3, 0.2) == 20


def _all_pairs_linkage(vectors, min_cosine, order):
    """The definition: visit rows in order; each unplaced row opens a cluster that every later unplaced row joins
    when it is alike with every member (the full matrix, as curate computed it before bounding memory)."""
    sims = vectors @ vectors.T
    placed, clusters = set(), []
    for i in order:
        if i in placed:
            continue
        members = [i]
        placed.add(i)
        for j in order:
            if j not in placed and all(sims[j, m] >= min_cosine for m in members):
                members.append(j)
                placed.add(j)
        clusters.append(members)
    return clusters


@pytest.mark.parametrize("seed", range(6))
def test_complete_linkage_and_near_pairs_equal_the_full_matrix(seed):
    from curate.derive import embeddings
    from curate.derive.embeddings import near_pairs

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 300))
    centres = rng.normal(size=(5, 8))
    v = _unit(centres[rng.integers(0, 5, n)] + rng.normal(scale=0.4, size=(n, 8))).astype(np.float32)
    order = rng.permutation(n).tolist()
    for t in (0.7, 0.9):
        assert complete_linkage(v, t, order) == _all_pairs_linkage(v, t, order)
        with pytest.MonkeyPatch.context() as small:  # candidates decided 3 at a time, placed rows dropped often
            small.setattr(embeddings, "JOIN_BLOCK", 3)
            small.setattr(embeddings, "DROP_PLACED_FROM", 5)
            assert complete_linkage(v, t, order) == _all_pairs_linkage(v, t, order)
        sims = v @ v.T
        want = [(i, j) for i in range(n) for j in range(i + 1, n) if sims[i, j] >= t]
        assert [(i, j) for i, j, _ in near_pairs(v, t, block=37)] == want


def test_keep_prefers_quality_then_difference():
    full = _unit(np.array([[1.0, 0, 0], [1.0, 0.05, 0], [0.2, 1.0, 0], [1.0, 0.1, 0.0]]))
    # 0 is best; 1 is nearly the same shot as 0, 2 is different: keep 0 and 2 even though 1 is sharper than 2.
    assert choose_keep([0, 1, 2, 3], [5.0, 4.0, 3.0, 1.0], full, 2) == [0, 2]


def _keep_one_by_one(members, quality, full, k):
    """choose_keep as first written: the definition the vectorised one is held to."""
    ranked = sorted(members, key=lambda i: (-quality[i], i))
    keep = ranked[:1]
    while len(keep) < min(k, len(ranked)):
        rest = [i for i in ranked if i not in keep]
        keep.append(min(rest, key=lambda i: (round(float(max(full[i] @ full[j] for j in keep)), 3), -quality[i], i)))
    return keep


@pytest.mark.parametrize("seed", range(6))
def test_keep_is_the_one_by_one_definition_and_bounded_past_diverse_keeps(seed, monkeypatch):
    from curate.derive import embeddings

    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 120))
    full = _unit(rng.normal(size=(m, 16)) + 2 * rng.normal(size=16)).astype(np.float16)  # alike, as a cluster is
    quality = rng.integers(0, 5, size=m).astype(float).tolist()  # many ties
    for k in (1, 2, 5, m // 2, m):
        want = _keep_one_by_one(range(m), quality, full.astype(np.float32), k)
        assert choose_keep(range(m), quality, full, k) == want
    # Past DIVERSE_KEEPS the rest are taken by quality, then index: the same first picks
    monkeypatch.setattr(embeddings, "DIVERSE_KEEPS", 3)
    got = choose_keep(range(m), quality, full, m)
    assert got[:3] == _keep_one_by_one(range(m), quality, full.astype(np.float32), 3)
    assert got[3:] == [i for i in sorted(range(m), key=lambda i: (-quality[i], i)) if i not in got[:3]]


def _synthetic_set(tmp_path, backgrounds, outfits, qualities, labels_bg, labels_out, seed=0):
    rng = np.random.default_rng(seed)
    t_bg, t_out = _bank(rng, len(labels_bg)), _bank(rng, len(labels_out))
    concept = Concept("", None, "", ".txt", (1024, 1024), True, 256, 2048, False)
    recs = []
    for i, (bg, out, q) in enumerate(zip(backgrounds, outfits, qualities)):
        views = {
            "full": _unit(rng.normal(size=D)),
            "background": _image(rng, t_bg, bg),
            "person": _image(rng, t_out, out),
            "head": _unit(rng.normal(size=D)),
        }
        rec = ImageRecord(f"c{i:02d}.jpg", str(tmp_path / f"c{i:02d}.jpg"), 1000, concept, Caption(None, None))
        rec.sha256 = f"{i:064x}"
        rec.features = {
            "image": {"width": q, "height": q},
            "faces": {"faces": []},
            "clip": {"model": "synthetic", "views": {k: clip.encode_vector(v) for k, v in views.items()}},
        }
        recs.append(rec)
    texts = {"background": (labels_bg, t_bg, "background"), "outfit": (labels_out, t_out, "person")}
    return recs, texts


def _run(recs, texts, profile="person", select=None):
    from curate.checks import Selection

    load_all()
    ctx = Context(
        load_settings(profile),
        resolve_base_model("sdxl"),
        dataset={"clip_texts": texts},
        selection=Selection(select or ("CPS",)),
    )
    return run_checks(recs, ctx)


def test_four_shots_in_one_classroom_keep_the_best_two_under_the_person_profile(tmp_path):
    labels_bg = ["classroom", "beach", "office", "forest", "kitchen", "street"]
    labels_out = ["school uniform", "suit", "dress", "hoodie"]
    backgrounds = [0, 0, 0, 0, 1, 2, 3, 4, 5]
    outfits = [0, 1, 2, 3, 0, 1, 2, 3, 1]
    qualities = [600, 1024, 900, 700, 1024, 1024, 1024, 1024, 1024]
    recs, texts = _synthetic_set(tmp_path, backgrounds, outfits, qualities, labels_bg, labels_out)
    for rec in recs[1:4]:  # four similar shots: diversity ties, so quality decides what is kept
        rec.features["clip"]["views"]["full"] = recs[0].features["clip"]["views"]["full"]
    findings, groups = _run(recs, texts)
    bg = [f for f in findings if f.code == "CPS001"]
    assert sorted(f.path for f in bg) == ["c00.jpg", "c03.jpg"]  # the two smallest of the four go
    assert all("'classroom'" in f.message and "allows 2" in f.message for f in bg)
    assert set(bg[0].evidence["keep"]) == {"c01.jpg", "c02.jpg"}
    outfit = [f for f in findings if f.code == "CPS002"]  # suit ×3 (c01, c05, c08): one goes
    assert len(outfit) == 1 and outfit[0].evidence["label"] == "suit"
    assert any(g.kind == "background-cluster" for g in groups)
    # In a large set a finding names a few of those kept and lists at most EVIDENCE_LISTED; the group lists all
    from curate.checks import composition

    with pytest.MonkeyPatch.context() as small:
        small.setattr(composition, "KEEPS_NAMED", 1)
        small.setattr(composition, "EVIDENCE_LISTED", 1)
        few, few_groups = _run(recs, texts)
    named = [f for f in few if f.code == "CPS001"]
    assert [f.path for f in named] == ["c00.jpg", "c03.jpg"]
    assert "keep c01.jpg and 1 more (listed in the group)" in named[0].message
    assert named[0].evidence["keep"] == ["c01.jpg"] and len(named[0].evidence["members"]) == 1
    assert named[0].evidence["cluster_size"] == 4 and named[0].evidence["allowed"] == 2
    bg_group = next(g for g in few_groups if g.kind == "background-cluster")
    assert len(bg_group.members) == 4 and bg_group.evidence["keep"] == ["c01.jpg", "c02.jpg"]
    # The general profile allows max(3, 20 %) = 3: four in one classroom is one too many.
    general, _ = _run(recs, texts, profile="general")
    assert len([f for f in general if f.code == "CPS001"]) == 1
    # Varied backgrounds: nothing to say.
    recs2, texts2 = _synthetic_set(
        tmp_path, [0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 0, 1], [1024] * 6, labels_bg, labels_out, seed=1
    )
    assert [f for f in _run(recs2, texts2)[0] if f.code == "CPS001"] == []


def test_the_views_are_read_a_block_at_a_time_with_the_same_findings(tmp_path, monkeypatch):
    """Composition turns view embeddings into profiles VIEWS_AT_ONCE at a time (a million pictures' views are 2 GB
    at float32): blocks of two give the findings one block gives."""
    from curate.checks import composition

    labels_bg = ["classroom", "beach", "office", "forest", "kitchen", "street"]
    labels_out = ["school uniform", "suit", "dress", "hoodie"]
    recs, texts = _synthetic_set(
        tmp_path, [0, 0, 0, 0, 1, 2, 3, 0, 5], [0, 1, 1, 3, 0, 1, 2, 1, 1], [1024] * 9, labels_bg, labels_out
    )
    want = _run(recs, texts)
    assert [f.code for f in want[0]].count("CPS001") == 3
    seen: list[int] = []
    profiles = composition.aspect_profiles
    monkeypatch.setattr(composition, "aspect_profiles", lambda v, t: seen.append(len(v)) or profiles(v, t))
    monkeypatch.setattr(composition, "VIEWS_AT_ONCE", 2)
    got = _run(recs, texts)
    assert max(seen) == 2 and sum(seen) == 18  # 9 pictures, two aspects, never more than two views at once
    assert [(f.code, f.path, f.message) for f in got[0]] == [(f.code, f.path, f.message) for f in want[0]]
    assert got[1] == want[1]


def test_semantic_duplicates_group_the_same_shot_but_leave_hash_duplicates_to_dup001(tmp_path):
    labels = ["a", "b", "c"]
    recs, texts = _synthetic_set(tmp_path, [0, 1, 2, 0], [0, 1, 2, 0], [1024, 800, 1024, 1024], labels, labels)
    shot = clip.decode_vector(recs[0].features["clip"]["views"]["full"])
    recs[1].features["clip"]["views"]["full"] = clip.encode_vector(_unit(shot + 0.05 * _unit(np.ones(D))))
    findings, groups = _run(recs, texts, select=("DUP003",))
    assert [(f.code, f.path, f.evidence["keep"]) for f in findings] == [("DUP003", "c01.jpg", "c00.jpg")]
    assert groups[0].kind == "semantic-duplicate"


@pytest.mark.parametrize("indexed", [False, True])
def test_from_spooled_from_the_vectors_are_spooled_with_the_same_findings(tmp_path, monkeypatch, indexed):
    """From SPOOLED_FROM pictures DUP003 and the composition keeps read the whole-picture vectors from a spool, not
    an array in memory (a million are 1 GB), compared all pairs a block against a block, or through the index: the
    same findings and groups."""
    from curate.derive import embeddings
    from curate.spool import SpooledRows

    if indexed:
        pytest.importorskip("faiss")
    labels_bg = ["classroom", "beach", "office", "forest", "kitchen", "street"]
    labels_out = ["school uniform", "suit", "dress", "hoodie"]
    n = 40
    rng = np.random.default_rng(5)
    recs, texts = _synthetic_set(
        tmp_path, rng.integers(0, 3, n).tolist(), rng.integers(0, 4, n).tolist(), rng.integers(600, 1100, n).tolist(),
        labels_bg, labels_out,
    )  # fmt: skip
    for k in range(0, n, 4):  # every fourth picture an edited copy of the one before it
        shot = clip.decode_vector(recs[k].features["clip"]["views"]["full"])
        edit = _unit(shot + rng.uniform(0.1, 0.4) * _unit(rng.normal(size=D)))
        recs[k + 1].features["clip"]["views"]["full"] = clip.encode_vector(edit)
    select = ("DUP003", "CPS")
    want = _run(recs, texts, select=select)
    assert sum(f.code == "DUP003" for f in want[0]) >= 3 and sum(f.code == "CPS001" for f in want[0]) >= 3
    spooled = []
    real = SpooledRows.append
    monkeypatch.setattr(SpooledRows, "append", lambda self, row: spooled.append(id(self)) or real(self, row))
    monkeypatch.setattr(embeddings, "SPOOLED_FROM", 2)
    monkeypatch.setattr(embeddings, "INDEXED_FROM", 2 if indexed else 10**9)
    got = _run(recs, texts, select=select)
    assert len(set(spooled)) >= 2  # DUP003's and at least one cluster's
    assert [(f.code, f.path, f.message) for f in got[0]] == [(f.code, f.path, f.message) for f in want[0]]
    assert got[1] == want[1]


def test_records_out_of_path_order_give_the_same_clusters(tmp_path):
    """Pictures are visited most confidently labelled first, ties by path: records in any order give the same."""
    from curate.checks.composition import _path_ranks

    labels_bg = ["classroom", "beach", "office", "forest", "kitchen", "street"]
    labels_out = ["school uniform", "suit", "dress", "hoodie"]
    rng = np.random.default_rng(8)
    recs, texts = _synthetic_set(
        tmp_path, rng.integers(0, 3, 30).tolist(), rng.integers(0, 4, 30).tolist(), [1024] * 30, labels_bg, labels_out
    )
    for rec in recs[::3]:  # ties: the same views as another picture
        rec.features["clip"]["views"] = recs[1].features["clip"]["views"]
    shuffled = [recs[i] for i in rng.permutation(len(recs))]
    assert _path_ranks(shuffled).tolist() == [int(r.path[1:3]) for r in shuffled]
    assert _path_ranks(recs).tolist() == list(range(30))
    want, got = _run(recs, texts), _run(shuffled, texts)
    assert sum(f.code == "CPS001" for f in want[0]) >= 3
    assert sorted((f.code, f.path, f.message) for f in got[0]) == sorted((f.code, f.path, f.message) for f in want[0])


def test_spooled_pairs_are_the_pairs_of_the_array():
    from curate.derive.embeddings import _spooled_pairs, near_pairs
    from curate.spool import SpooledRows

    v = _edited_shots(13, 500).astype(np.float16)
    rows = SpooledRows(v.shape[1])
    for row in v:
        rows.append(row)
    want = near_pairs(v, 0.95, indexed_from=10**9)
    got = _spooled_pairs(rows, 0.95, block=37)
    assert len(want) > 50 and [(i, j) for i, j, _ in got] == [(i, j) for i, j, _ in want]
    assert np.allclose([c for *_, c in got], [c for *_, c in want], rtol=0, atol=1e-6)
    assert [(i, j) for i, j, _ in near_pairs(rows, 0.95, indexed_from=10**9)] == [(i, j) for i, j, _ in got]


# ---- identity on real faces -------------------------------------------------------------------------------

faces_mod = pytest.importorskip("curate.extract.faces")


@pytest.mark.faces
@pytest.mark.skipif(faces_mod.available() is not None, reason="dlib / face models not installed")
def test_identity_on_real_faces(tmp_path, audit_json):
    d = tmp_path / "person"
    d.mkdir()
    with Image.open(PHOTOS / "astronaut.jpg") as im:
        astro = im.convert("RGB")
    with Image.open(PHOTOS / "grace_hopper.jpg") as im:
        hopper = im.convert("RGB")
    astro.save(d / "a1.png")
    astro.transpose(Image.FLIP_LEFT_RIGHT).save(d / "a2.png")
    astro.crop((60, 0, 460, 400)).resize((512, 512), Image.LANCZOS).save(d / "a3.png")
    astro.rotate(8, resample=Image.BICUBIC).save(d / "a4.png")
    hopper.save(d / "someone_else.png")
    pair = Image.new("RGB", (1024, 600), (128, 128, 128))
    pair.paste(astro, (0, 44))
    pair.paste(hopper.resize((512, 600)), (512, 0))
    pair.save(d / "two_people.png")
    with Image.open(PHOTOS / "coffee.jpg") as im:
        im.convert("RGB").save(d / "no_face.png")
    _, report = audit_json(d, "--profile", "person", "--select", "identity")
    assert codes(report, "someone_else.png") == ["IDN003"]
    f = by_path(report)["someone_else.png"]["findings"][0]
    assert f["evidence"]["distance"] > 0.6 and len(f["evidence"]["box"]) == 4
    assert codes(report, "two_people.png") == ["IDN002"]
    assert codes(report, "no_face.png") == ["IDN001"]
    for n in ("a1.png", "a2.png", "a3.png", "a4.png"):
        assert codes(report, n) == [], n
    # The general profile does not judge identity.
    _, general = audit_json(d, "--select", "identity")
    assert all(not img["findings"] for img in general["images"])


def test_main_identity_is_the_best_supported_face():
    rng = np.random.default_rng(0)
    me = rng.normal(size=128) * 0.1
    faces = np.stack([me + rng.normal(size=128) * 0.01 for _ in range(4)] + [me + 1.0])
    assert main_identity(faces, 0.6) in range(4)
    # Profiles are the label similarities, centred and L2-normalised: one-hot views give (2, -1, -1)/√6.
    profiles = aspect_profiles(np.eye(3), np.eye(3))
    assert np.allclose(profiles, (3 * np.eye(3) - 1) / np.sqrt(6))
    assert np.allclose(profiles @ profiles.T, 1.5 * np.eye(3) - 0.5)  # alike: 1; different labels: -0.5


def test_the_skip_path_does_not_import_torch(tmp_path):
    """Without weights, an audit stays fast: torch (seconds to import) is never loaded."""
    import subprocess
    import sys

    d = tmp_path / "d"
    write_image(d / "a.png", (512, 512))
    code = (
        "import sys; from typer.testing import CliRunner; from curate.cli import app; "
        f"r = CliRunner().invoke(app, ['audit', {str(d)!r}, '--offline', '--no-cache', '-q', '--fail-on', 'never']); "
        "print('torch' in sys.modules, r.exit_code)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["False", "0"], out.stderr[-2000:]


def test_a_dominant_dramatic_pose_and_no_plain_shot_are_reported(tmp_path):
    poses = ["standing", "arms raised", "sitting", "jumping"]
    recs, texts = _synthetic_set(
        tmp_path, [0, 1, 2, 3, 4, 5], [1, 1, 1, 1, 2, 3], [1024] * 6, ["a", "b", "c", "d", "e", "f"], poses
    )
    pose_only = {"pose": texts["outfit"]}
    findings, _ = _run(recs, pose_only, select=("CPS004", "CPS005"))
    by_code = {f.code: f for f in findings}
    assert by_code["CPS004"].evidence["label"] == "arms raised" and by_code["CPS004"].evidence["of"] == 6
    assert "CPS005" in by_code and by_code["CPS005"].path is None
    # One plain standing shot among them: CPS005 is satisfied; the general profile does not ask for it at all.
    recs2, texts2 = _synthetic_set(
        tmp_path, [0, 1, 2, 3, 4, 5], [0, 1, 1, 1, 2, 3], [1024] * 6, ["a", "b", "c", "d", "e", "f"], poses
    )
    assert "CPS005" not in {f.code for f in _run(recs2, {"pose": texts2["outfit"]}, select=("CPS005",))[0]}
    assert "CPS005" not in {f.code for f in _run(recs, pose_only, profile="general", select=("CPS005",))[0]}


def test_a_cluster_the_captions_never_name_is_said_with_the_words_to_add():
    from builders import record

    from curate.checks.composition import label_words, mentions
    from curate.model import Caption

    assert label_words("a photo of a woman wearing a red dress") == ["red", "dress"]
    named = record(cap=Caption("a.txt", "hanako woman, red dress, smiling"))
    unnamed = record(cap=Caption("a.txt", "hanako woman, smiling"))
    assert mentions(named, ["red", "dress"]) and not mentions(unnamed, ["red", "dress"])


def test_a_large_cluster_and_a_large_set_stay_in_bounded_memory(monkeypatch):
    """Rows that all match each other: the clusters are found without a candidates × candidates matrix (a block
    of JOIN_BLOCK joined at a time), and near_pairs takes fewer rows per block when N × block would pass COSINES_AT_ONCE — the same answers."""
    from curate.derive import embeddings
    from curate.derive.embeddings import near_pairs

    rng = np.random.default_rng(7)
    v = _unit(np.ones(8) + rng.normal(scale=0.05, size=(400, 8))).astype(np.float32)
    v[::50] = _unit(rng.normal(size=(8, 8)))  # a few that are not alike
    order = list(range(len(v)))
    shapes: list[tuple[int, ...]] = []
    real_matmul = np.ndarray.__matmul__

    class Watched(np.ndarray):
        def __matmul__(self, other):
            out = real_matmul(np.asarray(self), np.asarray(other))
            shapes.append(np.shape(out))
            return out

    monkeypatch.setattr(embeddings, "JOIN_BLOCK", 16)
    got = complete_linkage(v.view(Watched), 0.9, order)
    assert got == _all_pairs_linkage(v, 0.9, order) and max(len(c) for c in got) > 300
    # cosines with at most JOIN_BLOCK rows at a time, never a candidates × candidates block
    assert all(len(s) <= 1 or s[1] <= 16 for s in shapes) and any(len(s) == 2 for s in shapes)
    monkeypatch.undo()
    want = near_pairs(v, 0.9)
    monkeypatch.setattr(embeddings, "COSINES_AT_ONCE", 1000)  # 2 rows per block at N = 400
    got_pairs = near_pairs(v, 0.9)
    # the same pairs; the cosines equal to float32 rounding (BLAS may sum a 2-row block in another order than a
    # 400-row one: seen on an AMD EPYC, 0.9991849 against 0.9991850)
    assert [(i, j) for i, j, _ in got_pairs] == [(i, j) for i, j, _ in want]
    assert np.allclose([c for *_, c in got_pairs], [c for *_, c in want], rtol=0, atol=1e-6)


def _edited_shots(seed: int, n: int) -> np.ndarray:
    """CLIP-like whole-picture vectors: distinct shots (anisotropic, as CLIP's space is), half of them with edited
    copies at cosine ≈ 0.93–0.99 — pairs on both sides of DUP003's 0.95."""
    rng = np.random.default_rng(seed)
    d = 64
    base = _unit(rng.normal(size=(n // 2, d)) * np.linspace(0.2, 2.0, d))
    src = rng.integers(0, len(base), n - len(base))
    edits = base[src] + rng.uniform(0.1, 0.35, size=(len(src), 1)) * rng.normal(size=(len(src), d)) / np.sqrt(d)
    return _unit(np.concatenate([base, edits])).astype(np.float32)


def test_the_index_finds_the_pairs_all_pairs_find():
    """indexed_pairs against comparing all pairs on 3,000 edited shots: every pair found is a true pair (confirmed
    on its cosine), at least 99.9 % of them are found, and a rerun gives the same list."""
    pytest.importorskip("faiss")
    from curate.derive.embeddings import indexed_pairs, near_pairs

    v = _edited_shots(11, 3000)
    want = near_pairs(v, 0.95, indexed_from=10**9)
    got = indexed_pairs(v, 0.95)
    assert got is not None and len(want) > 500
    assert {(i, j) for i, j, _ in got} <= {(i, j) for i, j, _ in want}
    assert len(got) >= 0.999 * len(want)
    assert [(i, j) for i, j, _ in got] == sorted((i, j) for i, j, _ in got)
    assert all(abs(c - dict(((i, j), c2) for i, j, c2 in want)[(i, j)]) < 1e-5 for i, j, c in got)
    assert indexed_pairs(v, 0.95) == got
    assert near_pairs(v, 0.95, indexed_from=1000) == got  # from that many pictures, near_pairs takes the index
    # Half precision, as the cache keeps embeddings (DUP003 holds them so: 1 GB at a million): the same pairs as
    # those vectors in float32, both ways
    half = v.astype(np.float16)
    as_float = half.astype(np.float32)
    for found in (indexed_pairs(half, 0.95), near_pairs(half, 0.95, indexed_from=10**9)):
        assert [(i, j) for i, j, _ in found] == [(i, j) for i, j, _ in indexed_pairs(as_float, 0.95)]


def test_without_faiss_the_pairs_are_compared_all(monkeypatch):
    import builtins

    from curate.derive.embeddings import near_pairs

    real_import = builtins.__import__

    def no_faiss(name, *args, **kwargs):
        if name == "faiss":
            raise ImportError("No module named 'faiss'")
        return real_import(name, *args, **kwargs)

    v = _edited_shots(12, 400)
    want = near_pairs(v, 0.95, indexed_from=10**9)
    monkeypatch.setattr(builtins, "__import__", no_faiss)
    assert near_pairs(v, 0.95, indexed_from=10) == want and want
