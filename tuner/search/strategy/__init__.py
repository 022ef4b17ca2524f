"""How trials are chosen: the search policy (sampler, what Optuna is told, early stopping)
and the Optuna samplers, Tune searcher and scheduler it builds.

Runs in the driver. ``_strategy`` is light; ``_samplers`` (Optuna), ``_schedulers`` and
``_searcher`` (Ray Tune) are imported by the ``make_*`` functions when a search builds them.
``bench/replay.py`` builds its strategies with the same functions.
"""

from tuner.search.strategy._strategy import DEFAULT_POLICY, SAMPLERS, SearchPolicy, make_sampler, make_scheduler, make_searcher, startup_trials

__all__ = [
    "DEFAULT_POLICY",
    "SAMPLERS",
    "SearchPolicy",
    "make_sampler",
    "make_scheduler",
    "make_searcher",
    "startup_trials",
]
