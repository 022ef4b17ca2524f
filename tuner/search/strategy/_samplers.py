"""Optuna samplers tuner adds (imports Optuna: imported only when a search builds its sampler)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

__all__ = ["BudgetSampler", "ExploringSampler", "ranked_configurations"]

_SEEN = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


class ExploringSampler(optuna.samplers.BaseSampler):
    """A model-based ``base`` sampler that keeps exploring: some of its trials are drawn
    uniformly at random instead.

    - ``every``: every ``every``-th trial (by number) is random: BOHB's random fraction
      (Falkner et al. 2018), SMAC's interleaved random configurations.
    - ``fresh``: a trial for which ``base`` proposes parameters that ``fresh`` earlier trials
      (finished, stopped or still running) already have is random instead (0: never). On a discrete space a model
      that has narrowed in proposes the same few points again; KerasTuner's oracles likewise
      retry until the values are new.

    - ``redraw``: what an exploring trial gets: ``"random"``, a uniform draw; ``"neighbour"``,
      an untried neighbour of the best configuration that has one (by mean score; one
      parameter moved: another category, the next value of an ordered choice or integer, a
      Gaussian step of a fifth of a float's range): SMAC's local search (Hutter et al. 2011),
      which keeps a repeat's trial near what works instead of anywhere.

    Which trials explore depends only on the study's history and the seed, so a search is
    reproducible. Shaped like Optuna's ``PartialFixedSampler`` (a wrapper that delegates per
    trial); module-level so Tune can pickle the searcher that holds it.
    """

    def __init__(
        self,
        base: optuna.samplers.BaseSampler,
        *,
        seed: int | None,
        every: int | None = None,
        fresh: int = 0,
        redraw: Literal["random", "neighbour"] = "random",
    ) -> None:
        if every is not None and every < 2:
            raise ValueError(f"every must be at least 2 (every trial random is RandomSampler); got {every}")
        if redraw not in ("random", "neighbour"):
            raise ValueError(f"redraw must be 'random' or 'neighbour'; got {redraw!r}")
        self._base = base
        self._random = optuna.samplers.RandomSampler(seed=None if seed is None else seed + 7919)
        self._every = every
        self._fresh = int(fresh)
        self._seed = seed or 0
        self._redraw = redraw
        self._redrawn: set[int] = set()  # trial numbers whose proposal was a repeat
        self._neighbours: dict[int, dict[str, Any]] = {}  # trial number -> its neighbour's params

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
        if self._fresh and params and _repeats(study, trial, params) >= self._fresh:
            self._redrawn.add(trial.number)
            return {}
        return params

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution) -> Any:
        if not self._explores(trial):
            return self._base.sample_independent(study, trial, param_name, param_distribution)
        if getattr(self, "_redraw", "random") == "neighbour":
            if trial.number not in self._neighbours:
                self._neighbours[trial.number] = _neighbour(study, trial, self._seed) or {}
            value = self._neighbours[trial.number].get(param_name)
            # A conditional parameter the neighbour does not have (another architecture's) is drawn at random.
            if value is not None and param_distribution._contains(param_distribution.to_internal_repr(value)):
                return value
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._base.before_trial(study, trial)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        self._redrawn.discard(trial.number)
        getattr(self, "_neighbours", {}).pop(trial.number, None)
        self._base.after_trial(study, trial, state, values)


def _repeats(study: optuna.Study, trial: FrozenTrial, params: dict[str, Any]) -> int:
    """How many other trials have every one of ``params`` at the same value."""
    return sum(
        1
        for other in study.get_trials(deepcopy=False, states=_SEEN)
        if other.number != trial.number and all(k in other.params and other.params[k] == v for k, v in params.items())
    )


def ranked_configurations(trials: Sequence[FrozenTrial], mode: str) -> dict[tuple[tuple[str, str], ...], tuple[FrozenTrial, int]]:
    """The finished trials' configurations, best mean score first, as the leaderboard ranks
    them (:func:`tuner.leaderboard.config_means`: one owner of the mean): configuration ->
    (its best-ranked trial, how many trainings the mean is over). Ties keep the trials' order."""
    from tuner.leaderboard import Scored, config_key, config_means

    done = [(t, t.value) for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    means = config_means((Scored(str(t.number), config_key(t.params), value, 0, False) for t, value in done), mode=mode)
    sign = -1.0 if mode == "max" else 1.0
    ranked: dict[tuple[tuple[str, str], ...], tuple[FrozenTrial, int]] = {}
    for t, _ in sorted(done, key=lambda d: sign * means[str(d[0].number)][0]):
        ranked.setdefault(config_key(t.params), (t, means[str(t.number)][1]))
    return ranked


def _neighbour(study: optuna.Study, trial: FrozenTrial, seed: int) -> dict[str, Any] | None:
    """An untried neighbour (one parameter moved) of the best configuration by mean score
    that has one, or ``None``: each configuration's neighbours are tried in a random order."""
    import numpy as np

    from tuner.leaderboard import config_key

    mode = "max" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "min"
    trials = study.get_trials(deepcopy=False)
    seen = {config_key(t.params) for t in trials if t.state in _SEEN and t.number != trial.number}
    rng = np.random.default_rng([seed, trial.number])
    for best, _ in ranked_configurations(trials, mode).values():
        moves = [(name, value) for name, dist in best.distributions.items() for value in _moves(best.params[name], dist, rng)]
        for i in rng.permutation(len(moves)):
            name, value = moves[int(i)]
            params = {**best.params, name: value}
            if config_key(params) not in seen:
                return params
    return None


def _moves(value: Any, dist: BaseDistribution, rng: Any) -> list[Any]:
    """The values one local step from ``value`` in ``dist``."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        choices = list(dist.choices)
        if all(isinstance(c, int | float) and not isinstance(c, bool) for c in choices):  # ordered: the next ones
            ordered = sorted(c for c in choices if isinstance(c, int | float))
            i = ordered.index(value)
            return [ordered[j] for j in (i - 1, i + 1) if 0 <= j < len(ordered)]
        return [c for c in choices if c != value]
    if isinstance(dist, IntDistribution):
        return [v for v in (value - dist.step, value + dist.step) if dist.low <= v <= dist.high]
    if isinstance(dist, FloatDistribution):
        import math

        to, back = (math.log, math.exp) if dist.log else (float, float)
        low, high = to(dist.low), to(dist.high)
        moved = min(max(to(value) + float(rng.normal(0.0, 0.2 * (high - low))), low), high)
        return [min(max(back(moved), dist.low), dist.high)]
    return []


class BudgetSampler(optuna.samplers.BaseSampler):
    """A model-based ``base`` sampler fitted at one training budget, as BOHB fits its model
    (Falkner et al. 2018): every trial's value at the largest epoch that at least
    ``min_trials`` trials have reached, trials that stopped before it left out.

    With early stopping, most trials stop at the first rung and a few run on; told as pruned,
    TPE ranks them by how far they got, so its "good" group is the few that the scheduler
    promoted and its proposals collapse onto them (the stall ``bench/replay.py --diagnose``
    shows). Fitted at one budget, the model compares like with like: first on every trial's
    first-rung score, then, once enough trials got further, on the longer trainings.
    Until ``min_trials`` trials have a value at the first budget, trials are random.

    The model sees a private in-memory study holding those values (rebuilt when the budget
    moves up, appended to otherwise); the real study, its trials and their states are untouched.
    """

    def __init__(self, base: optuna.samplers.BaseSampler, *, seed: int | None, min_trials: int) -> None:
        self._base = base
        self._random = optuna.samplers.RandomSampler(seed=None if seed is None else seed + 104729)
        self._min_trials = max(2, min_trials)
        self._view: optuna.Study | None = None
        self._view_budget = 0
        self._in_view: set[int] = set()

    def reseed_rng(self) -> None:
        self._base.reseed_rng()
        self._random.reseed_rng()

    def _refresh(self, study: optuna.Study) -> optuna.Study | None:
        """The view at the current budget, or ``None`` while too few trials have any value."""
        trials = [t for t in study.get_trials(deepcopy=False) if t.intermediate_values and t.state != TrialState.FAIL]
        reached: dict[int, int] = {}
        for t in trials:
            last = max(t.intermediate_values)
            reached[last] = reached.get(last, 0) + 1
        budget, count = 0, 0
        for epoch in sorted(reached, reverse=True):  # trials that reached ``epoch`` or further
            count += reached[epoch]
            if count >= self._min_trials:
                budget = epoch
                break
        if not budget:
            return None
        if self._view is None or budget != self._view_budget:
            self._view = optuna.create_study(directions=study.directions, storage=optuna.storages.InMemoryStorage())
            self._view_budget, self._in_view = budget, set()
        view = self._view
        for t in trials:
            if t.number in self._in_view or max(t.intermediate_values) < budget:
                continue
            value = _value_at(t, budget, study.direction)
            view.add_trial(optuna.trial.create_trial(params=t.params, distributions=t.distributions, value=value))
            self._in_view.add(t.number)
        # Optuna caches a study's trial list per thread until its next ask(); this study never asks.
        if hasattr(view, "_thread_local"):
            view._thread_local.cached_all_trials = None
        return view

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        view = self._refresh(study)
        return {} if view is None else self._base.infer_relative_search_space(view, trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if self._view is None or not search_space:
            return {}
        return self._base.sample_relative(self._view, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution) -> Any:
        if self._view is None:
            return self._random.sample_independent(study, trial, param_name, param_distribution)
        return self._base.sample_independent(self._view, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._base.before_trial(study, trial)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        self._base.after_trial(study, trial, state, values)


def _value_at(trial: FrozenTrial, budget: int, direction: optuna.study.StudyDirection) -> float:
    """The trial's best reported value up to ``budget`` epochs."""
    values = [v for step, v in trial.intermediate_values.items() if step <= budget]
    return max(values) if direction == optuna.study.StudyDirection.MAXIMIZE else min(values)
