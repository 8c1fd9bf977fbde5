"""Checks: pure functions from cached features to findings. See registry.py for the contract."""

from curate.checks.registry import RULES, Context, Selection, load_all, run_checks

__all__ = ["RULES", "Context", "Selection", "load_all", "run_checks"]
