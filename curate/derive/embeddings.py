"""Embedding maths for the composition and semantic-duplicate checks: pure functions over cached CLIP
embeddings (no model, no image).

Aspect profiles. For one aspect (background, outfit, pose, hairstyle) and its view of each picture, the
profile is the view embedding's cosine with every label prompt of the aspect's bank (rules/prompts.toml),
centred over the labels and L2-normalised: the picture as seen through that bank only, so two photos of one
person in one pose but different outfits are close in `pose` and far in `outfit`. The label is the bank's
softmax at CLIP's logit scale.

Clustering is deterministic and threshold-based: complete linkage, greedily — the most confidently labelled
picture not yet placed opens a cluster, and each other picture joins only if its profile's cosine with every
member is at least the threshold. No chaining (A~B, B~C does not put A with C), no randomness.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

LOGIT_SCALE = 100.0  # CLIP's learned temperature, saturated at 100 in the released models


def aspect_profiles(views: np.ndarray, texts: np.ndarray) -> np.ndarray:
    """N×L centred, L2-normalised cosine profiles of N view embeddings against L label embeddings."""
    sims = views @ texts.T
    sims = sims - sims.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(sims, axis=1, keepdims=True)
    return sims / np.maximum(norm, 1e-12)


def label_probabilities(views: np.ndarray, texts: np.ndarray) -> np.ndarray:
    logits = LOGIT_SCALE * (views @ texts.T)
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def complete_linkage(vectors: np.ndarray, min_cosine: float, order: Sequence[int] | None = None) -> list[list[int]]:
    """Clusters (lists of row indices, each in joining order) where every pair has cosine ≥ min_cosine.
    Rows are visited in `order` (default: as given); singletons are returned too."""
    n = len(vectors)
    order = list(order) if order is not None else list(range(n))
    sims = vectors @ vectors.T
    placed = np.zeros(n, dtype=bool)
    clusters = []
    for i in order:
        if placed[i]:
            continue
        members = [i]
        placed[i] = True
        for j in order:
            if not placed[j] and all(sims[j, m] >= min_cosine for m in members):
                members.append(j)
                placed[j] = True
        clusters.append(members)
    return clusters


def allowed(n_images: int, max_same: int, max_share: float) -> int:
    """How many images may share one value of an aspect in a set of n_images."""
    return max(int(max_same), math.ceil(max_share * n_images))


def choose_keep(members: Sequence[int], quality: Sequence[float], full: np.ndarray, k: int) -> list[int]:
    """k members to keep: the best-quality one, then each time the one least like those kept (lowest
    maximum cosine of whole-picture embeddings), ties to better quality. Deterministic."""
    ranked = sorted(members, key=lambda i: (-quality[i], i))
    keep = ranked[:1]
    while len(keep) < min(k, len(ranked)):
        rest = [i for i in ranked if i not in keep]
        keep.append(min(rest, key=lambda i: (round(float(max(full[i] @ full[j] for j in keep)), 3), -quality[i], i)))
    return keep


def near_pairs(full: np.ndarray, min_cosine: float) -> list[tuple[int, int, float]]:
    """(i, j, cosine) with i < j for whole-picture embeddings at least min_cosine alike."""
    sims = full @ full.T
    ii, jj = np.nonzero(np.triu(sims >= min_cosine, k=1))
    return [(int(i), int(j), float(sims[i, j])) for i, j in zip(ii, jj)]
