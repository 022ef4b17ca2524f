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
(``tuner.search._sampling``).
"""

from __future__ import annotations

import builtins
import difflib
import math
from pathlib import Path
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

from tuner._io import short
from tuner._params import PARAM_DEFAULTS, PARAM_HELP
from tuner._paths import list_yaml, repo_search_spaces_dir, resolve_named_yaml
from tuner.errors import ConfigError

__all__ = [
    "METRICS",
    "PARAM_NAMES",
    "Budget",
    "SearchSpace",
    "list_spaces",
    "load_space",
    "resolve_space_path",
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


def _spaces_dir() -> Path:
    return repo_search_spaces_dir()


def list_spaces() -> list[str]:
    """Names of the shipped search spaces."""
    return list_yaml(_spaces_dir())


def resolve_space_path(name_or_file: str) -> Path:
    """``--space NAME|FILE`` -> the YAML file.

    Raises:
        ConfigError: neither a shipped name nor an existing file.
    """
    return resolve_named_yaml(name_or_file, _spaces_dir(), "space")


def load_space(name_or_file: str) -> SearchSpace:
    """Load and validate a space (shipped name or file), including its architectures.

    Raises:
        ConfigError: YAML syntax, unknown keys, bad ranges, unknown architectures or
            optimizers, input sizes below an architecture's minimum, unfrozen blocks above an
            architecture's count. Each message names the key, the value and the valid choices.
    """
    from tuner._io import read_yaml

    path = resolve_space_path(name_or_file)
    raw = read_yaml(path, "space file")
    if not isinstance(raw, dict):
        raise ConfigError(f"space file {str(path)!r} must be a mapping of keys such as architectures, params and budget")
    raw.setdefault("name", path.stem)
    space = _validated(SearchSpace, raw, f"space {path.name}")
    check_space(space, f"space {path.name}")
    if space.demo is not None:
        check_space(space.with_demo(), f"space {path.name} (demo)")
    return space


def check_space(space: SearchSpace, where: str = "space") -> None:
    """Check a space against the model zoo (architectures, optimizers, sizes, block counts).

    Raises:
        ConfigError: with the key, the value received and the valid choices.
    """
    from tuner.zoo import OPTIMIZERS, get_spec, list_models

    _check_values(space, where)
    specs = []
    for arch in space.architectures:
        try:
            spec = get_spec(arch)
        except ConfigError as exc:
            raise ConfigError(f"{where}: architectures: {exc}") from None
        if space.kind == "finetune" and spec.backbone is None:
            raise ConfigError(
                f"{where}: architectures: {arch} has no pretrained backbone to fine-tune; finetune spaces take {', '.join(list_models(pretrained=True))}"
            )
        specs.append(spec)
    opt = space.param("optimizer")
    if opt is not None:
        if opt.values() is None:
            raise ConfigError(f"{where}: params.optimizer must be a choice or fixed value of {', '.join(OPTIMIZERS)}")
        for value in opt.values() or []:
            if value not in OPTIMIZERS:
                raise ConfigError(f"{where}: params.optimizer: unknown optimizer {value!r}; valid: {', '.join(OPTIMIZERS)}")
    for name in ("dropout",):
        p = space.param(name)
        if p is not None:
            lo, hi = param_bounds(p)
            if not (0 <= lo and hi < 1):
                raise ConfigError(f"{where}: params.dropout must lie in [0, 1), but got {lo}..{hi}")
    for name in ("lr", "backbone_lr_mult"):
        p = space.param(name)
        if p is not None and param_bounds(p)[0] <= 0:
            raise ConfigError(f"{where}: params.{name} must be > 0, but got {param_bounds(p)[0]}")
    for name in ("batch_size", "dense_units"):
        p = space.param(name)
        if p is not None and param_bounds(p)[0] < 1:
            raise ConfigError(f"{where}: params.{name} must be >= 1, but got {param_bounds(p)[0]}")
    sched = space.param("lr_schedule")
    if sched is not None:
        from tuner.zoo import LR_SCHEDULES

        for value in sched.values() or [None]:
            if value not in LR_SCHEDULES:
                raise ConfigError(f"{where}: params.lr_schedule: unknown schedule {value!r}; valid: {', '.join(LR_SCHEDULES)}")
    aug = space.param("augment")
    if aug is not None:
        from tuner.data import AUGMENTATIONS

        for value in aug.values() or [None]:
            if value not in AUGMENTATIONS:
                raise ConfigError(f"{where}: params.augment: unknown augmentation {value!r}; valid: {', '.join(AUGMENTATIONS)}")
    size = space.param("input_size")
    if size is not None:
        if size.values() is None:
            raise ConfigError(f"{where}: params.input_size must be a choice or fixed value (sizes in px or 'default')")
        sizes = size.values() or []
        numeric = [v for v in sizes if v != "default"]
        for v in numeric:
            if not isinstance(v, int) or isinstance(v, bool):
                raise ConfigError(f"{where}: params.input_size: {v!r} is neither a size in px nor 'default'")
        for spec in specs:
            if numeric and all(v < spec.min_input_size for v in numeric) and "default" not in sizes:
                raise ConfigError(
                    f"{where}: params.input_size {numeric} is below {spec.name}'s minimum of {spec.min_input_size} px; "
                    f"add a size of at least {spec.min_input_size} or 'default'"
                )
    blocks = space.param("unfrozen_blocks")
    if blocks is not None and space.kind == "finetune":
        for spec in specs:
            hi = int_high(blocks, spec.num_blocks)
            if hi > spec.num_blocks:
                raise ConfigError(
                    f"{where}: params.unfrozen_blocks goes up to {hi} but {spec.name} has {spec.num_blocks} blocks; use at most {spec.num_blocks} or 'max'"
                )
    _check_groupings(space, where)


def _check_values(space: SearchSpace, where: str) -> None:
    """Every value a trial could be handed obeys its parameter's rules (``ParamSpec.problem``):
    each choice, the fixed value, both ends of a range; and the distribution suits the type."""
    from tuner._params import PARAMS

    specs = {p.name: p for p in PARAMS}
    for name, param in space.params.items():
        spec = specs[name]
        kind = param.kind
        if kind in ("uniform", "loguniform") and spec.column != "Float64":
            whole = "whole numbers: use int: [low, high] or a choice" if spec.column == "Int64" else "names: use a choice"
            raise ConfigError(f"{where}: params.{name}: {kind} draws real numbers, but {name} takes {whole}")
        if kind == "int" and spec.column == "string":
            raise ConfigError(f"{where}: params.{name}: int draws numbers, but {name} takes names; use a choice")
        values = list(param.values() or [])
        if kind in ("uniform", "loguniform", "int"):
            values = list(getattr(param, kind))
        for value in values:
            if isinstance(value, (list, tuple, dict, set)):
                raise ConfigError(f"{where}: params.{name}: {short(value, 40)} is a {type(value).__name__}, not one value; {spec.rule}")
            why = spec.problem(value)
            if why:
                raise ConfigError(f"{where}: params.{name}: {why}; {spec.rule}")


def _check_groupings(space: SearchSpace, where: str) -> None:
    from tuner.data import resolve_grouping_path

    candidates = space.grouping_candidates()
    if len(set(candidates)) > 1 and space.metric != "val_accuracy_common":
        # Merging classes alone raises accuracy on the merged labels: trials on different
        # label spaces are only comparable on the common one.
        raise ConfigError(
            f"{where}: params.grouping searches {len(set(candidates))} groupings, but metric {space.metric} scores each trial on its own labels, "
            "where merging classes alone raises the score; use metric: val_accuracy_common (the default) or fix one grouping"
        )
    for g in space.grouping_candidates():
        if g == "none":
            continue
        if g.startswith("auto:"):
            parse_auto(g, where)
            continue
        try:
            resolve_grouping_path(g)
        except ConfigError as exc:
            raise ConfigError(f"{where}: params.grouping: {exc}") from None


def parse_auto(candidate: str, where: str = "grouping") -> tuple[float, bool]:
    """``auto:K`` -> ``(K, False)``; ``auto:P%`` -> ``(P / 100, True)``.

    Raises:
        ConfigError: anything else.
    """
    text = candidate[len("auto:") :]
    try:
        if text.endswith("%"):
            frac = float(text[:-1]) / 100.0
            if not 0 < frac < 1:
                raise ValueError
            return frac, True
        k = int(text)
        if k < 2:
            raise ValueError
        return float(k), False
    except ValueError:
        raise ConfigError(f"{where}: {candidate!r} is not a valid automatic grouping; use auto:K with K >= 2 classes or auto:P% with 0 < P < 100") from None


#: Defaults of parameters a space does not mention (the study's settings).
DEFAULTS: dict[str, Any] = PARAM_DEFAULTS


def param_bounds(p: Param) -> tuple[float, float]:
    if p.loguniform is not None:
        return p.loguniform
    if p.uniform is not None:
        return p.uniform
    if p.int is not None:
        lo, hi = p.int
        return float(lo), (math.inf if hi == "max" else float(hi))
    values = [v for v in (p.values() or []) if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return (min(values), max(values)) if values else (0.0, 0.0)


def int_high(p: Param, maximum: int) -> int:
    if p.int is not None:
        hi = p.int[1]
        return maximum if hi == "max" else int(hi)
    values = p.values() or []
    return max((maximum if v == "max" else int(v)) for v in values)
