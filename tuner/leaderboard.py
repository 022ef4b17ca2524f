"""The leaderboard: one Parquet row per trial, written atomically, read with plain pandas.

The one module the search writes through and the report reads through. The file carries
metadata under the ``tuner`` key of the Parquet schema: format version, resolved space,
dataset identity and class list, ``tuner`` version, start and end times.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, NonNegativeInt

from tuner._params import PARAM_COLUMNS, ParamValue
from tuner.errors import DataError

__all__ = [
    "FORMAT_VERSION",
    "FILENAME",
    "STATUSES",
    "DatasetMeta",
    "RunMeta",
    "SweepMeta",
    "EpochMetrics",
    "TrialRow",
    "TrialStatus",
    "REPEAT",
    "rank_rows",
    "config_scores",
    "config_means",
    "Scored",
    "columns",
    "config_key",
    "read_rows",
    "write_leaderboard",
    "read_leaderboard",
    "read_metadata",
]

FORMAT_VERSION = 1
FILENAME = "leaderboard.parquet"
_META_KEY = b"tuner"
#: A trial's config key and leaderboard column: how many earlier trials trained the same
#: configuration (its parameters); the trial trains with the run's seed plus this.
REPEAT = "repeat"
#: Columns added after format 1 was first written, with the value an older file means.
_LATER_COLUMNS: dict[str, Any] = {REPEAT: 0}


def config_key(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """A hashable identity of a configuration: its parameters, missing ones left out."""
    return tuple(sorted((str(k), repr(v)) for k, v in params.items() if v is not None))


def columns() -> dict[str, str]:
    """Columns in order, with their dtype (pandas nullable dtypes so missing values stay typed):
    :class:`TrialRow`'s fields, its ``params`` spread into one column per searchable
    parameter (tuner/_params.py)."""
    leading, trailing = _field_columns()
    return {**leading, **PARAM_COLUMNS, **trailing}


_DTYPES = {str: "string", int: "Int64", float: "Float64"}


def _field_columns() -> tuple[dict[str, str], dict[str, str]]:
    """TrialRow's own columns before and after its ``params``, with their dtypes."""
    import typing

    out: tuple[dict[str, str], dict[str, str]] = ({}, {})
    side = 0
    for name, field in TrialRow.model_fields.items():
        if name == "params":
            side = 1
            continue
        annotation = field.annotation
        if typing.get_origin(annotation) is Literal:  # Literal["probe", "search"]: its values' type
            annotation = type(typing.get_args(annotation)[0])
        types = [t for t in typing.get_args(annotation) or (annotation,) if t is not type(None)]
        kind = types[0]
        out[side][name] = "string" if name == "history" or (isinstance(kind, type) and issubclass(kind, str)) else _DTYPES[kind]
    return out


def write_leaderboard(path: str | os.PathLike[str], rows: Sequence[TrialRow], metadata: Mapping[str, Any]) -> Path:
    """Write ``rows`` to ``path`` whole (``tuner._io.write_atomic``): a crash mid-write leaves
    the previous file untouched."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    schema = columns()
    records = [row.record() for row in rows]
    frame = pd.DataFrame([{c: r.get(c) for c in schema} for r in records], columns=list(schema))
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


class EpochMetrics(BaseModel):
    """One epoch of a trial's history (the report's learning curves, the study's and MLflow's
    per-epoch values); a metric the trial did not compute is ``None``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    epoch: int | None = None
    loss: float | None = None
    accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    val_accuracy_common: float | None = None
    balanced_accuracy: float | None = None
    macro_f1: float | None = None
    learning_rate: float | None = None
    time: float | None = None  # when the epoch was reported (Unix seconds)

    def value(self, metric: str) -> float | None:
        """The epoch's value of ``metric`` (``None``: not computed, or not one of its fields)."""
        value = getattr(self, metric) if metric in _EPOCH_METRICS else None
        return None if value is None else float(value)


#: EpochMetrics' field names (``model_fields`` is a property, slow in a loop).
_EPOCH_METRICS = tuple(EpochMetrics.model_fields)


