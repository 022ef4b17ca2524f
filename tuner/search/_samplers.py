"""Optuna samplers tuner adds (imports Optuna: imported only when a search builds its sampler)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

__all__ = ["ExploringSampler"]

_SEEN = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


class ExploringSampler(optuna.samplers.BaseSampler):
    """A model-based ``base`` sampler that keeps exploring: some of its trials are drawn
    uniformly at random instead.

    - ``every``: every ``every``-th trial (by number) is random: BOHB's random fraction
      (Falkner et al. 2018), SMAC's interleaved random configurations.
    - ``fresh``: a trial for which ``base`` proposes parameters some earlier trial (finished,
      stopped or still running) already has is random instead. On a discrete space a model
      that has narrowed in proposes the same few points again; KerasTuner's oracles likewise
      retry until the values are new.

    Which trials explore depends only on the study's history and the seed, so a search is
    reproducible. Shaped like Optuna's ``PartialFixedSampler`` (a wrapper that delegates per
    trial); module-level so Tune can pickle the searcher that holds it.
    """

    def __init__(self, base: optuna.samplers.BaseSampler, *, seed: int | None, every: int | None = None, fresh: bool = False) -> None:
        if every is not None and every < 2:
            raise ValueError(f"every must be at least 2 (every trial random is RandomSampler); got {every}")
        self._base = base
        self._random = optuna.samplers.RandomSampler(seed=None if seed is None else seed + 7919)
        self._every = every
        self._fresh = fresh
        self._redrawn: set[int] = set()  # trial numbers whose proposal was a repeat

    def _explores(self, trial: FrozenTrial) -> bool:
        return trial.number in self._redrawn or (self._every is not None and trial.number % self._every == self._every - 1)

    def reseed_rng(self) -> None:
        self._base.reseed_rng()
        self._random.reseed_rng()

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {} if self._explores(trial) else self._base.infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if self._explores(trial):
            return {}
        params = self._base.sample_relative(study, trial, search_space)
        if self._fresh and params and _repeats(study, trial, params):
            self._redrawn.add(trial.number)
            return {}
        return params

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution) -> Any:
        sampler = self._random if self._explores(trial) else self._base
        return sampler.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._base.before_trial(study, trial)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        self._redrawn.discard(trial.number)
        self._base.after_trial(study, trial, state, values)


def _repeats(study: optuna.Study, trial: FrozenTrial, params: dict[str, Any]) -> bool:
    """Whether an earlier trial has every one of ``params`` at the same value."""
    for other in study.get_trials(deepcopy=False, states=_SEEN):
        if other.number != trial.number and all(k in other.params and other.params[k] == v for k, v in params.items()):
            return True
    return False
