"""The training process (the trial actor itself on the warm path, a Ray Train worker for 2+
GPUs): data, model, ``fit``, per-epoch scores, checkpoint files, reports.

The only part of the search that imports TensorFlow (when a trial starts).
"""

from typing import Any

# Resolved on first use (PEP 562), not at import: the helpers of this process (its console,
# its checkpoints) are imported from every side, and must not pull in the whole of _worker.
_MODULE = "tuner.search.worker._worker"

__all__ = [
    "evaluate_checkpoint",
    "ray_train_loop",
    "run_training",
    "warm",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import importlib

        return getattr(importlib.import_module(_MODULE), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
