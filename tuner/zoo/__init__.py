"""The model zoo: one registry of architectures, the study's head, and model building.

``list_models()`` and ``get_spec(name)`` read the registry without importing TensorFlow;
``build_model`` imports Keras when it runs.
"""

from tuner.zoo._build import BuiltModel, build_model, build_model_for_trial, resolve_weights, set_unfrozen_blocks
from tuner.zoo._devices import DeviceSetup, setup_devices
from tuner.zoo._optim import LR_SCHEDULES, OPTIMIZERS, compile_model, make_optimizer, scheduled_lr
from tuner.zoo._registry import ModelSpec, Preprocessing, get_spec, list_models, register_model

# The built-in specs register themselves on import (no TensorFlow imported). Importing any
# tuner.zoo module runs this package first, so the registry is always filled.
from tuner.zoo import _pretrained, _scratch  # noqa: E402, F401  # isort: skip

__all__ = [
    "LR_SCHEDULES",
    "OPTIMIZERS",
    "BuiltModel",
    "DeviceSetup",
    "ModelSpec",
    "Preprocessing",
    "build_model",
    "build_model_for_trial",
    "compile_model",
    "get_spec",
    "list_models",
    "make_optimizer",
    "register_model",
    "resolve_weights",
    "scheduled_lr",
    "set_unfrozen_blocks",
    "setup_devices",
]
