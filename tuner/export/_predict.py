"""Predict with an exported model folder (``python -m tuner.predict``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tuner.errors import ConfigError, DataError
from tuner.export._export import LABELS_FILE, MODEL_FILE, PREPROCESSING_FILE

__all__ = ["ExportedModel", "Prediction", "image_files", "load_exported", "predict_files"]


@dataclass(frozen=True)
class Prediction:
    """The top labels of one image, best first, or why it could not be read."""

    path: str
    labels: list[str]
    probabilities: list[float]
    error: str | None = None


@dataclass(frozen=True)
class ExportedModel:
    model: Any  # keras.Model
    labels: list[str]
    image_size: int


def load_exported(model_dir: str | os.PathLike[str]) -> ExportedModel:
    """Load a folder written by ``python -m tuner.export``.

    Raises:
        DataError: not such a folder, or a file in it is missing or damaged.
    """
    folder = Path(model_dir).expanduser()
    if not folder.is_dir():
        raise DataError(f"model folder {str(folder)!r} does not exist; give the --out folder of 'python -m tuner.export'")
    for name in (MODEL_FILE, LABELS_FILE, PREPROCESSING_FILE):
        if not (folder / name).is_file():
            raise DataError(f"{str(folder)!r} holds no {name}; is it a folder written by 'python -m tuner.export'?")
    from tuner._io import read_json

    labels = read_json(folder / LABELS_FILE, "the export's labels", DataError, expect=None)
    preprocessing = read_json(folder / PREPROCESSING_FILE, "the export's preprocessing", DataError)
    size = preprocessing.get("image_size")
    if not isinstance(size, int) or isinstance(size, bool) or not 8 <= size <= 4096:
        raise DataError(f"{folder / PREPROCESSING_FILE}: image_size {str(size)[:20]!r} is not a size in pixels (8..4096); export the model again")
    from tuner._quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    import tuner.zoo._layers  # noqa: F401 - registers tuner's layers for deserialisation

    try:
        model = keras.saving.load_model(folder / MODEL_FILE, compile=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable model file is a data problem
        raise DataError(f"{folder / MODEL_FILE} cannot be loaded ({' '.join(str(exc).split())[:200]}); export the model again") from None
    if int(model.outputs[0].shape[-1]) != len(labels):
        raise DataError(f"{folder}: the model has {model.outputs[0].shape[-1]} outputs but {LABELS_FILE} lists {len(labels)} labels")
    return ExportedModel(model, list(labels), size)


def image_files(target: str | os.PathLike[str]) -> list[Path]:
    """An image file, or every image under a folder (recursively, sorted).

    Raises:
        ConfigError: no such path, or a folder without images.
    """
    from tuner.data import IMAGE_EXTENSIONS

    path = Path(target).expanduser()
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"{str(path)!r} does not exist; give an image file or a folder of images")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ConfigError(f"{str(path)!r} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return files


def predict_files(exported: ExportedModel, files: list[Path], top: int = 1, batch_size: int = 64) -> list[Prediction]:
    """Top-``top`` labels of each file, decoded exactly as the search's cache decoded images."""
    from tuner.data import decode_rgb

    top = max(1, min(top, len(exported.labels)))
    out: list[Prediction] = []
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        arrays = [decode_rgb(str(p), exported.image_size) for p in chunk]
        good = [i for i, a in enumerate(arrays) if a is not None]
        probs = np.zeros((len(chunk), len(exported.labels)))
        if good:
            batch = np.stack([a for a in arrays if a is not None])
            probs[good] = np.asarray(exported.model.predict_on_batch(batch), dtype=np.float64)
        for i, p in enumerate(chunk):
            if arrays[i] is None:
                out.append(Prediction(str(p), [], [], error="not a readable image"))
                continue
            best = np.argsort(-probs[i], kind="stable")[:top]
            out.append(Prediction(str(p), [exported.labels[j] for j in best], [float(probs[i, j]) for j in best]))
    return out
