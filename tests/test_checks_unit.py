"""Each check as a pure function over synthetic features (no image is opened)."""

from __future__ import annotations

import pytest
from builders import concept, ctx, hx, record

from curate.checks import Context, Selection, duplicate, load_all, resolution, run_checks, unreadable
from curate.checks import caption as caption_check
from curate.checks.registry import run_one
from curate.decide import exit_code, verdict
from curate.model import Caption, Finding
from curate.rules import load_settings, resolve_base_model

load_all()


def found(gen) -> list[Finding]:
    return [f for f in gen if isinstance(f, Finding)]


@pytest.mark.parametrize(
    "w, h, expected",
    [
        (1024, 1024, []),
        (1216, 832, []),
        (4000, 3000, []),
        (1000, 1000, []),
        (832, 832, ["RES002"]),
        (900, 800, ["RES002"]),
        (512, 512, ["RES001"]),
        (640, 480, ["RES001"]),
    ],
)
def test_resolution_thresholds(w, h, expected):
    assert [f.code for f in found(run_one(resolution.check, record(w=w, h=h), ctx()))] == expected


def test_resolution_evidence_states_the_factor():
    (f,) = found(run_one(resolution.check, record(w=512, h=512), ctx()))
    assert f.evidence["upscale"] == 2.0 and f.evidence["bucket"] == [1024, 1024]
    assert "2.00×" in f.message and f.severity == "error"


def test_resolution_follows_the_concept_target():
    assert found(run_one(resolution.check, record(w=512, h=512, conc=concept(res=512)), ctx())) == []


def test_style_profile_is_stricter():
    rec = record(w=800, h=800)  # 1.28× to 1024
    assert [f.code for f in found(run_one(resolution.check, rec, ctx()))] == ["RES002"]
    assert [f.code for f in found(run_one(resolution.check, rec, ctx("style")))] == ["RES001"]


def test_no_upscale_reports_the_smaller_bucket():
    (f,) = found(run_one(resolution.check, record(w=512, h=512, conc=concept(no_upscale=True)), ctx()))
    assert f.code == "RES001" and "bucket_no_upscale" in f.message and f.evidence["bucket"] == [512, 512]


def test_thin_strips_and_extreme_aspects():
    got = [f.code for f in found(run_one(resolution.check, record(w=3000, h=200), ctx()))]
    assert "RES003" in got and "RES004" in got


def test_without_buckets_every_image_is_cropped_square():
    got = found(run_one(resolution.check, record(w=1536, h=1024, conc=concept(bucket=False)), ctx()))
    assert [f.code for f in got] == ["RES004"] and got[0].evidence["crop_fraction"] == pytest.approx(0.333, abs=0.01)


def test_unreadable_messages():
    for kind, code, words in [
        ("empty", "UNR001", "empty"),
        ("not-an-image", "UNR002", "not an image"),
        ("truncated", "UNR003", "truncated"),
        ("corrupt", "UNR004", "corrupt"),
        ("pixel-limit", "UNR005", "decompression-bomb"),
        ("timeout", "UNR006", "longer than"),
        ("too-large", "UNR006", "limit"),
    ]:
        (f,) = found(
            run_one(
                unreadable.check,
                record(error={"kind": kind, "limit_pixels": 1, "limit_seconds": 30, "limit_bytes": 10}),
                ctx(),
            )
        )
        assert f.code == code and words in f.message and f.severity == "error"


def test_kohya_format_and_animation():
    rec = record(path="10_x/a.gif", fmt="GIF", frames=3)
    assert [f.code for f in found(run_one(unreadable.check, rec, ctx()))] == ["UNR007", "UNR008"]
    assert found(run_one(unreadable.check, record(path="10_x/a.webp", fmt="WEBP"), ctx())) == []


def test_captions():
    c = ctx()
    missing = record(cap=Caption(None, None))
    (f,) = found(run_one(caption_check.check, missing, c))
    assert f.code == "CAP001" and "hanako woman" in f.message
    wrong_ext = record(cap=Caption(None, None, None, (".caption",)))
    (f,) = found(run_one(caption_check.check, wrong_ext, c))
    assert f.code == "CAP003" and f.severity == "error" and "a.caption will be ignored" in f.message
    (f,) = found(run_one(caption_check.check, record(cap=Caption("a.txt", "  \n")), c))
    assert f.code == "CAP002"
    (f,) = found(run_one(caption_check.check, record(cap=Caption("a.txt", None, "not-utf8")), c))
    assert f.code == "CAP006" and f.severity == "error"
    assert found(run_one(caption_check.check, record(), c)) == []
    orphans = found(run_one(caption_check.check_orphans, [], ctx(orphan_captions=["x/gone.txt"])))
    assert [(f.code, f.path) for f in orphans] == [("CAP004", "x/gone.txt")]


