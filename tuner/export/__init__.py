"""Using a search's result: export a trial's model and predict with it.

``python -m tuner.export RUN_DIR --out DIR`` and ``python -m tuner.predict DIR IMAGES``.
Importing this package does not import TensorFlow; exporting and loading do.
"""

from tuner.export._export import (
    LABELS_FILE,
    MODEL_FILE,
    PREPROCESSING_FILE,
    TRIAL_FILE,
    ExportResult,
    export_trial,
    save_inference_model,
)
from tuner.export._predict import (
    ExportedModel,
    Prediction,
    image_files,
    load_exported,
    predict_files,
)

__all__ = [
    "LABELS_FILE",
    "MODEL_FILE",
    "PREPROCESSING_FILE",
    "TRIAL_FILE",
    "ExportResult",
    "ExportedModel",
    "Prediction",
    "export_trial",
    "image_files",
    "load_exported",
    "predict_files",
    "save_inference_model",
]
