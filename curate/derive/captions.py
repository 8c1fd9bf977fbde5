"""What kohya trains from a caption file: its first line (train_util.BaseDataset.process_caption), shared by the
caption, caption-evidence and composition checks."""

from __future__ import annotations

from curate.kohya import CAPTION_LINES
from curate.model import ImageRecord


def first_line(rec: ImageRecord) -> str | None:
    """The caption text kohya trains (its first line), or None when there is no readable caption."""
    cap = rec.caption
    if cap.path is None or cap.problem or cap.text is None:
        return None
    return CAPTION_LINES.split(cap.text)[0].strip()
