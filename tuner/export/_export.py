"""Export a trial's best checkpoint as a standalone ``.keras`` model folder.

The folder holds ``model.keras`` (uint8 RGB images in, class probabilities out: resizing to
the network's size and its normalisation are layers of the model), ``labels.json`` (output
names in order), ``preprocessing.json`` (how to turn an image file into the model's input,
exactly as the search's cache did) and ``trial.json`` (where it came from and its scores).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuner._io import user_path, write_atomic
from tuner._run import PARAMS_FILE, WEIGHTS_FILE, Run, load_run, read_params
from tuner.errors import ConfigError, DataError
from tuner.leaderboard import TrialRow, TrialStatus

__all__ = ["LABELS_FILE", "MODEL_FILE", "PREPROCESSING_FILE", "TRIAL_FILE", "ExportResult", "export_trial", "save_inference_model"]

MODEL_FILE = "model.keras"
LABELS_FILE = "labels.json"
PREPROCESSING_FILE = "preprocessing.json"
TRIAL_FILE = "trial.json"


@dataclass(frozen=True)
class ExportResult:
    """The export folder and the trial it holds."""

    out: Path
    trial_id: str
    labels: list[str]
    val_accuracy: float | None


def _pick(run: Run, trial: str) -> TrialRow:
    if trial == "best":
        row = run.best_row(with_checkpoint=True)
        if row is None:
            raise DataError(f"{run.path}: no trial has a scored checkpoint to export (all failed or none finished an epoch)")
        return row
    row = run.row(trial)
    if run.checkpoint(row) is None:
        why = f" ({row.status}: {row.failure_reason})" if row.status == TrialStatus.FAILED else ""
        raise ConfigError(f"trial {trial} has no checkpoint on disk{why}; export another trial or the best one")
    return row


def _trial_params(run: Run, row: TrialRow) -> dict[str, Any]:
    """The trial's sampled parameters (its ``params.json``, else the leaderboard row)."""
    if row.trial_dir and (run.path / row.trial_dir / PARAMS_FILE).is_file():
        return read_params(run.path / row.trial_dir)
    return {"architecture": row.architecture, **row.params}


def save_inference_model(built: Any, path: Path) -> None:
    """Save a built model for inference: its main output only (no auxiliary heads)."""
    import keras

    model = built.model
    if built.num_outputs > 1:
        model = keras.Model(model.inputs, model.outputs[0], name=model.name)
    model.save(path)


def export_trial(run_dir: str | os.PathLike[str], out: str | os.PathLike[str], trial: str = "best") -> ExportResult:
    """Write a trial's model folder (see the module docstring).

    Args:
        run_dir: The search's folder.
        out: The export folder; created, must not hold a previous export.
        trial: A trial id, or ``best``.

    Raises:
        DataError: no run, no leaderboard, no exportable trial, the run's plan is gone.
        ConfigError: unknown trial id, a trial without checkpoint, ``out`` already exported to.
    """
    run = load_run(run_dir)
    row = _pick(run, trial)
    out_dir = user_path(str(out), "--out")
    if (out_dir / MODEL_FILE).exists():
        raise ConfigError(f"export folder {str(out_dir)!r} already holds an exported model; give a new folder (nothing was overwritten)")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"export folder {str(out_dir)!r} is a file; give a folder")
    working_size = run.plan.working_size or run.meta.working_size
    kind = run.plan.kind or run.meta.space.get("kind")
    if not working_size or not kind:
        raise DataError(f"{run.path}: run.json is missing or incomplete (working size, kind); the model cannot be rebuilt")
    params = _trial_params(run, row)
    labels = run.label_names(params.get("grouping"))
    from tuner._quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    from tuner.zoo import build_model_for_trial

    keras.mixed_precision.set_global_policy("float32")  # exported for any device
    built = build_model_for_trial(params, len(labels), kind=kind, source_size=int(working_size))
    checkpoint = run.checkpoint(row)
    weights = checkpoint / WEIGHTS_FILE if checkpoint is not None else Path("(no checkpoint)")
    if not weights.is_file():
        raise DataError(f"trial {row.trial_id}: its checkpoint holds no {WEIGHTS_FILE} ({weights.parent})")
    built.model.load_weights(weights)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_inference_model(built, out_dir / MODEL_FILE)
    write_atomic(out_dir / LABELS_FILE, json.dumps(labels, indent=1, ensure_ascii=False))
    preprocessing = {
        "image_size": int(working_size),
        "color": "RGB",
        "dtype": "uint8",
        "resize": "whole image squashed to image_size x image_size, Pillow bilinear (no crop); EXIF orientation applied; transparency composited on white",
        "network_input_size": built.input_size,
        "normalisation": f"inside the model ({built.spec.preprocessing}); feed raw 0-255 pixels",
        "decode": "tuner.data.decode_rgb(path, image_size)",
    }
    write_atomic(out_dir / PREPROCESSING_FILE, json.dumps(preprocessing, indent=1))

    info = {
        "run": str(run.path),
        "trial_id": row.trial_id,
        "stage": row.stage,
        "architecture": str(params["architecture"]),
        "kind": kind,
        "params": params,
        "best_epoch": row.best_epoch,
        "metric": run.metric,
        "objective": row.objective,
        "val_accuracy": row.val_accuracy,
        "val_accuracy_common": row.val_accuracy_common,
        "test_accuracy": row.test_accuracy,
        "dataset": {"root": run.meta.dataset.root, "identity": run.meta.dataset.identity},
        "split_seed": run.plan.split_seed,
        "class_name_pattern": run.plan.class_name_pattern,
    }
    write_atomic(out_dir / TRIAL_FILE, json.dumps(info, indent=1, default=str))
    return ExportResult(out_dir, row.trial_id, labels, row.val_accuracy)
