"""Fixtures of the integration tests (the helpers live in eltrun.py)."""

from eltrun import elt_run

__all__ = ["elt_run"]
