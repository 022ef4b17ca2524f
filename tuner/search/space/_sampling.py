"""Define-by-run sampling of a space with Optuna: the architecture first, then what depends on it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuner._params import PARAMS
from tuner.search.space._checks import DEFAULTS
from tuner.search.space._space import PARAM_NAMES, Param, SearchSpace

__all__ = ["DefineByRun", "prior_points", "random_init_values"]


def _suggest(trial: Any, name: str, p: Param, maximum: int | None = None) -> Any:
    if p.kind == "fixed":
        return p.fixed
    if p.loguniform is not None:
        return trial.suggest_float(name, p.loguniform[0], p.loguniform[1], log=True)
    if p.uniform is not None:
        return trial.suggest_float(name, p.uniform[0], p.uniform[1])
    if p.int is not None:
        lo, hi = p.int
        top = maximum if hi == "max" else min(int(hi), maximum if maximum is not None else int(hi))
        return trial.suggest_int(name, int(lo), int(top))  # type: ignore[arg-type]
    choices = [maximum if v == "max" else v for v in p.choice]  # type: ignore[union-attr]
    if len(choices) == 1:
        return choices[0]
    return trial.suggest_categorical(name, choices)


def random_init_values(num_blocks: int) -> dict[str, Any]:
    """What a finetune trial uses for an architecture that starts from random weights.

    A frozen random block is a fixed random projection, a head warm-up over it learns
    nothing lasting, and a backbone learning-rate multiplier below 1 slows the layers that
    most need training: such trials train every block, in one phase, at the head's rate.
    """
    return {"unfrozen_blocks": num_blocks, "warmup_epochs": 0, "backbone_lr_mult": 1.0}


class DefineByRun:
    """The Optuna define-by-run function of a space (picklable, so ``Tuner.restore`` works).

    Samples the architecture first, then the parameters whose range depends on it
    (``unfrozen_blocks`` up to its block count, ``input_size`` at or above its minimum)
    under per-architecture names, then the rest. Returns the resolved values as constants
    so every trial's config has plain keys (``unfrozen_blocks``, ``input_size``...).
    """

    def __init__(self, space: SearchSpace, random_weights: Sequence[str] = ()):
        self.space_yaml = space.model_dump(mode="json")
        self.random_weights = tuple(random_weights)

    def __call__(self, trial: Any) -> dict[str, Any]:
        from tuner.zoo import get_spec

        space = SearchSpace.model_validate(self.space_yaml)
        archs = list(space.architectures)
        arch = archs[0] if len(archs) == 1 else trial.suggest_categorical("architecture", archs)
        spec = get_spec(arch)
        out: dict[str, Any] = {"architecture": arch}
        random_init = random_init_values(spec.num_blocks) if space.kind == "finetune" and arch in self.random_weights else {}
        for name in PARAM_NAMES:
            if name in random_init:  # a random backbone: freezing any of it wastes the trial
                out[name] = random_init[name]
                continue
            p = space.param(name)
            if p is None:
                value = DEFAULTS[name]
            elif name == "unfrozen_blocks":
                value = _suggest(trial, f"unfrozen_blocks.{arch}", p, spec.num_blocks) if space.kind == "finetune" else 0
            elif name == "input_size":
                allowed = [v for v in (p.values() or []) if v == "default" or v >= spec.min_input_size]
                sub = Param(choice=tuple(allowed))
                value = _suggest(trial, f"input_size.{arch}", sub)
            else:
                value = _suggest(trial, name, p)
            out[name] = value
        if out["input_size"] == "default":
            out["input_size"] = spec.default_input_size
        if space.kind == "scratch":
            out["unfrozen_blocks"] = 0
            out["warmup_epochs"] = 0
        return out


def _nearest(prior: Any, choices: Sequence[Any]) -> Any:
    """The allowed value closest to ``prior`` (on a log axis for positive numbers)."""
    import math

    if prior in choices:
        return prior
    numeric = [c for c in choices if isinstance(c, (int, float)) and not isinstance(c, bool)]
    if not isinstance(prior, (int, float)) or not numeric:
        return choices[0]
    if prior > 0 and all(c > 0 for c in numeric):
        return min(numeric, key=lambda c: abs(math.log(c / prior)))
    return min(numeric, key=lambda c: abs(c - prior))


class _PriorTrial:
    """Answers each suggestion of :class:`DefineByRun` with the parameter's prior (its nearest
    allowed value), recording the answers under the sampled names (what Optuna enqueues)."""

    def __init__(self, architecture: str):
        self.architecture = architecture
        self.params: dict[str, Any] = {}
        self._priors = {p.name: (p.default if p.prior is None else p.prior) for p in PARAMS}

    def _prior(self, name: str, high: float | None) -> Any:
        prior = self._priors[name.split(".")[0]]
        return round(high / 3) if prior == "third" and high is not None else prior

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        numeric = [c for c in choices if isinstance(c, (int, float))]
        value = self.architecture if name == "architecture" else _nearest(self._prior(name, max(numeric) if numeric else None), list(choices))
        self.params[name] = value
        return value

    def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float:
        prior = self._prior(name, high)
        value = min(max(float(prior), low), high) if isinstance(prior, (int, float)) else (low * high) ** 0.5 if log else (low + high) / 2
        self.params[name] = value
        return value

    def suggest_int(self, name: str, low: int, high: int) -> int:
        prior = self._prior(name, high)
        value = min(max(int(round(prior)), low), high) if isinstance(prior, (int, float)) else low
        self.params[name] = value
        return value


def prior_points(space_fn: DefineByRun) -> list[dict[str, Any]]:
    """One conventional configuration per architecture, under the names ``space_fn`` samples
    (for ``enqueue_trial``): each parameter's registry prior (``ParamSpec.prior``), or its
    nearest allowed value. A search tries these first: a strong, ordinary starting point
    that TPE's random start-up trials then explore around."""
    space = SearchSpace.model_validate(space_fn.space_yaml)
    points = []
    for arch in space.architectures:
        trial = _PriorTrial(arch)
        space_fn(trial)
        points.append(trial.params)
    return points
