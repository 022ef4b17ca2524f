"""The search: YAML spaces, Optuna TPE + ASHA on Ray Tune, trials warm or on Ray Train.

``python -m tuner.search`` is the command. Laid out by what each part is and where it runs:

- ``space/``: what is searched (pure); ``strategy/``: how trials are chosen (Optuna, ASHA);
  ``plan/``: the frozen plan and each trial's config;
- ``driver/``: the driver process; ``trial/``: the Tune trial actor; ``worker/``: the
  training process.

Importing this package imports neither Ray nor TensorFlow; the driver, trial and worker
modules import them when a search runs.
"""

from tuner.search.plan._plan import Options, build_plan, estimate
from tuner.search.space._grid import grid_points, grid_size
from tuner.search.space._load import list_spaces, load_space
from tuner.search.space._sampling import DefineByRun
from tuner.search.space._space import METRICS, PARAM_NAMES, Budget, SearchSpace

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
