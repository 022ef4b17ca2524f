"""The run's leaderboard while a search runs: rows from the trial files, metadata, remote copy.

Written by the driver at stage ends and by ``LeaderboardCallback``'s writer thread between;
neither Ray nor TensorFlow is imported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuner._io import read_json
from tuner._run import GROUPINGS_DIR, MLFLOW_FILE, OPTUNA_DB, PLAN_FILE, TEST_SCORES_FILE
from tuner.errors import DataError
from tuner.leaderboard import FILENAME, FORMAT_VERSION, DatasetMeta, RunMeta, SweepMeta, TrialRow, TrialStatus, write_leaderboard
from tuner.search.driver._rows import TRACKED_FILE, collect_rows
from tuner.search.plan._contracts import Plan
from tuner.search.plan._plan import random_weight_architectures
from tuner.search.space._grid import sweep_info

__all__ = ["local_checkpoint", "test_scores", "tune_storage", "write_run_leaderboard"]


def _metadata(plan: Plan, ended: str | None = None) -> dict[str, Any]:
    """The leaderboard's metadata, as its typed record (``RunMeta``) writes it."""
    meta = RunMeta(
        format_version=FORMAT_VERSION,
        tuner_version=plan.tuner_version,
        name=plan.name,
        space=plan.space.model_dump(mode="json"),
        space_source=plan.space_source,
        dataset=DatasetMeta(root=plan.data_dir, identity=plan.identity, classes=list(plan.class_names)),
        metric=plan.metric,
        mode=plan.mode,
        grouping_files=dict(plan.grouping_files),
        common_grouping_file=plan.common_grouping_file,
        num_samples=plan.num_samples,
        max_epochs=plan.max_epochs,
        kind=plan.kind,
        working_size=plan.working_size,
        started=plan.started,
        ended=ended,
        sweep=SweepMeta(**sweep_info(plan.space, random_weight_architectures(plan))),
    )
    return meta.model_dump(mode="json")


def test_scores(run_dir: Path) -> dict[str, dict[str, float]]:
    path = run_dir / TEST_SCORES_FILE
    return read_json(path, "the run's test scores", DataError) if path.is_file() else {}


def write_run_leaderboard(
    run_dir: Path,
    plan: Plan,
    running: set[str] | None = None,
    ended: str | None = None,
    fresh: dict[str, str] | None = None,
    stopped: set[str] | None = None,
) -> list[TrialRow]:
    """Collect every trial's row from the run's files and rewrite the leaderboard atomically.

    ``fresh`` maps trial ids to Tune's local staging folders, which are ahead of the run
    directory between two experiment checkpoints. ``stopped``: trials running when the user
    stopped the search.
    """
    rows = collect_rows(run_dir, plan.metric, plan.mode, running, test_scores(run_dir), fresh, tune_storage(run_dir, plan)[1], stopped)
    rows = _without_probe_common(rows, plan)
    write_leaderboard(run_dir / FILENAME, rows, _metadata(plan, ended))
    _sync_study(run_dir, plan, rows)
    if plan.mlflow_uri:
        _sync_mlflow(run_dir, plan, rows, ended)
    if plan.remote:
        _upload_driver_files(run_dir, plan.remote)
    return rows


_study_warned: set[str] = set()


def _sync_study(run_dir: Path, plan: Plan, rows: list[TrialRow]) -> None:
    """``RUN_DIR/optuna.db`` follows the leaderboard; a failure there is one warning, never
    a failed search (the leaderboard is the record, the study a view of it)."""
    from tuner.search.driver._console import say
    from tuner.search.driver._study import sync_study
    from tuner.search.plan._plan import stage_space

    try:
        stages: dict[str, Any] = {stage: stage_space(plan, stage) for stage in sorted({r.stage for r in rows})}
        sync_study(run_dir / OPTUNA_DB, rows, stages, plan.metric, plan.mode)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        key = f"{run_dir}:{type(exc).__name__}"
        if key not in _study_warned:
            _study_warned.add(key)
            say(f"warning: {run_dir / OPTUNA_DB} could not be updated ({type(exc).__name__}: {str(exc)[:200]}); the leaderboard is unaffected", err=True)


def _sync_mlflow(run_dir: Path, plan: Plan, rows: list[TrialRow], ended: str | None) -> None:
    from tuner._run import CONFUSION_FILE
    from tuner.search.driver._console import say
    from tuner.search.driver._mlflow import sync_mlflow

    def confusion(row: TrialRow) -> Path | None:
        folder = local_checkpoint(run_dir, plan, row.checkpoint_path)
        path = folder / CONFUSION_FILE if folder else None
        return path if path is not None and path.is_file() else None

    best = None
    if ended:
        sign = 1.0 if plan.mode == "max" else -1.0
        scored = [r for r in rows if r.stage == "search" and r.objective is not None and r.status in (TrialStatus.COMPLETED, TrialStatus.STOPPED_EARLY)]
        best = max(scored, key=lambda r: sign * float(r.objective or 0)).trial_id if scored else None
    sync_mlflow(run_dir, str(plan.mlflow_uri), plan.name, rows, confusion, best, lambda line: say(line, err=True))


def _upload_driver_files(run_dir: Path, remote: str) -> None:
    """Copy what only the driver writes into the remote run folder, so it is a whole run."""
    from tuner._storage import upload_files

    files = [run_dir / FILENAME, run_dir / PLAN_FILE, run_dir / TEST_SCORES_FILE, run_dir / OPTUNA_DB, run_dir / MLFLOW_FILE]
    files += sorted((run_dir / GROUPINGS_DIR).glob("*.yaml")) + sorted(run_dir.glob(f"*/{TRACKED_FILE}"))
    upload_files(run_dir, files, remote)


def _without_probe_common(rows: list[TrialRow], plan: Plan) -> list[TrialRow]:
    """Probe trials have no score on the common label space: it was clustered from their own
    validation confusions, so scoring them on it would be circular. Their fine-label scores
    (``val_accuracy``) stay; their ``val_accuracy_common`` and, when that is the metric, their
    ``objective`` are left empty, so nothing ranks or plots them beside the search's trials."""
    if not plan.common_grouping_file:
        return rows
    blank = {"val_accuracy_common": None, **({"objective": None} if plan.metric == "val_accuracy_common" else {})}
    return [r.model_copy(update=blank) if r.stage == "probe" else r for r in rows]


def tune_storage(run_dir: Path, plan: Plan) -> tuple[Any, str]:
    """Tune's ``(storage_filesystem, storage_path)``: the remote run folder, or ``run_dir``."""
    if plan.remote:
        from tuner._storage import open_uri

        return open_uri(plan.remote)
    return None, str(run_dir)


def local_checkpoint(run_dir: Path, plan: Plan, rel: str | None) -> Path | None:
    """A checkpoint folder in the local run folder, fetched from remote storage if needed."""
    if not rel:
        return None
    path = run_dir / rel
    if path.is_dir():
        return path
    if plan.remote:
        from tuner._storage import download_dir

        return download_dir(plan.remote, rel, run_dir)
    return None
