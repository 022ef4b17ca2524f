"""The search (Ray Tune + Optuna TPE + ASHA over Ray Train trials). Not built yet: see issue 5."""

__all__: list[str] = []
