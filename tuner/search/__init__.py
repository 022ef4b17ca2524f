"""The search: YAML spaces, Optuna TPE + ASHA on Ray Tune over Ray Train trials.

``python -m tuner.search`` is the command. Importing this package imports neither Ray nor
TensorFlow; the driver and the trial modules import them when a search runs.
"""

from tuner.search._grid import grid_points, grid_size
from tuner.search._plan import Options, build_plan, estimate
from tuner.search._sampling import DefineByRun
from tuner.search._space import METRICS, PARAM_NAMES, Budget, SearchSpace, list_spaces, load_space

__all__ = [
    "METRICS",
    "PARAM_NAMES",
    "Budget",
    "DefineByRun",
    "Options",
    "SearchSpace",
    "build_plan",
    "estimate",
    "grid_points",
    "grid_size",
    "list_spaces",
    "load_space",
]
