"""Derive: interpretations of cached features, between extract/ (measurements) and checks/ (judgements).

Each module turns features into something several checks, reports or commands share — rights signals,
classified text marks, duplicate groups, quality predicates, embedding and identity maths — so that a name
says which layer it belongs to: `extract/marks.py` reads text, `derive/marks.py` says which text is a
watermark, `checks/watermark.py` decides what to report. Pure functions: no file is opened here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Derivation:
    """A derived result that several checks share: computed once per audit from the trained records and the
    settings, before the checks that declare it in `consumes=` run. `after`: derivations it reads itself.

    `memo`: a derivation whose work can be carried from one audit of a folder to the next names the type of what
    it keeps (with `to_bytes` and a `from_bytes` class method that answers None for data it cannot read). Its
    `compute` then takes `previous=` (that memo from the last audit of the folder, or None) and its result has a
    `memo` attribute; the result must be the same with or without the previous memo."""

    name: str
    compute: Callable[..., Any]
    needs: tuple[str, ...] = ("image",)
    after: tuple[Derivation, ...] = ()
    memo: Any = None
