"""The report's compute section, as data: what the search spent to reach its best, against a one-factor-at-a-time sweep and the run's own grid."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from tuner._run import Run

__all__ = ["ComputeInfo", "get_compute_info"]


@dataclass(frozen=True)
class ComputeInfo:
    """Compute this run spent, in all and until it reached its best, against what a person
    would otherwise run: a one-factor-at-a-time sweep of the same space (and, for a run that
    is itself a grid, that grid)."""

    trial_epochs: int = 0  # every trial-epoch of the run, probe stage included
    probe_trial_epochs: int = 0
    device_hours: float = 0.0  # GPU-hours, or CPU trial-hours on a machine without GPUs
    gpu: bool = False
    best_trial: str | None = None
    best_value: float = float("nan")
    epochs_to_best: int | None = None  # trial-epochs (all trials) ended by the time the best epoch ended
    hours_to_best: float = float("nan")
    sweep_runs: int = 0  # full trainings of a one-factor-at-a-time sweep of the space
    sweep_trial_epochs: int = 0
    sweep_device_hours: float = float("nan")
    continuous: list[str] = field(default_factory=list)
    continuous_levels: int = 3
    grid_run: bool = False  # the run is the space's exhaustive grid (budget.sampler grid)
    note: str | None = None

    @property
    def empty(self) -> bool:
        """Nothing to draw."""
        return self.note is not None or self.trial_epochs == 0


def _present(value: Any) -> bool:
    """Not None, NaN or pandas' NA."""
    try:
        return value is not None and not bool(value != value)
    except TypeError:  # pandas.NA refuses bool()
        return False


def _epochs_until(df: Any, moment: float) -> int | None:
    """Trial-epochs of every trial that ended at or before ``moment`` (wall clock)."""
    count = 0
    for text in df["history"]:
        for h in json.loads(text) if isinstance(text, str) else []:
            t = h.get("time")
            if t is None:
                return None  # a run written before epochs carried their time
            count += t <= moment
    return count


def get_compute_info(run: Run) -> ComputeInfo:
    """Trial-epochs and device-hours spent in all and until the best epoch, and the cost of a
    one-factor-at-a-time sweep of the same space at full epochs.

    Device-hours are each trial's set-up plus training seconds (times its GPUs). "Until the
    best" counts every trial-epoch, of any trial or stage, that ended no later than the best
    trial's best epoch; its hours are the run's hours in that proportion. The sweep trains
    each value of each varying parameter once per architecture (the search records how many
    trainings that is in the leaderboard's metadata, ``sweep``) for ``max_epochs``, at this
    run's mean seconds per epoch plus its mean start-up per trial.
    """
    df = run.df
    if df.empty:
        return ComputeInfo(note="no trials")
    epochs = int(df["epochs_run"].fillna(0).sum())
    probe = int(df[df["stage"] == "probe"]["epochs_run"].fillna(0).sum())
    gpus = df["gpus"].fillna(0).astype(float) if "gpus" in df else None
    per_trial = df["train_seconds"].fillna(0) + df["setup_seconds"].fillna(0)
    gpu = bool(gpus is not None and (gpus > 0).any())
    weight = gpus.clip(lower=1.0) if gpus is not None else 1.0
    hours = float((per_trial * weight).sum() / 3600.0)
    best = run.best_row()
    best_trial, best_value, to_best, hours_to_best = None, float("nan"), None, float("nan")
    if best is not None and best.best_epoch is not None:
        best_trial, best_value = best.trial_id, float(best.objective or 0)
        moment = next((h.time for h in best.history if h.epoch == best.best_epoch), None)
        if moment is not None:
            to_best = _epochs_until(df, float(moment))
            if to_best is not None and epochs:
                hours_to_best = hours * to_best / epochs
    sweep = run.meta.sweep
    if sweep is None or not run.meta.max_epochs:
        note = "the run does not record its one-factor sweep (a run of an older tuner); cannot size a sweep"
        return ComputeInfo(epochs, probe, hours, gpu, best_trial, best_value, to_best, hours_to_best, note=note)
    runs, continuous = sweep.one_factor_runs, list(sweep.continuous)
    max_epochs = int(run.meta.max_epochs)
    trained = df[df["epochs_run"].fillna(0) > 0]
    spe = float(trained["train_seconds"].fillna(0).sum() / trained["epochs_run"].sum()) if not trained.empty else float("nan")
    mean_gpus = float(gpus.clip(lower=1.0)[trained.index].mean()) if gpus is not None and not trained.empty else 1.0
    setup = float(trained["setup_seconds"].fillna(0).mean()) if not trained.empty else 0.0
    sweep_hours = runs * (max_epochs * spe + setup) * mean_gpus / 3600.0 if math.isfinite(spe) else float("nan")
    return ComputeInfo(
        epochs, probe, hours, gpu, best_trial, best_value, to_best, hours_to_best,
        runs, runs * max_epochs, sweep_hours, continuous, sweep.continuous_levels, sweep.grid,
    )  # fmt: skip
