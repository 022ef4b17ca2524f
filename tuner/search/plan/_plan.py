"""The search plan: everything a search needs, resolved before any trial starts.

Pure where it can be (space, dataset, groupings, budget, estimates); written to
``RUN_DIR/run.json`` so ``--resume`` can refuse a run whose space or data changed.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tuner import __version__
from tuner._io import user_path, write_atomic
from tuner._run import PLAN_FILE
from tuner.errors import ConfigError, DataError
from tuner.search.plan._contracts import PLAN_SCHEMA, Plan

if TYPE_CHECKING:  # pragma: no cover
    from tuner.search.space._sampling import DefineByRun
    from tuner.search.space._space import SearchSpace

__all__ = [
    "ASSUMED_IMAGES_PER_SECOND",
    "Options",
    "build_plan",
    "define_by_run",
    "load_plan",
    "save_plan",
    "estimate",
    "random_weight_architectures",
    "dropped_groupings_note",
    "random_weights_note",
    "stage_space",
]


#: Training throughput assumed for GPU-hour estimates (images/s on one T4-class GPU at the
#: architecture's default input size, fine-tuning). A rough planning figure, not a promise.
ASSUMED_IMAGES_PER_SECOND = {
    "inception_v3": 350.0,
    "resnet50": 400.0,
    "vgg16": 200.0,
    "mobilenet_v2": 1200.0,
    "efficientnet_b0": 700.0,
}
_DEFAULT_IMAGES_PER_SECOND = 500.0


@dataclass
class Options:
    """What the command line asked for."""

    space: str = "finetune"
    data: str | None = None
    class_name_pattern: str | None = None
    num_samples: int | None = None
    max_epochs: int | None = None
    gpus_per_trial: float | None = None
    cpus_per_trial: float | None = None
    max_concurrent: int | None = None
    storage: str = "runs"
    name: str | None = None
    weights: str = "auto"
    seed: int = 0
    groupings_from: str | None = None
    test_top: int = 3
    mlflow_uri: str | None = None


def _epochs_per_trial(max_epochs: int, first_rung: float, eta: float) -> float:
    """Expected epochs of a trial under successive halving with rungs at ``first_rung * eta**i``
    below ``max_epochs``, a share ``1 / eta`` of the trials going on at each."""
    epochs, prev, share, rung = 0.0, 0.0, 1.0, first_rung
    while rung < max_epochs:
        epochs += (rung - prev) * share
        prev, share, rung = rung, share / eta, rung * eta
    return epochs + (max_epochs - prev) * share


def expected_epochs_per_trial(early_stopping: str, max_epochs: int, grace_period: int, eta: float) -> float:
    """Expected epochs a trial trains under ``budget.early_stopping``: all of them (``none``),
    plain ASHA's rungs (``asha``), or Hyperband's brackets with their trial shares
    (``hyperband``; :class:`tuner.search.strategy._schedulers.HyperbandBrackets`)."""
    if early_stopping == "none":
        return float(max_epochs)
    grace = min(grace_period, max_epochs)
    if early_stopping == "asha":
        return _epochs_per_trial(max_epochs, grace, eta)
    rungs = max(0, math.ceil(math.log(max_epochs / grace, eta) - 1e-9))
    # Bracket with k rungs (k = rungs .. 0) starts at grace * eta**(rungs - k); share eta**k / (k + 1).
    weights = [eta**k / (k + 1) for k in range(rungs, -1, -1)]
    epochs = [_epochs_per_trial(max_epochs, grace * eta ** (rungs - k), eta) for k in range(rungs, -1, -1)]
    return sum(w * e for w, e in zip(weights, epochs)) / sum(weights)


def estimate(plan: Plan) -> dict[str, float]:
    """Expected trial-epochs under the space's early stopping, the bound if no trial were
    stopped, and GPU-hours (rough)."""
    budget = plan.space.budget
    n, t = plan.num_samples, plan.max_epochs
    expected = n * expected_epochs_per_trial(budget.early_stopping, t, plan.grace_period, plan.reduction_factor)
    probe = plan.probe_samples * plan.probe_epochs if plan.needs_probe else 0
    images = plan.train_images + plan.validation_images / 3.0  # validation is forward only
    speeds = [ASSUMED_IMAGES_PER_SECOND.get(a, _DEFAULT_IMAGES_PER_SECOND) for a in plan.architectures]
    speed = sum(speeds) / len(speeds)
    gpus = max(plan.gpus_per_trial or 1.0, 1.0)
    hours = (expected + probe) * images / (speed * gpus) / 3600.0 * gpus
    return {
        "trial_epochs": round(expected + probe, 1),
        "trial_epochs_exhaustive": float(n * t + probe),
        "gpu_hours": round(hours, 3),
        "assumed_images_per_second": speed,
    }


def build_plan(opts: Options) -> Plan:
    """Resolve the space, dataset, groupings and budget of a new search (no Ray, no TF).

    Raises:
        ConfigError, DataError: every user mistake, before any trial starts.
    """
    from tuner.data import (
        choose_working_size,
        demo_dataset_dir,
        index_dataset,
        load_grouping,
        resolve_grouping_path,
    )
    from tuner.search.space._checks import parse_auto
    from tuner.search.space._load import load_space, resolve_space_path
    from tuner.zoo import get_spec

    space = load_space(opts.space)
    demo = opts.data is None
    if demo:
        space = space.with_demo()
        data_dir = str(demo_dataset_dir())
    else:
        given = user_path(str(opts.data), "--data", DataError)
        data_dir = str(given.resolve()) if given.exists() else str(given)
    for flag, value in (("--num-samples", opts.num_samples), ("--max-epochs", opts.max_epochs)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} must be >= 1, but got {value}")
    if space.budget.sampler == "grid" and opts.num_samples is not None:
        raise ConfigError(
            f"--num-samples does not apply to a grid space (budget.sampler: grid runs every point once); drop it, or use sampler tpe or random in {opts.space}"
        )
    space = space.with_budget(num_samples=opts.num_samples, max_epochs=opts.max_epochs)
    if opts.max_epochs:
        # The space may give its probe more epochs than its search trials (a probe model must
        # learn before its confusions are clustered); --max-epochs caps both.
        space = space.with_budget(probe_epochs=min(space.budget.probe_epochs, opts.max_epochs))
    if space.budget.sampler == "grid":
        from tuner.search.space._grid import grid_points

        space = space.with_budget(num_samples=len(grid_points(space)))
    # "not x >= 0" (rather than "x < 0") also refuses nan; an infinite count never fits a node.
    if opts.gpus_per_trial is not None and not (opts.gpus_per_trial >= 0 and math.isfinite(opts.gpus_per_trial)):
        raise ConfigError(f"--gpus-per-trial must be a number >= 0, but got {opts.gpus_per_trial}")
    if opts.cpus_per_trial is not None and not (opts.cpus_per_trial > 0 and math.isfinite(opts.cpus_per_trial)):
        raise ConfigError(f"--cpus-per-trial must be a number > 0, but got {opts.cpus_per_trial}")
    if opts.groupings_from is not None:
        from tuner.leaderboard import FILENAME

        source = user_path(opts.groupings_from, "--groupings-from")
        if not (source / FILENAME).is_file():
            raise ConfigError(f"--groupings-from {opts.groupings_from!r} is not a finished run folder (no {FILENAME}); give the folder an earlier search wrote")
    if not 0 <= opts.seed < 2**32:
        # Optuna's samplers and numpy take seeds of 32 bits.
        raise ConfigError(f"--seed must be a whole number from 0 to {2**32 - 1}, but got {opts.seed}")
    if opts.max_concurrent is not None and opts.max_concurrent < 1:
        raise ConfigError(f"--max-concurrent must be >= 1, but got {opts.max_concurrent}")
    from tuner.zoo._build import check_weights_policy

    check_weights_policy(opts.weights)
    if opts.weights == "imagenet" and space.kind == "scratch":
        raise ConfigError("--weights imagenet does not apply to a scratch space (its models train from random weights); use --weights none")
    index = index_dataset(data_dir, opts.class_name_pattern)
    from tuner.data._index import check_readable

    check_readable(index)
    if not index.indices("validation"):
        raise DataError(f"{index.root} has no validation images; trials cannot be scored. Add a validation split or more images")
    classes = list(index.class_names)
    grouping_files: dict[str, str] = {}
    autos = []
    dropped: list[str] = []
    for label in space.grouping_candidates():
        if label == "none":
            continue
        if label.startswith("auto:"):
            amount, is_frac = parse_auto(label, "params.grouping")
            if len(classes) < 3:  # two classes: nothing to merge; the search runs without it (see dropped_groupings)
                dropped.append(label)
                continue
            # A share of the classes is kept inside 2..N-1 labels; an explicit K must fit.
            k = min(max(round(amount * len(classes)), 2), len(classes) - 1) if is_frac else int(amount)
            if not 2 <= k < len(classes):
                raise ConfigError(
                    f"params.grouping: {label!r} asks for {k} labels but the dataset has {len(classes)} classes; "
                    f"use auto:K with K from 2 to {len(classes) - 1}, or auto:P%"
                )
            autos.append((label, k))
            continue
        path = resolve_grouping_path(label)
        grouping = load_grouping(path)
        try:
            grouping.validate(classes, str(path))
        except ConfigError as exc:
            raise ConfigError(f"params.grouping {label!r} does not fit the dataset: {exc}") from None
        grouping_files[label] = str(path.resolve())
    archs = list(space.architectures)
    max_input = 0
    size_param = space.param("input_size")
    for arch in archs:
        spec = get_spec(arch)
        values = size_param.values() if size_param is not None else ["default"]
        sizes = [spec.default_input_size if v == "default" else int(v) for v in (values or ["default"])]
        max_input = max(max_input, max(s for s in sizes if s >= spec.min_input_size))
    working = choose_working_size(index, max_input)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    name = opts.name or f"{space.name}-{stamp}"
    if "/" in name or name in ("", ".", ".."):
        raise ConfigError(f"--name {name!r} must be a plain folder name")
    return Plan.model_validate(
        {
            "tuner_version": __version__,
            "name": name,
            "space_source": str(resolve_space_path(opts.space).resolve()),
            "space": space,
            "demo": demo,
            "kind": space.kind,
            "metric": space.metric,
            "mode": space.mode,
            "architectures": archs,
            "data_dir": index.root,
            "class_name_pattern": opts.class_name_pattern,
            "split_seed": 0,
            "identity": index.identity,
            "class_names": classes,
            "train_images": len(index.indices("train")),
            "validation_images": len(index.indices("validation")),
            "test_images": len(index.indices("test")),
            "working_size": working,
            "weights_policy": opts.weights,
            "weights": {},
            "grouping_candidates": space.grouping_candidates(),
            "grouping_files": grouping_files,
            "auto_groupings": {label: k for label, k in autos},
            "needs_probe": bool(autos) and not opts.groupings_from,
            "dropped_groupings": tuple(dropped),
            "groupings_from": opts.groupings_from,
            "common_grouping_file": None,
            "seed": opts.seed,
            "gpus_per_trial": opts.gpus_per_trial,
            "cpus_per_trial": opts.cpus_per_trial,
            "max_concurrent": opts.max_concurrent,
            "test_top": opts.test_top,
            "mlflow_uri": opts.mlflow_uri,
            # Workers on this machine use the driver's cache folder when one was chosen explicitly;
            # otherwise each node uses its own default (~/.cache/tuner).
            "cache_dir": os.environ.get("TUNER_CACHE_DIR") or None,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    )


def save_plan(plan: Plan, run_dir: Path) -> None:
    write_atomic(run_dir / PLAN_FILE, plan.model_dump_json(indent=1))


def load_plan(run_dir: Path) -> Plan:
    """The plan of a run folder, for ``--resume``.

    Raises:
        ConfigError: not a run folder; a damaged ``run.json``; one of another schema (a run
            of another tuner version): one line saying which.
    """
    from pydantic import ValidationError

    path = run_dir / PLAN_FILE
    if not run_dir.is_dir():
        raise ConfigError(f"--resume {str(run_dir)!r} does not exist; give a run directory (runs/<name>)")
    if not path.is_file():
        raise ConfigError(f"--resume {str(run_dir)!r} is not a run directory of tuner (no {PLAN_FILE}); give the folder a search wrote")
    from tuner._io import read_json

    data = read_json(path, "the run's plan", ConfigError, expect=None)
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is damaged (a JSON {type(data).__name__}, not an object); the run cannot be resumed")
    version = data.get("schema_version", 0)
    if version != PLAN_SCHEMA:
        written = data.get("tuner_version", "unknown") if isinstance(data, dict) else "unknown"
        raise ConfigError(
            f"{path} was written by tuner {written} (plan schema {version}); tuner {__version__} resumes plan schema {PLAN_SCHEMA} only: "
            f"start a new run, or resume this one with tuner {written}"
        )
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{path} is damaged ({where}: {first['msg']}); the run cannot be resumed") from None


def stage_space(plan: Plan, stage: str) -> DefineByRun:
    """The define-by-run function one stage of ``plan`` samples from."""
    return define_by_run(plan.space, stage, random_weights=random_weight_architectures(plan), dropped=plan.dropped_groupings)


def define_by_run(space: SearchSpace, stage: str, random_weights: Sequence[str] = (), dropped: Sequence[str] = ()) -> DefineByRun:
    """The define-by-run function of ``space`` for a stage (the probe never groups classes),
    without the ``dropped`` grouping candidates; ``random_weights``: architectures that start
    from random weights (their freezing parameters are not searched)."""
    from tuner.search.space._sampling import DefineByRun
    from tuner.search.space._space import Param

    kept = [g for g in space.grouping_candidates() if g not in dropped]
    if stage == "probe" or kept == ["none"]:
        space = space.model_copy(update={"params": {**space.params, "grouping": Param(fixed="none")}})
    elif len(kept) < len(space.grouping_candidates()):
        space = space.model_copy(update={"params": {**space.params, "grouping": Param(choice=tuple(kept))}})
    return DefineByRun(space, random_weights=random_weights)


def dropped_groupings_note(plan: Plan) -> str | None:
    """One line when the plan searches without some grouping candidates, saying why."""
    if not plan.dropped_groupings or plan.needs_probe:
        return None
    return f"groupings: {', '.join(plan.dropped_groupings)} dropped: the dataset has {len(plan.class_names)} classes, nothing to merge"


def random_weights_note(plan: Plan) -> str | None:
    """One line on what architectures without pretrained weights train, or ``None``."""
    from tuner.search.space._sampling import random_init_values
    from tuner.zoo import get_spec

    archs = random_weight_architectures(plan)
    if not archs:
        return None
    blocks = ", ".join(f"{random_init_values(get_spec(a).num_blocks)['unfrozen_blocks']} of {a}" for a in archs)
    one = len(archs) == 1
    return (
        f"{', '.join(archs)} start{'s' if one else ''} from random weights (no ImageNet weights here): "
        f"{'its' if one else 'their'} trials train every block in one phase (unfrozen_blocks {blocks}, warmup_epochs 0, "
        f"backbone_lr_mult 1); freezing random layers wastes a trial, so these are not searched for {'it' if one else 'them'}"
    )


def random_weight_architectures(plan: Plan) -> list[str]:
    """Architectures of a finetune search that start from random weights (no ImageNet here)."""
    if plan.kind != "finetune":
        return []
    return [a for a in plan.architectures if plan.weights.get(a, "none") == "none"]
