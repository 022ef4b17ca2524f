"""The run folder: the one place its layout is named, and its readers.

Every path a run folder holds is a constant here (the search's own files and the Tune files
it reads: ``params.json``, ``result.json``, ``error.txt``); writers name them from here and
write through :func:`tuner._io.write_atomic` (temp file, fsync, rename), readers validate what
they load and say which file is damaged. Adding a file to a run folder is one constant here.

A run folder read back (reports, suggestions, export) comes from its files only: nothing is
read from Ray, so a run folder copied to another machine works the same.

    RUN_DIR/
      leaderboard.parquet   rows + metadata (tuner.leaderboard)   run.json        the plan
      optuna.db             the search as Optuna studies           mlflow.json     MLflow run ids
      test_scores.json      test accuracy of the top trials        ray.log         Ray's output
      groupings/*.yaml      grouping candidates, common.yaml       report/         the HTML report
      epochs/<stage>/<trial>.jsonl                                 every report a trial made
      <stage>/stopped.json, <stage>/tracked_trials.json           a stage's end
      <stage>/<trial>/      params.json, result.json, error.txt (Tune's), failure.json,
                            recovered_errors.txt, checkpoint_epoch_NNNN/ (state.json,
                            model.weights.h5, confusion.npy)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tuner._io import read_json
from tuner.errors import ConfigError, DataError
from tuner.leaderboard import FILENAME, RunMeta, TrialRow, TrialStatus, rank_rows, read_leaderboard, rows_of

__all__ = [
    "COMMON_GROUPING_FILE",
    "CONFUSION_FILE",
    "ERROR_FILE",
    "GROUPINGS_DIR",
    "LEADERBOARD_FILE",
    "LOG_FILE",
    "PARAMS_FILE",
    "PLAN_FILE",
    "RECOVERED_FILE",
    "REPORT_DIR",
    "RESULT_FILE",
    "TEST_SCORES_FILE",
    "TRACKED_FILE",
    "EPOCHS_DIR",
    "FAILURE_FILE",
    "MLFLOW_FILE",
    "OPTUNA_DB",
    "STATE_FILE",
    "STOPPED_FILE",
    "WEIGHTS_FILE",
    "Run",
    "journal_path",
    "load_confusion",
    "load_run",
    "read_params",
]

# The checkpoint files a trial writes (tuner.search.worker._worker imports them from here).
CONFUSION_FILE = "confusion.npy"
WEIGHTS_FILE = "model.weights.h5"
#: The epoch, training state and metrics; written last, so its presence marks a whole checkpoint.
STATE_FILE = "state.json"
#: In a trial folder: why the trial failed (``{"reason": ...}``).
FAILURE_FILE = "failure.json"
#: In a trial folder: the errors Tune wrote (``error.txt``) of crashes the trial was restarted
#: from; ``error.txt`` itself then means only an error that ended the trial.
RECOVERED_FILE = "recovered_errors.txt"
#: ``RUN_DIR/epochs/<stage>/<trial_id>.jsonl``: every report a trial made, one JSON line each,
#: appended as it reaches Tune and kept across ``--resume`` (Tune's own ``result.json`` is
#: rewritten when a trial is restored).
EPOCHS_DIR = "epochs"
#: ``RUN_DIR/<stage>/stopped.json``: why the search stopped that stage early (``{"reason", "fatal"}``);
#: removed when ``--resume`` starts the stage again.
STOPPED_FILE = "stopped.json"
#: ``RUN_DIR/optuna.db``: the search as an Optuna study per stage (``optuna-dashboard sqlite:///RUN_DIR/optuna.db``).
OPTUNA_DB = "optuna.db"
#: ``RUN_DIR/mlflow.json``: where a tracked run's MLflow runs are (``{"uri", "experiment_id", "runs": {trial_id: run_id}}``).
MLFLOW_FILE = "mlflow.json"


def journal_path(run_dir: str | os.PathLike[str], stage: str, trial_id: str) -> Path:
    """The report journal of one trial."""
    return Path(run_dir) / EPOCHS_DIR / stage / f"{trial_id}.jsonl"


#: ``RUN_DIR/run.json``: the search's plan (tuner.search's ``Plan``), written before the first trial.
PLAN_FILE = "run.json"
#: ``RUN_DIR/leaderboard.parquet`` (its format: tuner.leaderboard).
LEADERBOARD_FILE = FILENAME
#: ``RUN_DIR/groupings/``: the grouping candidates a search used (``auto_*.yaml`` it derived).
GROUPINGS_DIR = "groupings"
#: ``RUN_DIR/groupings/common.yaml``: the common label space every candidate maps into.
COMMON_GROUPING_FILE = "common.yaml"
#: ``RUN_DIR/test_scores.json``: ``{trial_id: {metric: value}}`` of the top trials on the test split.
TEST_SCORES_FILE = "test_scores.json"
#: ``RUN_DIR/<stage>/tracked_trials.json``: the trial folders Tune tracked when the stage ended.
TRACKED_FILE = "tracked_trials.json"
#: ``RUN_DIR/ray.log``: Ray's and the workers' own output (the console shows tuner's).
LOG_FILE = "ray.log"
#: ``RUN_DIR/report/``: ``python -m tuner.report``'s default output.
REPORT_DIR = "report"
#: Tune's files in a trial folder: the sampled config, one JSON line per report, the error that ended it.
PARAMS_FILE = "params.json"
RESULT_FILE = "result.json"
ERROR_FILE = "error.txt"


class RunPlan(BaseModel):
    """What the readers of a finished run (report, export, suggestions) need of its
    ``run.json``: a typed view of tuner.search's ``Plan`` that also reads an older plan
    (absent fields are their defaults; fields it does not need are ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    data_dir: str | None = None
    metric: str | None = None
    mode: str | None = None
    class_names: tuple[str, ...] = ()
    grouping_files: dict[str, str] = {}
    remote: str | None = None
    working_size: int | None = None
    kind: Literal["finetune", "scratch"] | None = None
    split_seed: int = 0
    class_name_pattern: str | None = None


@dataclass(frozen=True)
class Run:
    """One run folder: its leaderboard (typed rows, and the same as a DataFrame for the report's
    tables and figures), metadata and plan (``{}`` if ``run.json`` is gone)."""

    path: Path
    df: Any  # pandas.DataFrame
    meta: RunMeta
    plan: RunPlan
    rows: tuple[TrialRow, ...] = ()

    @property
    def metric(self) -> str:
        return self.meta.metric or self.plan.metric or "val_accuracy"

    @property
    def mode(self) -> str:
        return self.meta.mode or self.plan.mode or "max"

    @property
    def class_names(self) -> list[str]:
        return list(self.meta.dataset.classes or self.plan.class_names)

    def file(self, path: str | None) -> Path | None:
        """A file the run refers to; the run folder's own copy (``groupings/``) comes first,
        so a run folder moved or copied elsewhere still finds its groupings."""
        if not path:
            return None
        own = self.path / "groupings" / Path(path).name
        if own.is_file():
            return own
        p = Path(path)
        return p if p.is_absolute() else self.path / p

    def grouping_file(self, grouping: Any) -> Path | None:
        """The YAML file of a grouping candidate (``None`` for ``none``)."""
        if not isinstance(grouping, str) or grouping == "none":
            return None  # None, NaN or pandas' NA: the trial had no grouping
        files = self.meta.grouping_files or self.plan.grouping_files
        if str(grouping) not in files:
            raise DataError(f"{self.path}: grouping {grouping!r} of a trial is not among the run's grouping files {sorted(files)}")
        return self.file(files[str(grouping)])

    def label_names(self, grouping: Any) -> list[str]:
        """Output label names of a trial trained with ``grouping``, in output order."""
        from tuner.data import Grouping, load_grouping

        path = self.grouping_file(grouping)
        if path is None:
            return list(Grouping.identity(self.class_names).names)
        if not path.is_file():
            raise DataError(f"{self.path}: the grouping file {path} is missing; copy it back into {self.path / 'groupings'}")
        return list(load_grouping(path).remap(self.class_names).names)

    def has_checkpoint(self, row: TrialRow) -> bool:
        """Whether a row's checkpoint exists, without fetching it from remote storage."""
        rel = row.checkpoint_path
        if not rel:
            return False
        path = Path(rel) if os.path.isabs(rel) else self.path / rel
        return path.is_dir() or bool(self.plan.remote and not os.path.isabs(rel))

    def checkpoint(self, row: TrialRow) -> Path | None:
        """The folder of a row's best checkpoint, or ``None`` if it has none on disk."""
        rel = row.checkpoint_path
        if not rel:
            return None
        path = Path(rel) if os.path.isabs(rel) else self.path / rel
        if path.is_dir():
            return path
        if self.plan.remote and not os.path.isabs(rel):
            # The run's checkpoints are on object storage: fetch this one into the local folder.
            from tuner._storage import download_dir

            return download_dir(self.plan.remote, rel, self.path)
        return None

    def best_row(self, *, with_checkpoint: bool = False, fine_labels_only: bool = False) -> TrialRow | None:
        """The best trial of the best configuration (search stage first; scored, not failed;
        ``tuner.leaderboard.rank_rows``), or ``None``."""
        # Ranked over every trial, then filtered: a configuration's mean counts all its trainings,
        # whether or not each kept a checkpoint.
        for r in rank_rows(self.rows, mode=self.mode):
            if r.status == TrialStatus.FAILED or r.objective is None:
                continue
            if fine_labels_only and self.class_names and r.n_classes != len(self.class_names):
                continue
            if with_checkpoint and not self.has_checkpoint(r):
                continue
            return r
        return None

    def row(self, trial_id: str) -> TrialRow:
        """The row of ``trial_id``.

        Raises:
            ConfigError: no such trial (the message lists a few that exist).
        """
        for row in self.rows:
            if row.trial_id == trial_id:
                return row
        from difflib import get_close_matches

        ids = [r.trial_id for r in self.rows]
        close = get_close_matches(trial_id, ids, n=5, cutoff=0.3) or ids[:5]
        raise ConfigError(f"trial {trial_id!r} is not a trial of {self.path}; trials include: {', '.join(close)}")


def load_run(run_dir: str | os.PathLike[str]) -> Run:
    """Read a run folder.

    Raises:
        DataError: the folder does not exist, holds no leaderboard, or one of a newer format.
    """
    from tuner._io import user_path

    path = user_path(str(run_dir), "run folder", DataError)
    if path.exists() and not path.is_dir():
        raise DataError(f"{str(path)!r} is a file, not a run directory; give the folder a search wrote (runs/<name>)")
    df, meta = read_leaderboard(path)
    plan = RunPlan()
    plan_file = path / PLAN_FILE
    if plan_file.exists():
        from pydantic import ValidationError

        try:
            plan = RunPlan.model_validate(read_json(plan_file, "the run's plan", DataError))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise DataError(f"{plan_file} is damaged ({where}: {first['msg'][:80]}); restore it from a copy") from None
    return Run(path=path.resolve(), df=df, meta=RunMeta.model_validate(meta), plan=plan, rows=tuple(rows_of(df, path / FILENAME)))


def read_params(trial_dir: Path) -> dict[str, Any]:
    """A trial's sampled parameters (Tune's ``params.json``), checked to be a JSON object."""
    return read_json(trial_dir / PARAMS_FILE, "the trial's parameters", DataError)


def load_confusion(path: Path, labels: int | None = None) -> Any:
    """A trial's validation confusion counts: a square array of finite counts >= 0
    (``labels`` x ``labels`` when given).

    Raises:
        DataError: the file is unreadable or not such an array (a damaged checkpoint).
    """
    import numpy as np

    try:
        counts = np.load(path, allow_pickle=False)
    except OSError as exc:
        from tuner._io import os_problem

        raise DataError(f"{path}: {os_problem(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - numpy raises ValueError, EOFError, ... on damage
        raise DataError(f"{path} is damaged ({type(exc).__name__}); pick another trial, or re-run this one") from None
    square = counts.ndim == 2 and counts.shape[0] == counts.shape[1] and counts.shape[0] >= 2
    if not square or counts.dtype.kind not in "iuf" or not np.isfinite(counts).all() or (counts < 0).any():
        raise DataError(f"{path} is damaged (not a square matrix of counts >= 0); pick another trial, or re-run this one")
    if labels is not None and counts.shape[0] != labels:
        raise DataError(f"{path} is {counts.shape[0]}x{counts.shape[0]}, but the trial has {labels} labels; the checkpoint is damaged")
    return counts
