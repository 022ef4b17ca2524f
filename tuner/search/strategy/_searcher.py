"""Tune's Optuna searcher, told what happened to each trial.

Two differences from Ray 2.60's ``OptunaSearch``:

- A result with no score (a NaN first epoch, a user error in its worker) carries no
  ``objective`` at all rather than a made-up worst value: ASHA already skips such a result,
  and Optuna records the trial as failed or pruned when it ends. ``OptunaSearch`` alone raises
  ``KeyError`` on it (``on_trial_result`` reads ``result[metric]``).
- With ``full_epochs``, a trial stopped before it finished (ASHA stopped it: its last result
  says ``finished: False``) is told as ``PRUNED``, with its per-epoch values reported at their
  epoch, instead of ``COMPLETE`` with the score of its first epoch or two. Optuna's TPE then
  ranks it by how far it got (optuna issue 4211: low- and full-fidelity values are not one
  population).

Imported only when a search runs (it imports Ray Tune).
"""

from __future__ import annotations

from typing import Any

from ray.tune.search.optuna import OptunaSearch

__all__ = ["ScoredOptunaSearch"]


class ScoredOptunaSearch(OptunaSearch):
    """``OptunaSearch`` that passes Optuna only scored results, at their epoch, and tells
    early-stopped trials as pruned when ``full_epochs`` is given."""

    def __init__(self, *args: Any, full_epochs: int | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.full_epochs = full_epochs

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if not isinstance(self.metric, str) or result.get(self.metric) is None:
            return
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        step = result.get("epoch") or result.get("training_iteration")
        trial = self._ot_trials[trial_id]
        if step is not None and int(step) not in trial.storage.get_trial(trial._trial_id).intermediate_values:
            trial.report(float(result[self.metric]), int(step))

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        stopped = result is not None and result.get("finished") is False and not error
        # getattr: a search saved before full_epochs existed resumes with Ray's tell.
        if getattr(self, "full_epochs", None) is None or not stopped or trial_id in self._completed_trials or trial_id not in self._ot_trials:
            super().on_trial_complete(trial_id, result=result, error=error)
            return
        import optuna

        self.on_trial_result(trial_id, result)  # type: ignore[arg-type]  # Tune does not pass a stopping result on
        try:
            self._ot_study.tell(self._ot_trials[trial_id], state=optuna.trial.TrialState.PRUNED)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - as OptunaSearch: a bad tell must not stop the search
            import logging

            logging.getLogger("tuner.search").warning("could not tell Optuna trial %s: %s", trial_id, exc)
        self._completed_trials.add(trial_id)