class TrialRow(BaseModel):
    """One leaderboard row: a trial's status, parameters, best epoch's scores and history.

    Built by the search from the trial's files (``tuner.search.driver._rows.trial_row``),
    written by :func:`write_leaderboard` (``params`` spread into one column each, ``history``
    as JSON), read back by :func:`read_rows`. Adding a column is adding a field here.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    trial_id: str
    stage: Literal["probe", "search"]
    status: TrialStatus
    failure_reason: str | None = None
    architecture: str | None = None
    weights: str | None = None  # the weights the trial started from ("imagenet", a file, "none")
    params: dict[str, ParamValue | None] = {}  # the searchable parameters, by tuner/_params.py's names
    repeat: NonNegativeInt = 0  # earlier trials of the same configuration (the trial trained with seed + repeat)
    n_classes: int | None = None
    epochs_run: int | None = None
    best_epoch: int | None = None
    objective: float | None = None  # the run's metric at the best epoch
    val_accuracy: float | None = None
    val_accuracy_common: float | None = None
    val_loss: float | None = None
    balanced_accuracy: float | None = None
    macro_f1: float | None = None
    test_accuracy: float | None = None
    trainable_params: int | None = None
    total_params: int | None = None
    setup_seconds: float | None = None
    train_seconds: float | None = None
    images_per_second: float | None = None
    gpus: float | None = None
    node: str | None = None  # the Ray node of the trial's last epoch
    checkpoint_path: str | None = None  # the best epoch's checkpoint, relative to the run's storage
    trial_dir: str | None = None  # Tune's trial folder, relative to the run folder
    history: tuple[EpochMetrics, ...] = ()

    def record(self) -> dict[str, Any]:
        """The row as the leaderboard's columns: ``params`` spread, ``history`` as JSON."""
        out = self.model_dump(mode="json", exclude={"params", "history"})
        out.update(self.params)
        out["history"] = json.dumps([h.model_dump() for h in self.history])
        return out

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TrialRow:
        """A row from the leaderboard's columns (a DataFrame row: pandas' NA is ``None``).

        Raises:
            pydantic.ValidationError: a value of the wrong type.
        """
        import pandas as pd

        def plain(value: Any) -> Any:
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                return None
            return value.item() if hasattr(value, "item") else value

        values = {k: plain(v) for k, v in record.items()}
        history = json.loads(values.get("history") or "[]")
        own = {k: values[k] for k in cls.model_fields if k not in ("params", "history") and k in values}
        params = {k: values[k] for k in PARAM_COLUMNS if k in values}
        return cls(**own, params=params, history=tuple(EpochMetrics.model_validate(h) for h in history))

    def param(self, name: str) -> ParamValue | None:
        """A searchable parameter's value (``None``: the trial did not sample it)."""
        return self.params.get(name)


class Scored(NamedTuple):
    """One scored trial as :func:`config_means` sees it."""

    trial_id: str
    config: tuple[tuple[str, str], ...]  # config_key of its parameters (and stage)
    objective: float  # its best score so far
    epochs: int  # epochs it trained
    running: bool


def config_means(trials: Iterable[Scored], *, mode: str = "max") -> dict[str, tuple[float, int]]:
    """Each trial's configuration score: ``trial_id -> (score, trials averaged)``.

    A configuration scores the mean of its trials' objectives over those that trained its most
    epochs, running trials left out once one has ended (a trial stopped after two epochs is
    not averaged with one that trained them all; one at epoch 1 of a re-run does not drag a
    finished one down); while none has ended, its best so far. A search ranks configurations
    this way rather than by their best single trial: one lucky initialisation on a small
    validation set does not top the leaderboard. Trials with equal parameters are one
    configuration (:func:`config_key`).
    """
    groups: dict[tuple[tuple[str, str], ...], list[Scored]] = {}
    for t in trials:
        groups.setdefault(t.config, []).append(t)
    out: dict[str, tuple[float, int]] = {}
    for members in groups.values():
        ended = [t for t in members if not t.running]
        if ended:
            deepest = max(t.epochs for t in ended)
            counted = [t.objective for t in ended if t.epochs == deepest]
            score, n = sum(counted) / len(counted), len(counted)
        else:
            values = [t.objective for t in members]
            score, n = (max(values) if mode == "max" else min(values)), 1
        for t in members:
            out[t.trial_id] = (score, n)
    return out


