"""Search spaces: YAML -> a validated, frozen model (sampled by ``_sampling``, gridded by ``_grid``).

A space file (``search_spaces/*.yaml``)::

    kind: finetune                 # finetune (pretrained backbone + head) | scratch
    metric: val_accuracy_common
    mode: max
    architectures: [mobilenet_v2, efficientnet_b0]
    params:
      lr: {loguniform: [1.0e-5, 1.0e-2]}
      optimizer: {choice: [adam, rmsprop, sgd_momentum]}
      unfrozen_blocks: {int: [0, max]}    # max: the sampled architecture's block count
      grouping: {choice: [none, "auto:60%"]}
    budget: {num_samples: 40, max_epochs: 30, grace_period: 2, reduction_factor: 3}

Parameters whose range depends on the architecture (``unfrozen_blocks``, ``input_size``) are
sampled after it, under a per-architecture name, so every Optuna distribution keeps one shape
(``tuner.search.space._sampling``).
"""

from __future__ import annotations

import builtins
import difflib
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tuner._params import PARAM_HELP
from tuner.errors import ConfigError

__all__ = [
    "METRICS",
    "PARAM_NAMES",
    "Budget",
    "SearchSpace",
]

#: Metrics a space may optimise.
METRICS = ("val_accuracy_common", "val_accuracy", "balanced_accuracy", "macro_f1", "val_loss")
#: Parameters a space may search, and what each one means (declared in tuner/_params.py).
PARAM_NAMES = PARAM_HELP


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Param(_Frozen):
    """One parameter's distribution: exactly one of the keys."""

    loguniform: tuple[float, float] | None = None
    uniform: tuple[float, float] | None = None
    int: tuple[builtins.int | Literal["max"], builtins.int | Literal["max"]] | None = None
    choice: tuple[Any, ...] | None = None
    fixed: Any = None

    @model_validator(mode="after")
    def _one_kind(self) -> Param:
        kinds = [k for k in ("loguniform", "uniform", "int", "choice") if getattr(self, k) is not None]
        if self.fixed is not None:
            kinds.append("fixed")
        if len(kinds) != 1:
            raise ValueError(f"give exactly one of loguniform, uniform, int, choice or fixed, got {kinds or 'none'}")
        if self.loguniform is not None:
            low, high = self.loguniform
            if not low > 0:
                raise ValueError(f"a loguniform range needs low > 0, but got low={low}")
            if not low <= high:
                raise ValueError(f"low <= high must hold, but got low={low}, high={high}")
        if self.uniform is not None and not self.uniform[0] <= self.uniform[1]:
            raise ValueError(f"low <= high must hold, but got low={self.uniform[0]}, high={self.uniform[1]}")
        if self.int is not None:
            first, last = self.int
            if first == "max":
                raise ValueError("'max' can only be the upper bound")
            if last != "max" and not first <= last:
                raise ValueError(f"low <= high must hold, but got low={first}, high={last}")
        if self.choice is not None and not self.choice:
            raise ValueError("a choice needs at least one value")
        return self

    @property
    def kind(self) -> str:
        for k in ("loguniform", "uniform", "int", "choice"):
            if getattr(self, k) is not None:
                return k
        return "fixed"

    def values(self) -> list[Any] | None:
        """The discrete values, for choice, fixed and int; ``None`` for continuous ranges."""
        if self.choice is not None:
            return list(self.choice)
        if self.kind == "fixed":
            return [self.fixed]
        return None


class Budget(_Frozen):
    """How much to spend: trials, epochs, ASHA's rungs, early stopping, the probe stage."""

    # Upper bounds keep a typo from asking for years of training or unbounded memory (ASHA
    # keeps a rung per power of reduction_factor: near 1 that is millions of rungs).
    num_samples: int = Field(20, ge=1, le=100_000)
    max_epochs: int = Field(20, ge=1, le=10_000)
    grace_period: int = Field(2, ge=1, le=10_000)
    reduction_factor: float = Field(3, ge=1.5, le=100)
    patience: int | None = Field(None, ge=1, le=10_000)
    probe_samples: int = Field(4, ge=1, le=1_000)
    probe_epochs: int = Field(5, ge=1, le=10_000)
    # How trials are chosen: Optuna's TPE (default), Optuna's random sampler, or every point
    # of a fully discrete space once (the study's exhaustive grid; num_samples is the grid).
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    # How trials are stopped early: never (default: every trial trains max_epochs), over
    # Hyperband's brackets (about a third of the epochs per trial), or plain ASHA (every trial
    # at the first rung's mercy). grace_period and reduction_factor shape the rungs of the
    # latter two. BENCHMARKS.md "Search strategies" has what each costs and picks.
    early_stopping: Literal["none", "hyperband", "asha"] = "none"


