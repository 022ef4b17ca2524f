"""The leaderboard: one Parquet row per trial, written atomically, read with plain pandas.

The one module the search writes through and the report reads through. The file carries
metadata under the ``tuner`` key of the Parquet schema: format version, resolved space,
dataset identity and class list, ``tuner`` version, start and end times.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from tuner._params import PARAM_COLUMNS
from tuner.errors import DataError

__all__ = [
    "FORMAT_VERSION",
    "FILENAME",
    "STATUSES",
    "DatasetMeta",
    "RunMeta",
    "SweepMeta",
    "TrialStatus",
    "columns",
    "write_leaderboard",
    "read_leaderboard",
    "read_metadata",
]

FORMAT_VERSION = 1
FILENAME = "leaderboard.parquet"
_META_KEY = b"tuner"


def columns() -> dict[str, str]:
    """Columns in order, with their dtype (pandas nullable dtypes so missing values stay typed)."""
    return {**_LEADING, **PARAM_COLUMNS, **_TRAILING}  # one column per searchable parameter (tuner/_params.py)


_LEADING: dict[str, str] = {
    "trial_id": "string",
    "stage": "string",  # probe | search
    "status": "string",  # completed | stopped_early (by ASHA) | failed | interrupted (driver died; epochs kept) | running
    "failure_reason": "string",
    "architecture": "string",
    "weights": "string",
}
_TRAILING: dict[str, str] = {
    "n_classes": "Int64",
    "epochs_run": "Int64",
    "best_epoch": "Int64",
    "objective": "Float64",
    "val_accuracy": "Float64",
    "val_accuracy_common": "Float64",
    "val_loss": "Float64",
    "balanced_accuracy": "Float64",
    "macro_f1": "Float64",
    "test_accuracy": "Float64",
    "trainable_params": "Int64",
    "total_params": "Int64",
    "setup_seconds": "Float64",
    "train_seconds": "Float64",
    "images_per_second": "Float64",
    "gpus": "Float64",
    "node": "string",  # the Ray node of the trial's last epoch
    "checkpoint_path": "string",
    "trial_dir": "string",
    "history": "string",  # JSON list of per-epoch metrics, for learning curves
}


def write_leaderboard(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]], metadata: Mapping[str, Any]) -> Path:
    """Write ``rows`` to ``path`` whole (``tuner._io.write_atomic``): a crash mid-write leaves
    the previous file untouched."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    schema = columns()
    frame = pd.DataFrame([{c: row.get(c) for c in schema} for row in rows], columns=list(schema))
    frame = frame.astype(schema)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[_META_KEY] = json.dumps({"format_version": FORMAT_VERSION, **metadata}, default=str).encode()
    table = table.replace_schema_metadata(meta)
    from tuner._io import write_atomic

    sink = pa.BufferOutputStream()  # a leaderboard is kilobytes to a few MB: built in memory
    pq.write_table(table, sink)
    return write_atomic(path, sink.getvalue().to_pybytes())


def _locate(run_dir: str | os.PathLike[str]) -> Path:
    run = Path(run_dir)
    if not run.exists():
        raise DataError(f"run directory {str(run)!r} does not exist; give the folder a search wrote (runs/<name>)")
    if run.is_file() and run.suffix == ".parquet":
        return run
    path = run / FILENAME
    if not path.is_file():
        raise DataError(f"{str(run)!r} holds no {FILENAME}; is it a run directory of 'python -m tuner.search'?")
    return path


