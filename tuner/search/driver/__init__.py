"""The driver process (``python -m tuner.search``): Ray, Tune's loop and its callbacks (epoch
journal, leaderboard writer, progress, stall watchdog, failure guard, warm-process
retirement), the leaderboard rows, the Optuna study and MLflow mirrors, the summary.

Never imports TensorFlow. Modules with Ray at import (``_callbacks``, ``_watchdog``,
``_placement``) are imported when a search runs.
"""

from tuner._lazy import lazy_names

# Resolved on first use (PEP 562), not at import: the helpers of this process (its console,
# its checkpoints) are imported from every side, and must not pull in the whole of _driver.
_MODULE = "tuner.search.driver._driver"

__all__ = [
    "check_resume",
    "run_search",
]


__getattr__ = lazy_names(__name__, _MODULE, __all__)
