"""Identity in a person set, from dlib face descriptors (curate/extract/faces.py): the set's main identity is
the face with the most others within `same_person_distance` (dlib's 0.6); faces farther than that from it
are someone else. Pure functions over cached descriptors.
"""

from __future__ import annotations

import numpy as np


def main_identity(descriptors: np.ndarray, same_person: float) -> int | None:
    """Index of the face with the most others within `same_person` (ties: the smaller mean distance)."""
    if len(descriptors) == 0:
        return None
    d = np.linalg.norm(descriptors[:, None, :] - descriptors[None, :, :], axis=2)
    support = (d <= same_person).sum(axis=1)
    return int(min(range(len(descriptors)), key=lambda i: (-support[i], float(d[i].mean()), i)))
