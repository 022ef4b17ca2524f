"""The searchable parameters: each one declared once.

The space schema (which keys a space may name, their meaning and defaults), the define-by-run
sampler, the leaderboard's columns and rows and the report's parameter lists all derive from
:data:`PARAMS`. Adding a parameter is one :class:`ParamSpec` here, plus the code that uses
its value (the worker or the model builder). Its rules (type, bounds, words such as ``max``)
are checked for every value of a space by ``tuner/search/space/_checks.py``; a check that
needs the model zoo or the data (optimizer names, block counts) lives there too. The
define-by-run sampler (``tuner/search/space/_sampling.py``) walks :data:`PARAMS` in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "LOG_SCALE_PARAMS",
    "PARAMS",
    "PARAM_COLUMNS",
    "PARAM_DEFAULTS",
    "PARAM_HELP",
    "ParamSpec",
    "ParamValue",
    "param_names",
    "register_param",
    "unregister_param",
]

Column = Literal["Float64", "Int64", "string"]
#: A sampled parameter's value: a trial's config, a leaderboard row (a column of one of the
#: three types above).
ParamValue = str | int | float


@dataclass(frozen=True)
class ParamSpec:
    """One searchable parameter.

    Attributes:
        name: The key in a space's ``params`` and the leaderboard column.
        help: What it means (shown in errors naming valid keys and in ``--dry-run``).
        default: The value a trial uses when its space does not mention it (the study's).
        column: The leaderboard column's pandas dtype.
        log: Sampled and drawn on a log scale when continuous.
        per_architecture: Its range depends on the architecture (sampled per architecture).
        prior: The conventional value a search tries first (its nearest allowed value; ``None``:
            the default; ``"third"``: a third of the architecture's maximum). See
            ``tuner.search.space._sampling.prior_points``.
        low, high: The smallest and largest value a trial can run (numbers only); ``low_open``
            / ``high_open``: that end itself is excluded.
        words: Words a space may give instead of a number (``max``, ``default``).

    :meth:`problem` applies these rules, with the type ``column`` implies, to one value: the
    space's validation (every value of a choice, both ends of a range) and the run folder's
    read-back both use it, so what a trial may be handed is decided here only.
    """

    name: str
    help: str
    default: Any
    column: Column
    log: bool = False
    per_architecture: bool = False
    prior: Any = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    words: tuple[str, ...] = ()

    @property
    def rule(self) -> str:
        """What a value must be, in words (for messages)."""
        if self.column == "string":
            return f"{self.name} takes a name"
        kind = "a whole number" if self.column == "Int64" else "a number"
        lo = "" if self.low is None else f"{'(' if self.low_open else '['}{self.low:g}"
        hi = "" if self.high is None else f"{self.high:g}{')' if self.high_open else ']'}"
        span = f" in {lo or '(-inf'}, {hi or 'inf)'}" if lo or hi else ""
        extra = f" or {' / '.join(repr(w) for w in self.words)}" if self.words else ""
        return f"{self.name} takes {kind}{span}{extra}"

    def problem(self, value: Any) -> str | None:
        """Why a trial cannot be given ``value`` for this parameter, or ``None``."""
        import math

        from tuner._io import short

        if isinstance(value, str) and value in self.words:
            return None
        if self.column == "string":
            return None if isinstance(value, str) else f"{short(value, 40)} is not a name"
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                return f"{short(value, 40)} is not a number"
            return f"{short(value, 40)} is quoted, so it is text, not a number; write it without quotes"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{short(value, 40)} is not a number"
        if not math.isfinite(value):
            return f"{value} is not a finite number"
        if self.column == "Int64" and not float(value).is_integer():
            return f"{value:g} is not a whole number"
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return f"{value:g} is too small"
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return f"{value:g} is too large"
        return None


#: Every searchable parameter, in declaration order (the leaderboard's column order).
PARAMS: list[ParamSpec] = [
    ParamSpec("lr", "learning rate (of the head; the backbone's is lr x backbone_lr_mult)", 2e-4, "Float64", log=True, prior=3e-4, low=0, low_open=True),
    ParamSpec("lr_schedule", "learning rate over a trial: constant (the study's) | cosine (half a cosine to 0 at max_epochs)", "constant", "string"),
    ParamSpec("optimizer", "adam | adamw | rmsprop | sgd | sgd_momentum", "rmsprop", "string", prior="adam"),
    ParamSpec("dropout", "head dropout rate in [0, 1)", 0.2, "Float64", low=0, high=1, high_open=True),
    ParamSpec("dense_units", "width of the head's hidden dense layer", 512, "Int64", low=1, high=65536),
    ParamSpec(
        "unfrozen_blocks",
        "trainable blocks at the end of the backbone; 'max' = all",
        0,
        "Int64",
        per_architecture=True,
        prior="third",
        low=0,
        high=1000,
        words=("max",),
    ),
    ParamSpec("warmup_epochs", "epochs training only the head before unfreezing (0 = one phase)", 0, "Int64", prior=1, low=0, high=10000),
    ParamSpec("backbone_lr_mult", "learning-rate multiplier of the unfrozen backbone blocks", 1.0, "Float64", log=True, low=0, high=100, low_open=True),
    ParamSpec("grouping", "none | a grouping name or file | auto:K | auto:P%", "none", "string"),
    ParamSpec("batch_size", "images per batch (per GPU)", 64, "Int64", low=1, high=65536),
    ParamSpec(
        "input_size",
        "network input size in px; 'default' = the architecture's own",
        "default",
        "Int64",
        per_architecture=True,
        low=8,
        high=4096,
        words=("default",),
    ),
    ParamSpec("augment", "training augmentation: study (the retail study's) | light | none", "study", "string"),
]


def param_names() -> tuple[str, ...]:
    """The parameters' names, in declaration order."""
    return tuple(p.name for p in PARAMS)


# The views below are updated in place by register_param/unregister_param, so every module
# that imported them sees a parameter registered later (a plugin's, or a test's).
#: name -> meaning, for messages.
PARAM_HELP: dict[str, str] = {}
#: name -> the value used when a space does not mention it.
PARAM_DEFAULTS: dict[str, Any] = {}
#: name -> leaderboard dtype.
PARAM_COLUMNS: dict[str, Column] = {}
#: Parameters drawn on a log axis.
LOG_SCALE_PARAMS: set[str] = set()


def _index(spec: ParamSpec) -> None:
    PARAM_HELP[spec.name] = spec.help
    PARAM_DEFAULTS[spec.name] = spec.default
    PARAM_COLUMNS[spec.name] = spec.column
    if spec.log:
        LOG_SCALE_PARAMS.add(spec.name)


def register_param(spec: ParamSpec) -> ParamSpec:
    """Add a searchable parameter: spaces may name it, trials sample it, the leaderboard and
    the report show it. The code that uses its value reads it from the trial's config.

    Raises:
        ValueError: a parameter of that name exists.
    """
    if spec.name in PARAM_HELP or spec.name == "architecture":
        raise ValueError(f"a search parameter named {spec.name!r} is already registered")
    PARAMS.append(spec)
    _index(spec)
    return spec


def unregister_param(name: str) -> None:
    """Remove a parameter added by :func:`register_param` (tests clean up with it)."""
    PARAMS[:] = [p for p in PARAMS if p.name != name]
    for view in (PARAM_HELP, PARAM_DEFAULTS, PARAM_COLUMNS):
        view.pop(name, None)
    LOG_SCALE_PARAMS.discard(name)


for _spec in PARAMS:
    _index(_spec)
