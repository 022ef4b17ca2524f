"""The run's grouping files: copies of the named ones, ``auto:K``/``auto:P%`` resolved from a probe
model that learned, and the common label space every trial is scored on."""

from __future__ import annotations

from pathlib import Path

from tuner._io import write_atomic
from tuner._run import COMMON_GROUPING_FILE, GROUPINGS_DIR
from tuner.errors import TunerError
from tuner.search.driver._console import say
from tuner.search.plan._contracts import Plan

__all__ = ["copy_groupings", "resolve_auto_groupings", "set_common_space"]


def copy_groupings(run_dir: Path, plan: Plan) -> Plan:
    """Keep a copy of every named grouping in the run folder, so the run stays readable (and
    its models exportable) if the original file changes or the folder moves."""
    import shutil

    folder = run_dir / GROUPINGS_DIR
    files = dict(plan.grouping_files)
    for label, path in plan.grouping_files.items():
        if not Path(path).is_file():
            continue
        folder.mkdir(exist_ok=True)
        target = folder / Path(path).name
        if target.exists():
            target = folder / f"{label}.yaml"
        shutil.copyfile(path, target)
        files[label] = str(target)
    return plan.evolve(grouping_files=files)


def resolve_auto_groupings(run_dir: Path, plan: Plan, source_dir: Path) -> Plan:
    """Fix every ``auto:K`` candidate to one grouping file, from the best probe (or earlier) trial."""

    from tuner._run import CONFUSION_FILE, load_confusion, load_run
    from tuner.data._names import safe_filename
    from tuner.groupings import grouping_yaml, suggest_grouping, why_not_learned

    source = load_run(source_dir)
    best = source.best_row(with_checkpoint=True, fine_labels_only=True)
    if best is None:
        raise TunerError(
            f"no usable trial in {source_dir} to derive auto groupings from (all failed or none scored); "
            f"check the failures in its leaderboard, or drop auto:* from params.grouping"
        )
    checkpoint = source.checkpoint(best)
    assert checkpoint is not None  # best_row(with_checkpoint=True) has one
    confusion = load_confusion(checkpoint / CONFUSION_FILE)
    why = why_not_learned(confusion)
    if why:
        # Clustering a model at chance would merge random classes and score every grouped
        # trial on that noise: search without the auto candidates instead.
        dropped = sorted(plan.auto_groupings)
        say(
            f"warning: {', '.join(dropped)} dropped: the best {'probe ' if source_dir == run_dir else ''}trial "
            f"{best.trial_id} of {source_dir.name}: {why}. The search goes on without them; for groupings give the probe "
            f"more epochs (budget.probe_epochs) or more data, or use --groupings-from a run that learned",
            err=True,
        )
        return plan.evolve(dropped_groupings=tuple(dropped))
    folder = run_dir / GROUPINGS_DIR
    folder.mkdir(exist_ok=True)
    files = dict(plan.grouping_files)
    for label, k in plan.auto_groupings.items():
        name = "auto_" + safe_filename(label.split(":", 1)[1].replace("%", "pct"))
        suggested = suggest_grouping(confusion, list(plan.class_names), int(k), name=name)
        path = folder / f"{name}.yaml"
        write_atomic(path, grouping_yaml(suggested, f"trial {best.trial_id} of {source_dir.name}"))
        files[label] = str(path)
    return plan.evolve(grouping_files=files)


def set_common_space(run_dir: Path, plan: Plan) -> Plan:
    """``plan`` with its common label space (``None`` when no candidate merges classes)."""
    from tuner.data import load_grouping
    from tuner.groupings import common_grouping

    groupings = [load_grouping(p) for p in plan.grouping_files.values()]
    common = common_grouping(list(plan.class_names), groupings)
    if common is None:
        return plan.evolve(common_grouping_file=None)
    import yaml

    folder = run_dir / GROUPINGS_DIR
    folder.mkdir(exist_ok=True)
    path = folder / COMMON_GROUPING_FILE
    body = {"name": common.name, "groups": {g: list(m) for g, m in common.groups.items()}}
    write_atomic(
        path,
        "# The common label space of this search: every grouping candidate maps into it, and\n"
        "# val_accuracy_common scores all trials on it, so merging classes alone cannot win.\n" + yaml.safe_dump(body, sort_keys=False),
    )
    return plan.evolve(common_grouping_file=str(path))