def test_exact_duplicates_same_bytes_and_same_pixels():
    a = record("10_x/a.png", sha="a" * 64, pixel="p1")
    b = record("10_x/b.png", sha="a" * 64, pixel="p1", cap=Caption(None, None))
    c = record("10_x/c.jpg", sha="c" * 64, pixel="p1", fmt="JPEG", phash=hx(0xFFFF), dhash=hx(0xFFFF))
    out = list(run_one(duplicate.check, [b, a, c], ctx()))
    fs = [o for o in out if isinstance(o, Finding)]
    groups = [o for o in out if not isinstance(o, Finding)]
    assert len(groups) == 1 and groups[0].kind == "exact-duplicate" and groups[0].keep == "10_x/a.png"
    assert sorted((f.path, f.code, f.evidence["same"]) for f in fs) == [
        ("10_x/b.png", "DUP001", "bytes"),
        ("10_x/c.jpg", "DUP001", "pixels"),
    ]


def test_near_duplicates_keep_the_largest_and_respect_both_thresholds():
    big = record("10_x/big.png", w=2048, h=2048, phash=hx(0), dhash=hx(0))
    small = record("10_x/small.jpg", w=512, h=512, fmt="JPEG", phash=hx(0b111), dhash=hx(0b11))
    far = record("10_x/other.png", phash=hx((1 << 40) - 1), dhash=hx(0))  # pHash 40 bits away
    half = record("10_x/half.png", phash=hx(0b1), dhash=hx((1 << 30) - 1))  # dHash 30 bits away
    out = list(run_one(duplicate.check, [small, far, big, half], ctx()))
    fs = [o for o in out if isinstance(o, Finding)]
    groups = [o for o in out if not isinstance(o, Finding)]
    assert [(g.kind, g.keep, sorted(g.members)) for g in groups] == [
        ("near-duplicate", "10_x/big.png", ["10_x/big.png", "10_x/small.jpg"])
    ]
    (f,) = fs
    assert f.path == "10_x/small.jpg" and f.code == "DUP002" and f.severity == "warning"
    assert f.evidence == {"keep": "10_x/big.png", "phash_distance": 3, "dhash_distance": 2, "view": "whole picture"}


def test_a_crop_matches_through_a_crop_view():
    orig = record(
        "10_x/orig.png",
        w=2048,
        h=2048,
        phash=hx(0),
        dhash=hx(0),
        views=[[hx(1 << 60), hx(1 << 61)]] + [["f" * 16, "f" * 16]] * 5,
    )
    cropped = record("10_x/crop.png", w=1800, h=1800, phash=hx((1 << 60) | 0b11), dhash=hx(1 << 61))
    fs = [o for o in run_one(duplicate.check, [orig, cropped], ctx()) if isinstance(o, Finding)]
    assert [(f.path, f.evidence["view"]) for f in fs] == [("10_x/crop.png", "centre 90 %")]


def test_person_profile_makes_near_duplicates_errors():
    a = record("10_x/a.png", w=2048, h=2048, phash=hx(0), dhash=hx(0))
    b = record("10_x/b.png", phash=hx(0), dhash=hx(0))
    fs = [o for o in run_one(duplicate.check, [a, b], ctx("person")) if isinstance(o, Finding)]
    assert [f.severity for f in fs] == ["error"]


def _pairs_by_definition(fp, fd, vp, vd, max_p, max_d):
    """Every (i, j), i < j, where a view of one (the whole picture or a crop view) is within both limits of the
    other's whole picture, compared one pair at a time."""
    pop = lambda x: bin(x).count("1")  # noqa: E731
    want = set()
    for i in range(len(fp)):
        for j in range(len(fp)):
            views = [(fp[i], fd[i])] + list(zip(vp[i], vd[i]))
            if i != j and any(pop(p ^ fp[j]) <= max_p and pop(d ^ fd[j]) <= max_d for p, d in views):
                want.add((min(i, j), max(i, j)))
    return want


