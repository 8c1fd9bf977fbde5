"""Identity consistency in a person set: every picture should show the one person, recognisably.

docs/field-knowledge.md §Person LoRAs: photos where the person does not look like themselves are learned as someone
else and weaken likeness; a person LoRA is ~15 photos of one person. Faces and descriptors come from the
`faces` extractor (dlib, bundled models; curate/extract/faces.py); the set's main identity and the distance
rule are curate/derive/identity.py. Thresholds: rules/checks.toml [identity]. On under the person profile only.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from curate.checks.registry import Context, dataset_check, rule
from curate.derive.duplicates import DUPLICATES
from curate.derive.identity import main_identity
from curate.model import Finding, Group, ImageRecord

IDN001 = rule(
    "IDN001",
    "no-face",
    "identity",
    "warning",
    """
    No face found (dlib HOG frontal detector, score ≥ [identity] min_face_score, {identity.min_face_score})
    in a picture of a person set: a
    back view, a face too small or turned away, or not the person at all. Profile person only.

    FAIL: a landscape in a person set. PASS: a frontal or three-quarter portrait.
""",
    settings="identity",
)
IDN002 = rule(
    "IDN002",
    "several-people",
    "identity",
    "warning",
    """
    More than one person's face in a picture of a person set: the LoRA blends them. Faces whose descriptors
    are within [identity] same_person_distance of each other count as one person (a mirror shot).

    FAIL: a group photo. PASS: a portrait with one face.
""",
    settings="identity",
)
IDN003 = rule(
    "IDN003",
    "identity-outlier",
    "identity",
    "warning",
    """
    The face is farther than [identity] same_person_distance ({identity.same_person_distance}; dlib's own
    threshold is 0.6) from the set's main identity: someone
    else, or the person at an angle or in make-up where they do not look like themselves — learned as
    someone else, it weakens likeness. Needs [identity] min_faces ({identity.min_faces}) faces in the set.

    FAIL: a friend's photo in a person set. PASS: the person from the front, the side, in other light.
""",
    settings="identity",
)


def _descriptor(face):
    d = face.get("descriptor")
    return np.asarray(d, dtype=np.float32) if d else None


@dataset_check(emits=(IDN001, IDN002, IDN003), needs=("faces",), settings=("identity",), consumes=(DUPLICATES,))
def check(records: list[ImageRecord], ctx: Context) -> Iterator[Finding | Group | None]:
    conf = ctx.cfg.identity
    same = conf.same_person_distance
    copies = ctx.derived(DUPLICATES).copies  # a copy would count twice for one identity
    analysed = [
        r for r in records if r.readable and "faces" in (r.features.get("faces") or {}) and r.path not in copies
    ]
    mains = []
    for rec in analysed:
        faces = ctx.faces(rec)
        if not faces:
            yield ctx.finding(
                IDN001,
                "no face found (frontal face detector): not usable to learn the person's "
                "likeness — drop it unless the face is there and just turned away",
                {"faces_detected": 0},
                path=rec.path,
            )
            continue
        descs = [d for d in (_descriptor(f) for f in faces) if d is not None]
        people: list[np.ndarray] = []
        for d in descs:
            if all(np.linalg.norm(d - p) > same for p in people):
                people.append(d)
        if len(people) > 1:
            yield ctx.finding(
                IDN002,
                f"{len(people)} different people's faces in one picture: the LoRA blends "
                "them — crop to the person or drop it",
                {"people": len(people), "faces": [f["box"] for f in faces]},
                path=rec.path,
            )
        if descs:
            mains.append((rec, descs, faces))
    if len(mains) < conf.min_faces or not ctx.wants(IDN003):
        return
    matrix = np.stack([descs[0] for _, descs, _ in mains])  # each picture's largest face
    centre = main_identity(matrix, same)
    if centre is None:
        return
    reference = matrix[centre]
    support = int((np.linalg.norm(matrix - reference, axis=1) <= same).sum())
    for rec, descs, faces in mains:
        # The person is in the picture if any of its faces is theirs (a group photo is IDN002's business).
        k = int(np.argmin([np.linalg.norm(d - reference) for d in descs]))
        dist, face = float(np.linalg.norm(descs[k] - reference)), faces[k]
        if dist > same:
            yield ctx.finding(
                IDN003,
                f"the face is {dist:.2f} from the set's main identity ({support} of "
                f"{len(mains)} faces within {same}): someone else, or the person not looking like "
                "themselves — it weakens likeness",
                {
                    "distance": round(float(dist), 3),
                    "threshold": same,
                    "box": face["box"],
                    "reference": mains[centre][0].path,
                },
                path=rec.path,
            )
