"""``python -m tuner.predict``: the command; the code lives in :mod:`tuner.export`."""

from tuner.export import (
    ExportedModel,
    Prediction,
    image_files,
    load_exported,
    predict_files,
)

__all__ = ["ExportedModel", "Prediction", "image_files", "load_exported", "predict_files"]