@pytest.mark.parametrize("numpy_popcount", [True, False], ids=["bitwise_count", "numpy-1.26-fallback"])
def test_near_pairs_matches_brute_force(numpy_popcount, monkeypatch):
    import random

    import numpy as np

    from curate.derive import duplicates as derive_duplicates

    if not numpy_popcount:  # NumPy < 2 has no bitwise_count: the byte-table fallback must agree
        monkeypatch.delattr(np, "bitwise_count", raising=False)

    rng = random.Random(7)
    n, v = 200, 6
    fp = [rng.getrandbits(64) for _ in range(n)]
    fd = [x ^ (1 << rng.randrange(64)) for x in fp]
    vp = [[rng.getrandbits(64) for _ in range(v)] for _ in range(n)]
    vd = [[rng.getrandbits(64) for _ in range(v)] for _ in range(n)]
    fp[5], fd[5] = fp[9] ^ 0b1011, fd[9]  # whole pictures match
    vp[20][2], vd[20][2] = fp[30] ^ 0b1, fd[30] ^ 0b11  # a crop view of 20 matches 30
    vp[40][0], vd[40][0] = fp[41], fd[41] ^ ((1 << 20) - 1)  # pHash matches, dHash too far
    # differences spread evenly over the four 16-bit pieces, as far as the limit allows (2 + 3 + 3 + 2 = 10)
    fp[60], fd[60] = fp[61] ^ 0b11 ^ (0b111 << 16) ^ (0b111 << 32) ^ (0b11 << 48), fd[61]
    fp[62], fd[62] = fp[63] ^ 0b111 ^ (0b111 << 16) ^ (0b111 << 32) ^ (0b11 << 48), fd[63]  # 11 bits: too far
    arr = lambda x: np.array(x, dtype=np.uint64)  # noqa: E731
    got = {
        (i, j): (view, a, b)
        for i, j, view, a, b in derive_duplicates.near_pairs(arr(fp), arr(fd), arr(vp), arr(vd), 10, 12, budget=500)
    }
    assert set(got) == _pairs_by_definition(fp, fd, vp, vd, 10, 12)
    assert got[(5, 9)][0] == 0 and got[(20, 30)] == (3, 1, 2) and (40, 41) not in got
    assert (60, 61) in got and (62, 63) not in got


@pytest.mark.parametrize("limits", [(10, 12), (3, 4), (0, 0), (14, 20)])
def test_near_pairs_in_crowded_buckets_and_at_other_limits(limits):
    """Crops of one photo share most bits: many pictures land in the same bucket of a piece (the candidates are
    then cut into parts of `budget`); the index must still return exactly the pairs, at any limits."""
    import random

    import numpy as np

    from curate.derive import duplicates as derive_duplicates

    rng = random.Random(limits[0])
    base_p, base_d = rng.getrandbits(64), rng.getrandbits(64)
    flip = lambda x, k: x ^ sum(1 << b for b in rng.sample(range(64), k))  # noqa: E731
    n = 150
    fp = [flip(base_p, rng.randrange(0, 16)) for _ in range(n)]
    fd = [flip(base_d, rng.randrange(0, 16)) for _ in range(n)]
    vp = [[flip(p, rng.randrange(2, 14)) for _ in range(6)] for p in fp]
    vd = [[flip(d, rng.randrange(2, 14)) for _ in range(6)] for d in fd]
    arr = lambda x: np.array(x, dtype=np.uint64)  # noqa: E731
    got = list(derive_duplicates.near_pairs(arr(fp), arr(fd), arr(vp), arr(vd), *limits, budget=97))
    assert [(i, j) for i, j, *_ in got] == sorted(_pairs_by_definition(fp, fd, vp, vd, *limits))
    pop = lambda x: bin(x).count("1")  # noqa: E731
    for i, j, view, dp, dd in got:  # the reported view is the best one, and its distances are right
        options = []
        for a, b in ((i, j), (j, i)):
            views = [(fp[a], fd[a])] + list(zip(vp[a], vd[a]))
            options += [
                (pop(p ^ fp[b]) + pop(d ^ fd[b]), w, pop(p ^ fp[b]), pop(d ^ fd[b]))
                for w, (p, d) in enumerate(views)
                if pop(p ^ fp[b]) <= limits[0] and pop(d ^ fd[b]) <= limits[1]
            ]
        assert (dp + dd, view, dp, dd) == min(options)