class Demo(_Frozen):
    """Overrides used when no ``--data`` is given (the built-in digits on a laptop CPU)."""

    architectures: tuple[str, ...] | None = None
    params: dict[str, Param] = {}
    budget: Budget | None = None


class SearchSpace(_Frozen):
    """A validated search space. Build it with :func:`load_space`."""

    name: str = "space"
    description: str = ""
    kind: Literal["finetune", "scratch"] = "finetune"
    metric: str = "val_accuracy_common"
    mode: Literal["max", "min"] = "max"
    architectures: tuple[str, ...]
    params: dict[str, Param] = {}
    budget: Budget = Budget()
    demo: Demo | None = None

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        if v not in METRICS:
            raise ValueError(f"unknown metric {v!r}; valid metrics: {', '.join(METRICS)}")
        return v

    @model_validator(mode="after")
    def _metric_mode(self) -> SearchSpace:
        wanted = "min" if self.metric == "val_loss" else "max"
        if self.mode != wanted:
            raise ValueError(f"metric {self.metric} is better when {'lower' if wanted == 'min' else 'higher'}, so mode must be {wanted}, but got {self.mode}")
        return self

    @field_validator("params")
    @classmethod
    def _params(cls, v: dict[str, Param]) -> dict[str, Param]:
        for key in v:
            if key not in PARAM_NAMES:
                close = difflib.get_close_matches(key, PARAM_NAMES, n=max(1, len(PARAM_NAMES)), cutoff=0.0)
                raise ValueError(f"unknown parameter {key!r}; valid parameters: {', '.join(close)}")
        return v

    @field_validator("architectures")
    @classmethod
    def _archs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("list at least one architecture")
        return v

    def param(self, name: str) -> Param | None:
        return self.params.get(name)

    def with_demo(self) -> SearchSpace:
        """This space with its demo overrides applied (for runs without ``--data``)."""
        if self.demo is None:
            return self
        return self.model_copy(
            update={
                "architectures": self.demo.architectures or self.architectures,
                "params": {**self.params, **self.demo.params},
                "budget": self.demo.budget or self.budget,
                "demo": None,
            }
        )

    def with_budget(self, **overrides: Any) -> SearchSpace:
        """This space with some budget fields replaced (CLI flags), revalidated."""
        data = {**self.budget.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
        return self.model_copy(update={"budget": _validated(Budget, data, "budget")})

    def grouping_candidates(self) -> list[str]:
        p = self.param("grouping")
        values = p.values() if p is not None else None
        return [str(g) for g in values] if values is not None else ["none"]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), sort_keys=False)


def _validated(model: type[BaseModel], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, where)) from None


def _explain(exc: ValidationError, where: str) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p in ("function-after",)))
    key = loc or "(top level)"
    if err["type"] == "extra_forbidden":
        parent = err["loc"][:-1]
        valid = _valid_keys(parent)
        return f"{where}: unknown key {key!r}; valid keys here: {', '.join(valid)}"
    if err["type"] == "missing":
        return f"{where}: key {key!r} is required"
    message = err["msg"].removeprefix("Value error, ")
    got = err.get("input")
    shown = f" (got {got!r})" if got is not None and not isinstance(got, dict) else ""
    return f"{where}: {key}: {message}{shown}"


def _valid_keys(parent: tuple) -> list[str]:
    if not parent:
        return list(SearchSpace.model_fields)
    if parent[0] == "budget":
        return list(Budget.model_fields)
    if parent[0] == "params" and len(parent) == 2:
        return list(Param.model_fields)
    if parent[0] == "demo":
        return list(Demo.model_fields)
    return []
