"""Leaderboard rows for tests, written as the flat columns a reader sees."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tuner.leaderboard import TrialRow


def typed(records: Iterable[Mapping[str, Any]]) -> list[TrialRow]:
    """:class:`TrialRow` of each flat record (``params`` spread, ``history`` as JSON)."""
    return [TrialRow.from_record(r) for r in records]
