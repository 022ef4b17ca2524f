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
    """

    def __init__(self, *, time_attr: str, max_t: int, grace_period: int, reduction_factor: float, shares: str = "hyperband", **kwargs: Any) -> None:
        rungs = max(0, math.ceil(math.log(max_t / grace_period, reduction_factor) - 1e-9))
        # Bracket s starts at grace_period * eta**s; s = rungs has no rung below max_t.
        super().__init__(time_attr=time_attr, max_t=max_t, grace_period=grace_period, reduction_factor=reduction_factor, brackets=rungs + 1, **kwargs)
        counts = np.array([len(b._rungs) for b in self._brackets], dtype=float)
        # "hyperband": each bracket spends about the same epochs; "equal": the same trials.
        weights = reduction_factor**counts / (counts + 1) if shares == "hyperband" else np.ones_like(counts)
        self._shares = weights / weights.sum()

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        super().on_trial_add(tune_controller, trial)  # its checks, and Ray's own placement...
        idx = int(np.random.choice(len(self._brackets), p=self._shares))  # ...replaced by Hyperband's shares
        self._trial_info[trial.trial_id] = self._brackets[idx]

    @property
    def bracket_shares(self) -> list[tuple[int, float]]:
        """(rungs, share of new trials) per bracket."""
        return [(len(b._rungs), float(p)) for b, p in zip(self._brackets, self._shares)]
