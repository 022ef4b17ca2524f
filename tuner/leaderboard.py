"""The leaderboard: one Parquet row per trial, written atomically, read with plain pandas.

The one module the search writes through and the report reads through. The file carries
metadata under the ``tuner`` key of the Parquet schema: format version, resolved space,
dataset identity and class list, ``tuner`` version, start and end times.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tuner._params import PARAM_COLUMNS
from tuner.errors import DataError

__all__ = ["FORMAT_VERSION", "FILENAME", "columns", "write_leaderboard", "read_leaderboard", "read_metadata"]

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
    """Write ``rows`` to ``path`` atomically (temp file in the same folder, then rename).

    A crash mid-write leaves the previous file untouched.
    """
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".leaderboard-", suffix=".parquet", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


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
    meta = json.loads(raw) if raw else {}
    version = meta.get("format_version", 0)
    if version > FORMAT_VERSION:
        raise DataError(f"{path} was written by a newer tuner (leaderboard format {version}, this one reads up to {FORMAT_VERSION}); upgrade tuner")
    return meta


def read_leaderboard(run_dir: str | os.PathLike[str]):
    """``(DataFrame, metadata)`` of a run directory's leaderboard."""
    import pandas as pd

    meta = read_metadata(run_dir)
    return pd.read_parquet(_locate(run_dir)), meta
