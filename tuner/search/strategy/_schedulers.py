"""Tune schedulers tuner adds (imports Ray Tune: imported only when a search builds its scheduler)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from ray.tune.schedulers import ASHAScheduler

__all__ = ["HyperbandBrackets"]


class HyperbandBrackets(ASHAScheduler):
    """Asynchronous successive halving over Hyperband's brackets (Li et al. 2018, as ASHA's
    paper runs it): one bracket per number of rungs, from ASHA's own (first stop at
    ``grace_period``) down to one that never stops a trial, each new trial placed in bracket
    with ``k`` rungs with probability proportional to ``eta ** k / (k + 1)``, Hyperband's trial
    counts, so that every bracket spends about the same number of epochs.

    Why: how well an early epoch predicts the last one differs by problem; plain ASHA bets
    everything on the first rung, Ray's ``brackets`` puts e-fold fewer trials in each later
    bracket. Hyperband hedges the bet evenly. Placement uses numpy's global generator, as Ray's.

    With ``check_rungs`` (a replay candidate, not a default: BENCHMARKS.md "Search strategies")
    a rung stops trials only while it ranks trials as their last epoch does
    (:meth:`rung_trusted`): on a problem whose early epochs say little about the last one
    (MF-Hartmann's, Spearman -0.2..0.05 at epoch 1, against 0.24..0.45 on the image tables),
    early stopping throws good trials away at random; there the rung lets every trial on.
    """

    #: A rung is judged once this many trials have both its epoch and the last one.
    MIN_PAIRS = 8
    #: ... and trusted while the Spearman correlation of the two is at least this.
    MIN_RANK_CORRELATION = 0.3

    def __init__(
        self, *, time_attr: str, max_t: int, grace_period: int, reduction_factor: float, shares: str = "hyperband", check_rungs: bool = False, **kwargs: Any
    ) -> None:
        rungs = max(0, math.ceil(math.log(max_t / grace_period, reduction_factor) - 1e-9))
        # Bracket s starts at grace_period * eta**s; s = rungs has no rung below max_t.
        super().__init__(time_attr=time_attr, max_t=max_t, grace_period=grace_period, reduction_factor=reduction_factor, brackets=rungs + 1, **kwargs)
        counts = np.array([len(b._rungs) for b in self._brackets], dtype=float)
        # "hyperband": each bracket spends about the same epochs; "equal": the same trials.
        weights = reduction_factor**counts / (counts + 1) if shares == "hyperband" else np.ones_like(counts)
        self._shares = weights / weights.sum()
        self._check_rungs = check_rungs
        self._milestones = sorted({int(m) for b in self._brackets for m, _ in b._rungs})
        self._last = max_t - 1  # a trial's last epoch (max_t is one past it; see make_scheduler)
        self._values: dict[str, dict[int, float]] = {}  # trial -> {rung epoch or last epoch: score}

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        action = super().on_trial_result(tune_controller, trial, result)
        if not self._check_rungs or self._time_attr not in result or self._metric not in result:
            return action
        epoch, value = int(result[self._time_attr]), float(self._metric_op or 1.0) * float(result[self._metric])
        if epoch in self._milestones or epoch >= self._last:
            self._values.setdefault(trial.trial_id, {})[min(epoch, self._last)] = value
        if action == self.STOP and epoch < self._last and not self.rung_trusted(epoch):
            self._num_stopped -= 1
            return self.CONTINUE
        return action

    def rung_trusted(self, epoch: int) -> bool:
        """Whether the rung at ``epoch`` may stop trials: too few trials reached both it and the
        last epoch to say (the default: stop), or their ranks at the two agree well enough. The
        pairs include trials the rung promoted, whose narrower range lowers the correlation; a
        distrusted rung then promotes every trial and the estimate recovers."""
        pairs = [(v[epoch], v[self._last]) for v in self._values.values() if epoch in v and self._last in v]
        if len(pairs) < self.MIN_PAIRS:
            return True
        from scipy.stats import spearmanr

        rho = spearmanr([a for a, _ in pairs], [b for _, b in pairs])[0]
        return bool(rho >= self.MIN_RANK_CORRELATION)  # NaN (all tied): False

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        super().on_trial_add(tune_controller, trial)  # its checks, and Ray's own placement...
        idx = int(np.random.choice(len(self._brackets), p=self._shares))  # ...replaced by Hyperband's shares
        self._trial_info[trial.trial_id] = self._brackets[idx]

    @property
    def bracket_shares(self) -> list[tuple[int, float]]:
        """(rungs, share of new trials) per bracket."""
        return [(len(b._rungs), float(p)) for b, p in zip(self._brackets, self._shares)]
