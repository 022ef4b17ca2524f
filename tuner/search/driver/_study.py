"""The search as an Optuna study on disk: ``RUN_DIR/optuna.db``, for ``optuna-dashboard``.

Ray Tune keeps the sampler's Optuna study in memory (it dies with the driver) and tells it
every trial ASHA stopped as ``COMPLETE``. The study here is written from the leaderboard rows
instead, so it always agrees with the leaderboard, survives ``--resume`` and a crash (it is
rebuilt from the same files), and says what happened: one study per stage (``probe``,
``search``); per trial the parameters exactly as the sampler drew them (with their
distributions), the objective as its value, the metric of every epoch as intermediate values
(step = epoch), and its state: ``COMPLETE``, ``PRUNED`` (stopped early by ASHA), ``FAIL``
(failed, or interrupted by a driver crash) or ``RUNNING``. User attributes carry tuner's
trial id, status, failure reason and epochs.

:func:`sync_study` is a pure mapping (:func:`study_trials`) plus one side effect: add the
trials the database lacks, bring running ones up to date. It never deletes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tuner.leaderboard import TrialRow, TrialStatus

__all__ = ["STATES", "StudyTrial", "study_trials", "sync_study"]

#: Leaderboard status -> Optuna trial state name.
STATES: dict[str, str] = {
    TrialStatus.COMPLETED: "COMPLETE",
    TrialStatus.STOPPED_EARLY: "PRUNED",
    TrialStatus.FAILED: "FAIL",
    TrialStatus.INTERRUPTED: "FAIL",
    TrialStatus.RUNNING: "RUNNING",
}

_storages: dict[str, Any] = {}
_lock = threading.Lock()  # the leaderboard writer thread and the driver both sync


@dataclass(frozen=True)
class StudyTrial:
    """One leaderboard row as an Optuna trial: what :func:`sync_study` writes."""

    trial_id: str
    state: str  # an optuna.trial.TrialState name
    value: float | None
    params: dict[str, Any]
    distributions: dict[str, Any]
    intermediate: dict[int, float]
    user_attrs: dict[str, Any]


def _sampled(space_fn: Any, row: TrialRow) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameters the sampler drew for ``row`` under their sampled names, with their
    distributions: the stage's define-by-run function replayed on the row's values."""
    import optuna

    arch = row.architecture
    values: dict[str, Any] = {"architecture": arch, **row.params}
    for name in ("unfrozen_blocks", "input_size"):  # sampled per architecture (their ranges differ)
        values[f"{name}.{arch}"] = row.param(name)
    fixed = optuna.trial.FixedTrial(values)
    space_fn(fixed)
    return dict(fixed.params), dict(fixed.distributions)


def study_trials(rows: Sequence[TrialRow], stage: str, space_fn: Any, metric: str) -> list[StudyTrial]:
    """The Optuna trials of one stage's rows, in trial order (pure)."""

    def started(row: TrialRow) -> tuple[float, str]:
        first = row.history[0].time if row.history else None
        return (float(first) if first is not None else float("inf"), row.trial_id)

    out = []
    for row in sorted((r for r in rows if r.stage == stage), key=started):  # trial numbers in start order
        params, distributions = _sampled(space_fn, row)
        intermediate = {int(h.epoch): v for h in row.history if h.epoch is not None and (v := h.value(metric)) is not None}
        state = STATES.get(str(row.status), "FAIL")
        value = row.objective if state == "COMPLETE" else None
        if state == "COMPLETE" and value is None:
            state = "FAIL"  # finished without a score: Optuna's COMPLETE needs a value
        attrs: dict[str, Any] = {"trial_id": row.trial_id, "status": str(row.status), "epochs_run": int(row.epochs_run or 0), "repeat": row.repeat}
        if row.failure_reason:
            attrs["failure_reason"] = row.failure_reason
        out.append(StudyTrial(row.trial_id, state, value, params, distributions, intermediate, attrs))
    return out


def _storage(db: Path) -> Any:
    import optuna

    url = f"sqlite:///{db}"
    if url not in _storages:
        # A reader (optuna-dashboard) may hold the file: wait for it rather than fail.
        _storages[url] = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 30}})
    return _storages[url]


def sync_study(db: Path, rows: Sequence[TrialRow], stages: dict[str, Any], metric: str, mode: str) -> None:
    """Bring ``db`` in line with ``rows``: ``stages`` maps each stage name to its
    define-by-run function (the parameters' distributions come from it)."""
    import optuna
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with _lock:
        storage = _storage(db)
        for stage, space_fn in stages.items():
            wanted = study_trials(rows, stage, space_fn, metric)
            if not wanted:
                continue
            direction: Literal["maximize", "minimize"] = "maximize" if mode == "max" else "minimize"
            study = optuna.create_study(storage=storage, study_name=stage, direction=direction, load_if_exists=True)
            have = {t.user_attrs.get("trial_id"): t for t in study.get_trials(deepcopy=False)}
            if any(_changed(have[t.trial_id], t) for t in wanted if t.trial_id in have and have[t.trial_id].state != TrialState.RUNNING):
                # A finished trial came back (a stopped search resumed it): Optuna cannot
                # reopen a finished trial, so the stage's study is written again.
                optuna.delete_study(study_name=stage, storage=storage)
                study = optuna.create_study(storage=storage, study_name=stage, direction=direction)
                have = {}
            for t in wanted:
                old = have.get(t.trial_id)
                if old is None:
                    study.add_trial(
                        create_trial(
                            state=TrialState[t.state],
                            value=t.value,
                            params=t.params,
                            distributions=t.distributions,
                            intermediate_values=t.intermediate,
                            user_attrs=t.user_attrs,
                        )
                    )
                    continue
                if old.state != TrialState.RUNNING:
                    continue  # finished trials never change
                internal = old._trial_id
                for step, v in t.intermediate.items():
                    if old.intermediate_values.get(step) != v:
                        storage.set_trial_intermediate_value(internal, step, v)
                for key, v in t.user_attrs.items():
                    if old.user_attrs.get(key) != v:
                        storage.set_trial_user_attr(internal, key, v)
                if t.state != "RUNNING":
                    storage.set_trial_state_values(internal, TrialState[t.state], None if t.value is None else [t.value])


def _changed(old: Any, new: StudyTrial) -> bool:
    """Whether a stored finished trial no longer says what the leaderboard says."""
    value = old.value if old.values else None
    return (
        old.state.name != new.state
        or value != new.value
        or dict(old.intermediate_values) != new.intermediate
        or any(old.user_attrs.get(k) != v for k, v in new.user_attrs.items())
    )