def test_severity_off_and_selection():
    rec = record(w=512, h=512, cap=Caption(None, None))
    c = ctx()
    c.settings.data["severity"]["CAP001"] = "off"
    findings, _ = run_checks([rec], c)
    assert [f.code for f in findings] == ["RES001"]
    sel = Context(load_settings(), resolve_base_model("sdxl"), selection=Selection(ignore=("resolution",)))
    findings, _ = run_checks([rec], sel)
    assert [f.code for f in findings] == ["CAP001"]
    sel = Context(load_settings(), resolve_base_model("sdxl"), selection=Selection(select=("RES",)))
    assert [f.code for f in run_checks([rec], sel)[0]] == ["RES001"]
    assert Selection(select=("nonsense",)).unknown_tokens() == ["nonsense"]


def test_verdicts_and_gate():
    e = Finding("RES001", "resolution", "error", "x")
    w = Finding("CAP001", "caption", "warning", "x")
    i = Finding("UNR008", "unreadable", "info", "x")
    assert (
        verdict([]) == "keep" and verdict([i]) == "keep" and verdict([w, i]) == "review" and verdict([w, e]) == "drop"
    )
    assert exit_code([w], "error") == 0 and exit_code([w], "warning") == 1 and exit_code([e], "never") == 0
    assert exit_code([e], "error") == 1 and exit_code([i], "warning") == 0


def test_every_rule_is_documented_with_a_stable_code():
    import re

    rules = load_all()
    assert len(rules) >= 15
    for code, r in rules.items():
        assert re.fullmatch(r"[A-Z]{3}\d{3}", code) and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r.name), code
        # A summary is one or more whole sentences, and every {section.key} in the doc is filled in.
        assert len(r.summary.split()) >= 5 and r.summary.rstrip().endswith((".", ")")), code
        assert "{" not in r.render() and "}" not in r.render(), code
    assert len({r.name for r in rules.values()}) == len(rules)  # names are unique too (--select takes them)


def test_near_duplicate_groups_do_not_chain():
    """A~B and B~C but A is far from C: C must not be dropped in favour of A, which it does not resemble."""
    a = record("10_x/a.png", w=2048, h=2048, phash=hx(0), dhash=hx(0))
    b = record("10_x/b.png", w=1024, h=1024, phash=hx((1 << 8) - 1), dhash=hx(0))  # 8 bits from a
    c = record("10_x/c.png", w=1024, h=1000, phash=hx((1 << 16) - 1), dhash=hx(0))  # 8 from b, 16 from a
    out = list(run_one(duplicate.check, [a, b, c], ctx()))
    groups = [(g.keep, g.members) for g in out if not isinstance(g, Finding)]
    assert groups == [("10_x/a.png", ("10_x/a.png", "10_x/b.png"))]
    assert [(f.path, f.evidence["keep"]) for f in out if isinstance(f, Finding)] == [("10_x/b.png", "10_x/a.png")]


def test_caption_evidence_says_whether_the_detector_agrees():
    from curate.checks import caption_evidence
    from curate.model import Caption

    def agrees(rec):
        (f,) = found(run_one(caption_evidence.check_resolution, rec, ctx()))
        return f.evidence["detector_agrees"], f.message

    small = record(w=512, h=512, cap=Caption("a.txt", "lowres, 1girl"))
    large = record(w=1024, h=1024, cap=Caption("a.txt", "lowres, 1girl"))
    assert agrees(small)[0] is True and "found low resolution too" in agrees(small)[1]
    assert agrees(large)[0] is False and "look at the picture" in agrees(large)[1]
    (f,) = found(run_one(caption_evidence.check_marks, record(cap=Caption("a.txt", "1girl, english_text")), ctx()))
    assert f.code == "TXT010" and f.evidence["detector_agrees"] is None  # no text analysis on this record