def config_scores(rows: Sequence[TrialRow], *, mode: str = "max") -> dict[str, tuple[float, int]]:
    """:func:`config_means` of the scored, non-failed rows; a configuration is its parameters
    and architecture within one stage."""

    def scored(r: TrialRow) -> Scored:
        config = config_key({**r.params, "architecture": r.architecture, "stage": r.stage})
        return Scored(r.trial_id, config, float(r.objective or 0.0), int(r.epochs_run or 0), r.status == TrialStatus.RUNNING)

    return config_means((scored(r) for r in rows if r.status != TrialStatus.FAILED and r.objective is not None), mode=mode)


def rank_rows(rows: Sequence[TrialRow], *, mode: str = "max") -> list[TrialRow]:
    """The leaderboard's order: the search stage first; within a stage, scored rows by their
    configuration's score (:func:`config_scores`), a configuration's best trial first, then
    rows without a score (failed, not yet scored) in their order."""
    scores = config_scores(rows, mode=mode)
    sign = -1.0 if mode == "max" else 1.0

    def key(r: TrialRow) -> tuple[bool, bool, float, float]:
        if r.trial_id not in scores:
            return (r.stage != "search", True, 0.0, 0.0)
        return (r.stage != "search", False, sign * scores[r.trial_id][0], sign * float(r.objective or 0.0))

    return sorted(rows, key=key)  # stable: ties keep their order


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
    for column, value in _LATER_COLUMNS.items():
        if column not in df.columns:
            df[column] = value
    missing = [c for side in _field_columns() for c in side if c not in df.columns]
    if missing:
        raise DataError(f"{path} has no column {missing[0]!r}; it was not written by tuner or is damaged, restore it from a copy")
    bad = df["status"][~df["status"].isin(STATUSES) & df["status"].notna()]
    if len(bad):
        raise DataError(f"{path}: status {str(bad.iloc[0])[:40]!r} is not one of {', '.join(STATUSES)}; the file is damaged, restore it from a copy")
    for trial, text in zip(df["trial_id"], df["history"]):
        if isinstance(text, str) and not _history_ok(text):
            raise DataError(f"{path}: trial {str(trial)[:40]!r} has a damaged history (not a JSON list of epochs); restore the file from a copy")
    return df, meta


def read_rows(run_dir: str | os.PathLike[str]) -> tuple[list[TrialRow], dict[str, Any]]:
    """``(rows, metadata)`` of a run directory's leaderboard, each row typed (:class:`TrialRow`).

    Raises:
        DataError: naming the file, the trial and the damaged value.
    """
    df, meta = read_leaderboard(run_dir)
    return rows_of(df, _locate(run_dir)), meta


def rows_of(df: Any, path: Path | str = "the leaderboard") -> list[TrialRow]:
    """The typed rows of a leaderboard's DataFrame (:func:`read_leaderboard`).

    Raises:
        DataError: naming ``path``, the trial and the damaged value.
    """
    from pydantic import ValidationError

    rows = []
    for record in df.to_dict("records"):
        try:
            rows.append(TrialRow.from_record(record))
        except (ValidationError, ValueError) as exc:
            where = ""
            if isinstance(exc, ValidationError):
                first = exc.errors()[0]
                where = f" ({'.'.join(str(x) for x in first['loc'])}: {first['msg'][:60]})"
            raise DataError(f"{path}: trial {str(record.get('trial_id'))[:40]!r} is damaged{where}; restore the file from a copy") from None
    return rows


def _history_ok(text: str) -> bool:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, list) and all(isinstance(h, dict) for h in value)