def read_metadata(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The leaderboard's metadata.

    Raises:
        DataError: no leaderboard, or one written by a newer format version.
    """
    import pyarrow.parquet as pq

    path = _locate(run_dir)
    try:
        raw = (pq.read_schema(path).metadata or {}).get(_META_KEY)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a data problem
        raise DataError(f"{path} is not a readable Parquet file ({exc})") from None
    try:
        meta = json.loads(raw, parse_constant=lambda name: None) if raw else {}
    except ValueError:
        meta = None
    if not isinstance(meta, dict):
        raise DataError(f"{path}: its metadata is damaged (not a JSON object); the run folder cannot be read, restore the file from a copy")
    version = meta.get("format_version", 0)
    if not isinstance(version, int):
        raise DataError(f"{path}: its metadata is damaged (format_version {version!r}); restore the file from a copy")
    if version > FORMAT_VERSION:
        raise DataError(f"{path} was written by a newer tuner (leaderboard format {version}, this one reads up to {FORMAT_VERSION}); upgrade tuner")
    from pydantic import ValidationError

    try:
        RunMeta.model_validate(meta)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise DataError(f"{path}: its metadata is damaged ({where}: {first['msg'][:80]}); restore the file from a copy") from None
    return meta


class _Meta(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")  # a newer tuner's extra keys are not an error


class DatasetMeta(_Meta):
    """What the run searched: the dataset's folder, identity and class names."""

    root: str | None = None
    identity: str | None = None
    classes: list[str] = []


class SweepMeta(_Meta):
    """What a one-factor-at-a-time sweep of the space would train (the report's compute section)."""

    one_factor_runs: int = 0
    continuous: list[str] = []
    continuous_levels: int = 3
    grid: bool = False


class RunMeta(_Meta):
    """The leaderboard's metadata: one typed record, written by the search
    (``tuner.search.driver._board``) and read by the report, export and suggestions
    (``tuner._run.Run.meta``). A field absent from an older run is its default."""

    format_version: int = 0
    tuner_version: str | None = None
    name: str | None = None
    space: dict[str, Any] = {}
    space_source: str | None = None
    dataset: DatasetMeta = DatasetMeta()
    metric: str | None = None
    mode: str | None = None
    grouping_files: dict[str, str] = {}
    common_grouping_file: str | None = None
    num_samples: int | None = None
    max_epochs: int | None = None
    kind: str | None = None
    working_size: int | None = None
    started: str | None = None
    ended: str | None = None
    sweep: SweepMeta | None = None


class TrialStatus(str, Enum):
    """A trial's status: the leaderboard's ``status`` column, the report's colours, the Optuna
    study's and MLflow's states all key on these (keras-tuner's ``TrialStatus``)."""

    COMPLETED = "completed"  # trained to max_epochs
    STOPPED_EARLY = "stopped_early"  # ASHA stopped it at a rung
    FAILED = "failed"  # NaN loss, out of memory, a crashed or stalled worker (failure_reason says)
    INTERRUPTED = "interrupted"  # the search stopped around it; its epochs are kept
    RUNNING = "running"  # still training (a leaderboard written mid-search)

    def __str__(self) -> str:  # the value, in files and messages (enum.StrEnum is 3.11+)
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


STATUSES: tuple[str, ...] = tuple(s.value for s in list(TrialStatus))


def read_leaderboard(run_dir: str | os.PathLike[str]):
    """``(DataFrame, metadata)`` of a run directory's leaderboard, checked: readable, every
    column of :func:`columns` but a plugin's parameters, known statuses, ``history`` JSON.

    Raises:
        DataError: naming the file and what is damaged.
    """
    import pandas as pd

    meta = read_metadata(run_dir)
    path = _locate(run_dir)
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - a torn or corrupt file is a data problem
        raise DataError(f"{path} is damaged ({type(exc).__name__}: {str(exc)[:80]}); restore it from a copy, or --resume the search to rewrite it") from None
    missing = [c for c in (*_LEADING, *_TRAILING) if c not in df.columns]
    if missing:
        raise DataError(f"{path} has no column {missing[0]!r}; it was not written by tuner or is damaged, restore it from a copy")
    bad = df["status"][~df["status"].isin(STATUSES) & df["status"].notna()]
    if len(bad):
        raise DataError(f"{path}: status {str(bad.iloc[0])[:40]!r} is not one of {', '.join(STATUSES)}; the file is damaged, restore it from a copy")
    for trial, text in zip(df["trial_id"], df["history"]):
        if isinstance(text, str) and not _history_ok(text):
            raise DataError(f"{path}: trial {str(trial)[:40]!r} has a damaged history (not a JSON list of epochs); restore the file from a copy")
    return df, meta


def _history_ok(text: str) -> bool:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, list) and all(isinstance(h, dict) for h in value)
