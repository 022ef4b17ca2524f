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
- Every suggested config carries :data:`REPEAT`: how many earlier trials had the same
  parameters. The trial trains with ``seed + repeat``, so a configuration proposed again is a
  second opinion on it (another initialisation and data order), not the same training twice.
- With ``confirm`` > 1, the incumbent (the configuration with the best mean score over its
  finished trials) is trained again, with the next seed, until ``confirm`` trials of it have
  run, before the sampler proposes anything new: SMAC's intensification (Hutter et al.
  2011). On a small validation set a configuration can top the leaderboard on one lucky
  initialisation; a search that ranks configurations by their mean
  (:func:`tuner.leaderboard.rank_rows`) and confirms its incumbent does not pick it.

Imported only when a search runs (it imports Ray Tune).
"""

from __future__ import annotations

from typing import Any

from ray.tune.search.optuna import OptunaSearch

from tuner.leaderboard import REPEAT

__all__ = ["ScoredOptunaSearch"]


class ScoredOptunaSearch(OptunaSearch):
    """``OptunaSearch`` that passes Optuna only scored results, at their epoch, and tells
    early-stopped trials as pruned when ``full_epochs`` is given."""

    def __init__(self, *args: Any, full_epochs: int | None = None, confirm: int = 1, confirm_top: int = 1, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.full_epochs = full_epochs
        self.confirm = confirm
        self.confirm_top = confirm_top

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        # getattr: a searcher saved before ``confirm`` existed resumes without confirmation.
        if trial_id not in self._ot_trials and getattr(self, "confirm", 1) > 1:
            incumbent = self._unconfirmed_incumbent()
            if incumbent is not None:
                self._ot_study.enqueue_trial(incumbent, skip_if_exists=False)  # type: ignore[attr-defined]
        config = super().suggest(trial_id)
        if isinstance(config, dict) and trial_id in self._ot_trials:
            config[REPEAT] = self._trainings_before(trial_id)
        return config

    def _trainings_before(self, trial_id: str) -> int:
        """How many earlier trials of the study have this trial's parameters."""
        mine = self._ot_trials[trial_id]
        trials = self._ot_study.get_trials(deepcopy=False)  # type: ignore[attr-defined]
        return sum(1 for t in trials if t.number < mine.number and t.params == mine.params)

    def _unconfirmed_incumbent(self) -> dict[str, Any] | None:
        """The parameters of the best configuration by mean score (of the ``confirm_top``
        best) of which fewer than ``confirm`` trials have run or are running, unless a queued
        trial (the prior's) waits."""
        from optuna.trial import TrialState

        from tuner.leaderboard import config_key
        from tuner.search.strategy._samplers import ranked_configurations

        trials = self._ot_study.get_trials(deepcopy=False)  # type: ignore[attr-defined]
        if any(t.state == TrialState.WAITING for t in trials):
            return None
        leaders = ranked_configurations(trials, self._mode or "max")
        running = [config_key(t.params) for t in trials if t.state == TrialState.RUNNING]
        for config, (best, trained) in list(leaders.items())[: getattr(self, "confirm_top", 1)]:
            if trained + running.count(config) < self.confirm:
                return dict(best.params)
        return None

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
