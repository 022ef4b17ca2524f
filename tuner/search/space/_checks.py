"""A space checked against what trials can run: the model zoo, each parameter's rules
(``tuner._params``), the groupings. :func:`check_space` runs when a space is loaded."""

from __future__ import annotations

import math
from typing import Any

from tuner._io import short
from tuner._params import PARAM_DEFAULTS
from tuner.errors import ConfigError
from tuner.search.space._space import Param, SearchSpace

__all__ = ["DEFAULTS", "check_space", "int_high", "param_bounds", "parse_auto"]


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
