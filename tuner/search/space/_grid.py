"""Grid views of a space: every point of a discrete space (the study's exhaustive grid), its size, and the one-factor-at-a-time runs a person would make."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tuner.errors import ConfigError
from tuner.search.space._checks import DEFAULTS, int_high
from tuner.search.space._sampling import random_init_values
from tuner.search.space._space import PARAM_NAMES, SearchSpace

__all__ = ["grid_points", "grid_size", "one_factor_runs", "sweep_info"]


def _grid_axes(space: SearchSpace, arch: str, continuous_levels: int | None) -> dict[str, list[Any]]:
    from tuner.zoo import get_spec

    spec = get_spec(arch)
    axes: dict[str, list[Any]] = {}
    for name in PARAM_NAMES:
        p = space.param(name)
        if p is None:
            axes[name] = [DEFAULTS[name]]
        elif p.int is not None:
            hi = int_high(p, spec.num_blocks)
            axes[name] = list(range(int(p.int[0]), hi + 1))
        elif p.values() is not None:
            axes[name] = [spec.num_blocks if v == "max" else v for v in p.values()]  # type: ignore[union-attr]
        elif continuous_levels is not None:
            axes[name] = [None] * continuous_levels  # only counted, never trained
        else:
            raise ConfigError(f"space {space.name}: params.{name} is continuous ({p.kind}); a grid needs choice, int or fixed values")
    return axes


#: The most points a grid search may train (every point is one full training).
MAX_GRID_POINTS = 10_000


def grid_points(space: SearchSpace) -> list[dict[str, Any]]:
    """Every combination of a fully discrete space (the study's exhaustive grid).

    Raises:
        ConfigError: a continuous parameter (a grid needs discrete values).
    """
    from itertools import product

    from tuner.zoo import get_spec

    size, continuous = grid_size(space)
    if not continuous and size > MAX_GRID_POINTS:
        from tuner.errors import ConfigError

        raise ConfigError(f"the space's grid has {size:,} points, more than {MAX_GRID_POINTS:,} trainings; search it with sampler: tpe, or list fewer values")
    points: list[dict[str, Any]] = []
    for arch in space.architectures:
        axes = _grid_axes(space, arch, None)
        for combo in product(*axes.values()):
            point = {"architecture": arch, **dict(zip(axes, combo))}
            if point["input_size"] == "default":
                point["input_size"] = get_spec(arch).default_input_size
            points.append(point)
    return points


def one_factor_runs(space: SearchSpace, continuous_levels: int = 3, random_weights: Sequence[str] = ()) -> int:
    """Full trainings of a one-factor-at-a-time sweep of ``space``, as the study ran by hand.

    Per architecture: one training per value of each parameter that varies (a continuous one
    counts as ``continuous_levels`` values, a few learning rates say), the others held at one
    value; at least one training per architecture. For an architecture that starts from random
    weights, the parameters a search does not vary for it (:func:`random_init_values`) are
    not swept either.
    """
    total = 0
    for arch in space.architectures:
        axes = _grid_axes(space, arch, continuous_levels)
        skip = set(random_init_values(0)) if space.kind == "finetune" and arch in random_weights else set()
        varying = [len(v) for name, v in axes.items() if len(v) > 1 and name not in skip]
        total += max(1, sum(varying))
    return total


def grid_size(space: SearchSpace, continuous_levels: int = 3) -> tuple[int, list[str]]:
    """Points of the exhaustive grid over ``space``, and the continuous parameters in it.

    A continuous parameter counts as ``continuous_levels`` values (a coarse hand grid, such
    as three learning rates); a fully discrete space gives ``len(grid_points(space))``.
    """
    total = 0
    continuous = [n for n in PARAM_NAMES if (p := space.param(n)) is not None and p.int is None and p.values() is None]
    for arch in space.architectures:
        axes = _grid_axes(space, arch, continuous_levels)
        total += math.prod(len(v) for v in axes.values())
    return total, continuous


def sweep_info(space: SearchSpace, random_weights: Sequence[str] = (), continuous_levels: int = 3) -> dict[str, Any]:
    """What a one-factor-at-a-time sweep of ``space`` would train, for the report's compute
    section (written into the leaderboard's metadata, so the report reads only the run folder):
    ``one_factor_runs``, the ``continuous`` parameters counted at ``continuous_levels`` values,
    and whether the search itself is the grid."""
    runs = one_factor_runs(space, continuous_levels, random_weights)
    _, continuous = grid_size(space, continuous_levels)
    if random_weights and set(random_weights) == set(space.architectures) and space.kind == "finetune":
        continuous = [c for c in continuous if c not in random_init_values(0)]  # not swept for random weights
    return {"one_factor_runs": runs, "continuous": continuous, "continuous_levels": continuous_levels, "grid": space.budget.sampler == "grid"}
