"""Composition balance: too many pictures sharing one background, outfit, hairstyle or pose.

A portrait photographer's rules for person LoRAs (docs/field-knowledge.md §Person LoRAs): about 15 images; no more
than 2 sharing a background, outfit or hairstyle — a third adds nothing and biases the model; distinctive outfits
and repeated backgrounds leak into every output even when captioned; a set full of dramatic poses makes
simple prompts produce them, so include plain standing shots. Near-duplicate files are not the point here:
the same classroom behind six different shots is.

Reads CLIP embeddings of each picture's views (curate/extract/clip.py) and the prompt banks of
rules/prompts.toml; clustering and keep-selection are curate/derive/embeddings.py. Limits: rules/checks.toml
[composition], tightened by the person profile. Of a cluster over the limit, the pictures kept are the best
(most real detail, sharpest) and then the most different from those kept; the others are flagged. When none of a
cluster's captions names what it shares (the label's words), the finding says so and which words to add: a
background or outfit the captions never mention is learned as part of the trigger.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from curate.checks.registry import Context, dataset_check, rule
from curate.derive.captions import first_line
from curate.derive.duplicates import DUPLICATES
from curate.derive.embeddings import allowed, aspect_profiles, choose_keep, complete_linkage, label_probabilities
from curate.derive.quality import quality_score
from curate.model import Finding, Group, ImageRecord

CPS001 = rule(
    "CPS001",
    "repeated-background",
    "composition",
    "warning",
    """
    More pictures share one background than the set allows: the larger of [composition] max_same
    ({composition.max_same}) and max_share ({composition.max_share}) of the set: the LoRA learns the place and puts
    it into outputs even when the caption names it. The best and most different pictures of the cluster are kept;
    the others are flagged.

    FAIL: 6 portraits in front of the same classroom blackboard in a 15-image person set.
    PASS: 15 portraits in 15 different places.
