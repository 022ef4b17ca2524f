"""Tune's Optuna searcher, for results that may carry no score.

A trial with no score yet (a NaN first epoch, a user error in its worker) reports no
``objective`` at all rather than a made-up worst value: ASHA already skips such a result, and
Optuna records the trial as failed or pruned when it ends. Ray 2.60's ``OptunaSearch`` alone
would raise ``KeyError`` on it (``on_trial_result`` reads ``result[metric]``). Imported only
when a search runs (it imports Ray Tune).
"""

from __future__ import annotations

from typing import Any

from ray.tune.search.optuna import OptunaSearch

__all__ = ["ScoredOptunaSearch"]


class ScoredOptunaSearch(OptunaSearch):
    """``OptunaSearch`` that passes Optuna only the results that carry the metric."""

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if isinstance(self.metric, str) and result.get(self.metric) is None:
            return
        super().on_trial_result(trial_id, result)