def test_near_duplicates_name_their_closest_partner_and_stay_in_their_concept_folder():
    import dataclasses

    # b is kept (largest); a and a_half both match b at pHash 6, and a_half is a_half-size copy of a (pHash 0).
    b = record("10_x/b.png", w=2048, h=2048, phash=hx(0), dhash=hx(0))
    a = record("10_x/a.png", w=1024, h=1024, phash=hx((1 << 6) - 1), dhash=hx(0))
    a_half = record("10_x/a_half.png", w=512, h=512, phash=hx((1 << 6) - 1), dhash=hx(1))
    by = {f.path: f for f in found(run_one(duplicate.check, [b, a, a_half], ctx()))}
    assert by["10_x/a_half.png"].evidence["closest"]["path"] == "10_x/a.png"
    assert by["10_x/a_half.png"].message.startswith("near-duplicate of 10_x/a.png (pHash distance 0/64")
    assert by["10_x/a.png"].evidence["closest"]["path"] == "10_x/a_half.png"  # each names the other, not b
    # The same pose in another concept folder (an outfit split on purpose) is not grouped unless asked.
    other = dataclasses.replace(a, concept=dataclasses.replace(a.concept, folder="5_other outfit"))
    assert found(run_one(duplicate.check, [b, other], ctx())) == []
    import copy

    from curate.rules import Settings, load_settings, resolve_base_model

    data = copy.deepcopy(load_settings().data)
    data["duplicate"]["across_folders"] = True
    c = Context(Settings("general", data), resolve_base_model("sdxl"), dataset={})
    assert [f.code for f in found(run_one(duplicate.check, [b, other], c))] == ["DUP002"]


def test_the_same_shapes_in_another_colour_are_not_near_duplicates():
    from curate.derive.duplicates import colours_differ

    red = bytes([200, 30, 30] * 64).hex()
    blue = bytes([30, 30, 200] * 64).hex()
    pinker = bytes([230, 60, 60] * 64).hex()  # the same hue, brighter: a colour-shifted copy
    grey = bytes([90, 90, 90] * 64).hex()  # a greyscale copy has no colour to compare
    assert colours_differ(red, blue, 24.0, 0.1)
    assert not colours_differ(red, pinker, 24.0, 0.1) and not colours_differ(red, grey, 24.0, 0.1)
    a = record("10_x/a.png", w=1024, h=1024, phash=hx(0), dhash=hx(0))
    b = record("10_x/b.png", w=1024, h=1000, phash=hx(1), dhash=hx(0))
    a.features["image"]["colour_layout"], b.features["image"]["colour_layout"] = red, blue
    assert found(run_one(duplicate.check, [a, b], ctx())) == []
    b.features["image"]["colour_layout"] = pinker
    assert [f.code for f in found(run_one(duplicate.check, [a, b], ctx()))] == ["DUP002"]


def test_colours_are_judged_per_pair_whatever_the_batch():
    """find_duplicates judges colour for thousands of pairs at once: each pair's answer is the one it gets alone,
    with half of a cell's colours changed or not, a missing layout, or a greyscale copy among them."""
    import random

    from curate.derive.duplicates import colour_layouts, colours_differ, colours_differ_many

    rng = random.Random(3)
    layouts: list[str | None] = []
    for _ in range(40):
        base = [rng.randrange(256) for _ in range(192)]
        layouts.append(bytes(base).hex())
        turned = [v if rng.random() < 0.8 else rng.randrange(256) for v in base]
        layouts.append(bytes(turned).hex())
    layouts += [None, bytes([128] * 192).hex(), "zz"]
    pairs = [(rng.randrange(len(layouts)), rng.randrange(len(layouts))) for _ in range(300)]
    pairs += [(2 * k, 2 * k + 1) for k in range(40)]
    table = colour_layouts(layouts)
    lo, hi = [a for a, _ in pairs], [b for _, b in pairs]
    batch = colours_differ_many(table[lo], table[hi], 24.0, 0.1).tolist()
    alone = [colours_differ(layouts[a], layouts[b], 24.0, 0.1) for a, b in pairs]
    assert batch == alone and 0 < sum(alone) < len(alone)


def _crowded_hashes(seed: int, n: int):
    """Hashes of n pictures that crowd a few buckets (crops of one photo), as uint64 arrays: full p, d, views p, d."""
    import random

    import numpy as np

    rng = random.Random(seed)
    bases = [(rng.getrandbits(64), rng.getrandbits(64)) for _ in range(3)]
    flip = lambda x, k: x ^ sum(1 << b for b in rng.sample(range(64), k))  # noqa: E731
    fp, fd = [], []
    for _ in range(n):
        p, d = rng.choice(bases)
        fp.append(flip(p, rng.randrange(0, 16)))
        fd.append(flip(d, rng.randrange(0, 16)))
    vp = [[flip(p, rng.randrange(2, 14)) for _ in range(6)] for p in fp]
    vd = [[flip(d, rng.randrange(2, 14)) for _ in range(6)] for d in fd]
    arr = lambda x: np.array(x, dtype=np.uint64)  # noqa: E731
    return arr(fp), arr(fd), arr(vp), arr(vd)