""",
    settings="composition",
)
CPS002 = rule(
    "CPS002",
    "repeated-outfit",
    "composition",
    "warning",
    """
    More pictures of the person share one outfit than the set allows: a distinctive outfit leaks into every
    output (a brand outfit turns every requested uniform into that outfit).

    FAIL: 5 of 12 photos in the same school uniform. PASS: varied clothing. Off under the character
    profile (a character's outfit is part of the character).
""",
    settings="composition",
)
CPS003 = rule(
    "CPS003",
    "repeated-hairstyle",
    "composition",
    "warning",
    """
    More pictures of the person share one hairstyle than the set allows: the LoRA ties the hairstyle to the
    person. Off under the character profile.

    FAIL: 6 of 12 photos with the same twin tails. PASS: the hair as it varies across shoots.
""",
    settings="composition",
)
CPS004 = rule(
    "CPS004",
    "dominant-pose",
    "composition",
    "warning",
    """
    One pose (other than a plain one: rules/prompts.toml [prompts.pose] plain) is held in more than
    [composition] max_pose_share ({composition.max_pose_share}) of the pictures of people: poses leak, and simple
    prompts then produce it.

    FAIL: 8 of 12 photos with arms raised. PASS: a mix of standing, sitting and portrait shots.
""",
    settings="composition",
)
CPS005 = rule(
    "CPS005",
    "no-plain-pose",
    "composition",
    "warning",
    """
    A person set without a single plain standing or head-and-shoulders shot: plain shots keep the LoRA from
    turning every prompt into a dramatic pose (docs/field-knowledge.md §Person LoRAs). Person profile only.

    FAIL: 15 photos all sitting, jumping or lying down. PASS: at least one plain standing shot.
""",
    settings="composition",
)

ASPECT_CODES = {"background": CPS001, "outfit": CPS002, "hairstyle": CPS003}


# A finding names a few of the pictures kept, and its evidence lists at most EVIDENCE_LISTED of the kept and of the
# members (cluster_size and allowed count them; the cluster's group lists them all): in a set of 10,000 a cluster
# may keep 2,000, and each of its findings naming all of them made a 50 MB report.
KEEPS_NAMED = 3
EVIDENCE_LISTED = 100
VIEWS_AT_ONCE = 4096  # view embeddings turned into profiles together: the N × 512 views are never all held


def aspect_table(records, ctx, aspect: str):
    """(records with this aspect's view, their profiles, their label probabilities, the labels) or None. The view
    embeddings are read a block at a time: what is held is N × labels, not N × 512 (2 GB at 1,000,000)."""
    texts = (ctx.dataset.get("clip_texts") or {}).get(aspect)
    if texts is None:
        return None
    labels, label_vectors, view = texts
    rows: list[ImageRecord] = []
    block: list[np.ndarray] = []
    profiles: list[np.ndarray] = []
    probs: list[np.ndarray] = []

    def flush():
        if block:
            vectors = np.stack(block)
            profiles.append(aspect_profiles(vectors, label_vectors))
            probs.append(label_probabilities(vectors, label_vectors))
            block.clear()

    for rec in records:
        v = ctx.clip(rec, view)
        if v is None and view == "background" and ctx.clip(rec, "person") is None:
            v = ctx.clip(rec, "full")  # no person found: the whole picture is the background
        if v is not None:
            rows.append(rec)
            block.append(v)
            if len(block) == VIEWS_AT_ONCE:
                flush()
    flush()
    if not rows:
        return None
    return rows, np.concatenate(profiles), np.concatenate(probs), labels


def aspect_clusters(records, ctx, aspect: str):
    """([(members as records, label, mean probability)], biggest first; the aspect's table and probabilities)."""
    table = aspect_table(records, ctx, aspect)
    if table is None:
        return [], None, None
    rows, profiles, probs, labels = table
    order = np.lexsort((_path_ranks(rows), -probs.max(axis=1)))  # most confidently labelled first, ties by path
    out = []
    for members in complete_linkage(profiles, ctx.cfg.composition.profile_min_cosine, order):
        mean = probs[members].mean(axis=0)
        top = int(mean.argmax())
        out.append(([rows[i] for i in members], labels[top], round(float(mean[top]), 3)))
    out.sort(key=lambda c: (-len(c[0]), c[0][0].path))
    return out, table, probs


def _path_ranks(rows: list[ImageRecord]) -> np.ndarray:
    """Each row's place in path order (the audit passes records in path order: then no sort, no key per row)."""
    if all(a.path <= b.path for a, b in zip(rows, rows[1:])):
        return np.arange(len(rows))
    ranks = np.empty(len(rows), dtype=np.int64)
    ranks[sorted(range(len(rows)), key=lambda i: rows[i].path)] = np.arange(len(rows))
    return ranks


def label_words(label: str) -> list[str]:
    """The words of a prompt-bank label a caption would use to name it ('a red dress' → ['red', 'dress'])."""
    return [w for w in re.findall(r"[a-z]+", label.lower()) if len(w) > 2 and w not in LABEL_STOPWORDS]


def mentions(rec: ImageRecord, words: list[str]) -> bool:
    text = (first_line(rec) or "").lower()
    return any(re.search(rf"\b{w}", text) for w in words)


LABEL_STOPWORDS = frozenset(
    "the and with wearing photo picture image person woman man someone standing front background in of a an".split()
)


@dataset_check(
    emits=(CPS001, CPS002, CPS003, CPS004, CPS005),
    needs=("quality", "clip"),
    uses=("faces",),
    settings=("composition", "quality"),
    consumes=(DUPLICATES,),
)
def check(records: list[ImageRecord], ctx: Context) -> Iterator[Finding | Group | None]:
    # uses faces: where installed, a face locates the person for the background / outfit / hair views
    if not ctx.dataset.get("clip_texts"):
        return
    conf = ctx.cfg.composition
    copies = ctx.derived(DUPLICATES).copies  # a copy of a kept picture is not another shot
    usable = [r for r in records if r.readable and "clip" in r.features and r.path not in copies]
    if len(usable) < conf.min_images:
        return
    dropped: set[str] = set()  # pictures another aspect already flagged: dropping them again costs nothing
    for aspect, code in ASPECT_CODES.items():
        if not ctx.wants(code):
            continue
        clusters, table, _ = aspect_clusters(usable, ctx, aspect)
        if table is None:
            continue
        limit = allowed(len(table[0]), conf.max_same, conf.max_share)
        for members, label, p in clusters:
            if len(members) <= limit:
                continue
            _, full = ctx.clip_matrix(members, "full")  # every member has its whole picture's view
            scores = [quality_score(r, ctx.quality(r)) - (1000.0 if r.path in dropped else 0.0) for r in members]
            keep = [members[i] for i in choose_keep(range(len(members)), scores, full, limit)]
            kept = ", ".join(r.path for r in keep[:KEEPS_NAMED])
            if len(keep) > KEEPS_NAMED:
                kept += f" and {len(keep) - KEEPS_NAMED} more (listed in the group)"
            kept_paths = {r.path for r in keep}
            words = label_words(label)
            mentioned = sum(1 for r in members if mentions(r, words))
            untangle = (
                f"; none of their captions names it, so it is learned as part of the trigger — add "
                f"'{' '.join(words)}' to the captions you keep"
                if words and not mentioned
                else ""
            )
            evidence = {
                "aspect": aspect,
                "label": label,
                "probability": p,
                "cluster_size": len(members),
                "allowed": limit,
                "keep": [r.path for r in keep[:EVIDENCE_LISTED]],
                "members": [r.path for r in members[:EVIDENCE_LISTED]],
                "captions_mentioning": mentioned,
            }
            for rec in members:
                if rec.path in kept_paths:
                    continue
                dropped.add(rec.path)
                yield ctx.finding(
                    code,
                    f"one of {len(members)} images sharing {aspect} ≈ '{label}' "
                    f"(p {p:.2f}; profile {ctx.settings.profile} allows {limit}): drop it, keep {kept} "
                    f"(best detail, most different){untangle}",
                    evidence,
                    path=rec.path,
                )
            yield Group(
                f"{aspect}-cluster",
                tuple(r.path for r in members),
                keep[0].path,
                {**{k: v for k, v in evidence.items() if k != "members"}, "keep": [r.path for r in keep]},
            )
    yield from _poses(usable, ctx, conf)


def _poses(usable, ctx, conf):
    if not (ctx.wants(CPS004) or ctx.wants(CPS005)):
        return
    clusters, table, probs = aspect_clusters(usable, ctx, "pose")
    if table is None:
        return
    rows, _, _, labels = table
    n = len(rows)
    plain = set(ctx.settings.data.get("prompts", {}).get("pose", {}).get("plain", []))
    if n >= conf.min_images and clusters:
        members, label, p = clusters[0]
        if label not in plain and len(members) / n > conf.max_pose_share:
            yield ctx.finding(
                CPS004,
                f"{len(members)} of {n} pictures of people share pose ≈ '{label}' (p {p:.2f}; "
                f"at most {conf.max_pose_share:.0%} advised): poses leak into outputs — add plain "
                "standing shots or drop some",
                {
                    "label": label,
                    "probability": p,
                    "members": [r.path for r in members[:EVIDENCE_LISTED]],
                    "cluster_size": len(members),
                    "of": n,
                },
            )
    plain_idx = [labels.index(x) for x in plain if x in labels]
    best = [max((float(probs[i, k]) for k in plain_idx), default=0.0) for i in range(len(rows))]
    if plain_idx and n >= conf.min_images and max(best) < conf.min_plain_probability:
        yield ctx.finding(
            CPS005,
            f"none of the {n} pictures of people is a plain standing or head-and-shoulders "
            f"shot (best p {max(best):.2f}): add a few, or every prompt drifts to a posed look",
            {"plain_labels": sorted(plain), "best_probability": round(max(best), 3), "of": n},
        )
