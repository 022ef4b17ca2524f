"""The trial actor (Tune's function trainable, one per running trial): how a trial runs (warm
in this process, or through Ray Train for 2+ GPUs), its resource request, its checkpoints,
its reports to Tune.
"""

from tuner._lazy import lazy_names

# Resolved on first use (PEP 562), not at import: the helpers of this process (its console,
# its checkpoints) are imported from every side, and must not pull in the whole of _trial.
_MODULE = "tuner.search.trial._trial"

__all__ = [
    "WarmResources",
    "trial_config",
    "trial_resources",
    "tune_trial",
    "uses_train",
]


__getattr__ = lazy_names(__name__, _MODULE, __all__)