@pytest.mark.parametrize("share", [0.0, 0.03, 0.5, 1.0])
def test_matching_only_the_fresh_pictures_finds_exactly_their_pairs(share):
    """near_pair_rows(fresh=...) — the matching an audit does when it knows the pairs among the other pictures —
    returns, row for row (views and distances too), the pairs with a fresh picture that matching all gives."""
    import numpy as np

    from curate.derive.duplicates import near_pair_rows

    full_p, full_d, views_p, views_d = _crowded_hashes(11, 160)
    every = near_pair_rows(full_p, full_d, views_p, views_d, 10, 12, budget=211)
    assert every.shape[1] > 300  # crowded enough to mean something
    fresh = np.random.default_rng(5).random(160) < share
    got = near_pair_rows(full_p, full_d, views_p, views_d, 10, 12, budget=211, fresh=fresh)
    want = every[:, fresh[every[0]] | fresh[every[1]]]
    assert np.array_equal(got, want)


@pytest.mark.parametrize("share", [None, 0.03, 0.5])
def test_the_compiled_matcher_finds_the_pairs_numpy_finds(monkeypatch, share):
    """The `scale` extra's compiled inner loop (curate/derive/hamming_kernel.py) gives near_pair_rows the same
    rows — pairs, best views, distances — as the NumPy loop, matching all or only the fresh pictures, with blocks
    small enough that the threads share the work; crowded buckets and random hashes alike."""
    import numpy as np

    from curate.derive import hamming_kernel
    from curate.derive.duplicates import near_pair_rows

    if not hamming_kernel.available():
        pytest.skip("numba is not installed (the scale extra)")
    crowded = _crowded_hashes(13, 300)
    rng = np.random.default_rng(2)
    noise = tuple(rng.integers(0, 2**64, size=s, dtype=np.uint64) for s in ((200,), (200,), (200, 6), (200, 6)))
    arrays = tuple(np.concatenate([a, b]) for a, b in zip(crowded, noise))
    fresh = None if share is None else np.random.default_rng(5).random(500) < share
    monkeypatch.setattr(hamming_kernel, "COMPILED_FROM", 10**12)
    want = near_pair_rows(*arrays, 10, 12, budget=997, fresh=fresh)
    monkeypatch.setattr(hamming_kernel, "COMPILED_FROM", 0)
    monkeypatch.setattr(hamming_kernel, "BLOCK", 64)
    monkeypatch.setattr(hamming_kernel, "FIRST_CAPACITY", 2)  # the arrays of hits grow many times
    spied: list[int] = []
    real = hamming_kernel.piece_hits
    monkeypatch.setattr(hamming_kernel, "piece_hits", lambda *a, **k: spied.append(1) or real(*a, **k))
    got = near_pair_rows(*arrays, 10, 12, budget=997, fresh=fresh)
    assert spied and want.shape[1] > 300
    assert np.array_equal(got, want)


