"""The training process (the trial actor itself on the warm path, a Ray Train worker for 2+
GPUs): data, model, ``fit``, per-epoch scores, checkpoint files, reports.

The only part of the search that imports TensorFlow (when a trial starts).
"""

from tuner._lazy import lazy_names

# Resolved on first use (PEP 562), not at import: the helpers of this process (its console,
# its checkpoints) are imported from every side, and must not pull in the whole of _worker.
_MODULE = "tuner.search.worker._worker"

__all__ = [
    "evaluate_checkpoint",
    "ray_train_loop",
    "run_training",
    "warm",
]


__getattr__ = lazy_names(__name__, _MODULE, __all__)
