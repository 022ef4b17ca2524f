"""What is searched: the YAML space (validated), its grid, and the define-by-run sampler.

Pure: no Ray, Optuna or TensorFlow at import. Runs in the driver (and in ``bench/``).
"""

from tuner.search.space._grid import grid_points, grid_size, one_factor_runs, sweep_info
from tuner.search.space._load import list_spaces, load_space, resolve_space_path
from tuner.search.space._sampling import DefineByRun, prior_points, random_init_values
from tuner.search.space._space import METRICS, PARAM_NAMES, Budget, SearchSpace

__all__ = [
    "Budget",
    "DefineByRun",
    "METRICS",
    "PARAM_NAMES",
    "SearchSpace",
    "grid_points",
    "grid_size",
    "list_spaces",
    "load_space",
    "one_factor_runs",
    "prior_points",
    "random_init_values",
    "resolve_space_path",
    "sweep_info",
]