def test_a_small_set_is_matched_without_importing_numba():
    """Numba's import costs ~0.3 s: below COMPILED_FROM queries the matcher never imports it (nor the compiled
    loop's module), so a LoRA-sized audit does not pay it."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from curate.derive.duplicates import near_pair_rows\n"
        "r = np.random.default_rng(0).integers(0, 2**63, size=(200, 14), dtype=np.uint64)\n"
        "near_pair_rows(r[:, 0], r[:, 1], r[:, 2:8], r[:, 8:], 10, 12)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('numba', 'llvmlite', 'curate.derive.hamming_loop'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_an_audit_carries_the_pairs_to_the_next_one():
    """find_duplicates with the memo of an earlier audit (pictures removed, added, reordered, some unhashed)
    gives the groups and pairs that matching everything gives; a memo at other limits, or a damaged one, is
    not used."""
    import random

    import numpy as np

    from curate.derive.duplicates import PairMemo, find_duplicates

    full_p, full_d, views_p, views_d = _crowded_hashes(12, 140)
    hx = lambda x: f"{int(x):016x}"  # noqa: E731

    def rec(k):
        views = [[hx(p), hx(d)] for p, d in zip(views_p[k], views_d[k])]
        r = record(f"10_x/{k:03d}.png", w=1000 + k, h=1000, phash=hx(full_p[k]), dhash=hx(full_d[k]), views=views)
        return r

    def summary(found):
        return [
            (g.keep.path, [(m.copy.path, m.view, m.phash_distance, m.dhash_distance) for m in g.matches])
            for g in found.near
        ]

    settings = ctx().settings
    first = find_duplicates([rec(k) for k in range(100)], settings)
    assert first.memo is not None and len(first.near) > 3
    rng = random.Random(4)
    later = [rec(k) for k in rng.sample(range(140), 120)]  # 20 of the first 100 gone, 40 new, shuffled
    later[7].features["image"]["phash"] = None  # not hashed: left out of the matching
    memo = PairMemo.from_bytes(first.memo.to_bytes())
    assert memo is not None and memo.shas == first.memo.shas and np.array_equal(memo.rows, first.memo.rows)
    again = find_duplicates(later, settings, previous=memo)
    alone = find_duplicates(later, settings)
    assert summary(again) == summary(alone) and len(alone.near) > 3
    assert again.memo is not None and alone.memo is not None
    assert again.memo.shas == alone.memo.shas and np.array_equal(again.memo.rows, alone.memo.rows)
    # at other limits the memo is not used (its pairs stop at the old limits)
    import copy

    from curate.rules import Settings

    data = copy.deepcopy(settings.data)
    data["duplicate"]["phash_max_distance"] = 12
    other = Settings("general", data)
    assert summary(find_duplicates(later, other, previous=memo)) == summary(find_duplicates(later, other))
    data = first.memo.to_bytes()
    for damaged in (b"", b"junk", data[:-3], data[:20] + data[52:]):
        assert PairMemo.from_bytes(damaged) is None


def test_each_member_is_said_closest_to_the_member_it_matches_best():
    """_closest_members (on arrays of pairs) against its definition, looked for one member at a time: least pHash +
    dHash distance, then pHash, the keeper before the others, then the lowest index; ties everywhere."""
    import random

    import numpy as np

    from curate.derive.duplicates import _closest_members, keeper_groups

    rng = random.Random(5)
    for n in (2, 9, 40, 120):
        pairs = {(a, b) for a in range(n) for b in range(a + 1, n) if rng.random() < 0.3} or {(0, 1)}
        rows = sorted((a, b, rng.randrange(7), rng.randrange(3), rng.randrange(3)) for a, b in pairs)
        neighbours: dict[int, dict[int, tuple[int, int, int]]] = {}
        for a, b, v, p, d in rows:
            neighbours.setdefault(a, {})[b] = neighbours.setdefault(b, {})[a] = (v, p, d)
        rank = {k: rng.random() for k in neighbours}
        groups = keeper_groups(neighbours, rank.__getitem__)
        got = _closest_members(groups, n, *(np.array(col, dtype=np.int64) for col in zip(*rows)))
        want = {}
        for leader, members in groups:
            group = {leader, *members}
            for k in members:
                near = [o for o in sorted(neighbours[k]) if o in group]
                mine = neighbours[k]
                best = min(near, key=lambda o: (mine[o][1] + mine[o][2], mine[o][1], o != leader))
                want[k] = (best, *mine[best])
        assert got == want and want


def test_the_collector_runs_less_during_an_audit_and_as_before_after():
    import gc

    from curate.audit import fewer_collections

    before = gc.get_threshold()
    with fewer_collections(50_000):
        assert gc.get_threshold()[0] == 50_000
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("an audit that fails")
    assert gc.get_threshold() == before


def test_a_damaged_colour_layout_is_not_judged_and_spoils_no_other():
    import numpy as np

    from curate.derive.duplicates import colour_layouts

    red = bytes([200, 30, 30] * 64).hex()
    table = colour_layouts([red, "zz" * 192, None, red])
    assert np.isnan(table[1]).all() and np.isnan(table[2]).all()
    assert (table[0] == table[3]).all() and table[0, 0].tolist() == [200.0, 30.0, 30.0]
