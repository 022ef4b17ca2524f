"""The plan: command-line options and a space resolved into the frozen ``Plan`` (run.json),
the ``TrialConfig`` each trial gets, resources and the backbone weights policy.

Runs in the driver; the ``Plan`` and ``TrialConfig`` models cross into the trial and worker
processes. No Ray or TensorFlow at import.
"""

from tuner.search.plan._contracts import PLAN_SCHEMA, TRIAL_SCHEMA, ClusterShape, Plan, TrialConfig
from tuner.search.plan._plan import Options, build_plan, estimate, load_plan, save_plan, stage_space
from tuner.search.plan._resources import size_resources
from tuner.search.plan._weights import resolve_weights

__all__ = [
    "ClusterShape",
    "Options",
    "PLAN_SCHEMA",
    "Plan",
    "TRIAL_SCHEMA",
    "TrialConfig",
    "build_plan",
    "estimate",
    "load_plan",
    "resolve_weights",
    "save_plan",
    "size_resources",
    "stage_space",
]
