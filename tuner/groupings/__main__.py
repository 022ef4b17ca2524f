"""``python -m tuner.groupings suggest RUN_DIR --classes K``: merge the classes a model confuses.

python -m tuner.groupings suggest runs/<name> --classes 45            # YAML on stdout
python -m tuner.groupings suggest runs/<name> --classes 45 --out search_spaces/groupings/mine.yaml
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from tuner._cli import ArgumentParser, run_main


def _parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m tuner.groupings", description="Grouping suggestions from a finished search.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=ArgumentParser)
    s = sub.add_parser(
        "suggest",
        help="cluster the best trial's confusion matrix into K labels and write a grouping YAML",
        description="From the best trial trained on all classes: symmetrise its row-normalised confusion rates, "
        "cluster agglomeratively to K labels; every cluster of two or more classes becomes a group.",
    )
    s.add_argument("run_dir", metavar="RUN_DIR", help="the folder a search wrote (runs/<name>)")
    s.add_argument("--classes", type=int, required=True, metavar="K", help="number of labels after grouping (2 <= K < classes)")
    s.add_argument("--trial", metavar="ID", help="use this trial's confusion matrix instead of the best one")
    s.add_argument("--name", metavar="NAME", help="the grouping's name (default: from --out, else 'suggested_K')")
    s.add_argument("--out", metavar="FILE", help="write the YAML here (default: print it)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    from tuner._io import write_atomic
    from tuner._run import CONFUSION_FILE, load_confusion, load_run
    from tuner.errors import ConfigError, DataError
    from tuner.groupings import grouping_yaml, suggest_grouping, why_not_learned

    run = load_run(args.run_dir)
    n = len(run.class_names)
    if n < 3:
        raise DataError(f"{run.path} has {n} classes; a grouping needs at least 3 to merge any (the run's metadata lists its classes)")
    if not 2 <= args.classes < n:
        raise ConfigError(f"--classes must be from 2 to {n - 1} (fewer labels than the run's {n} classes), but got {args.classes}")
    if args.trial:
        row = run.row(args.trial)
        grouping = row.param("grouping")
        if isinstance(grouping, str) and grouping != "none":
            raise ConfigError(f"--trial {args.trial} was trained on a grouping ({grouping}); pick a trial on all {n} classes")
    else:
        best = run.best_row(with_checkpoint=True, fine_labels_only=True)
        if best is None:
            raise DataError(f"{run.path}: no scored trial on all {n} classes has a checkpoint; a suggestion needs one (run more trials with grouping none)")
        row = best
    folder = run.checkpoint(row)
    if folder is None or not (folder / CONFUSION_FILE).is_file():
        raise DataError(f"{run.path}: trial {row.trial_id} has no {CONFUSION_FILE} in its checkpoint; pick another with --trial")
    confusion = load_confusion(folder / CONFUSION_FILE)
    why = why_not_learned(confusion)
    if why:
        raise DataError(f"trial {row.trial_id} of {run.path.name}: {why}; train longer or on more data, or pick a better trial with --trial")
    out = Path(args.out) if args.out else None
    name = args.name or (out.stem if out else f"suggested_{args.classes}")
    suggested = suggest_grouping(confusion, run.class_names, args.classes, name=name)
    text = grouping_yaml(suggested, f"trial {row.trial_id} of {run.path.name}, {run.metric} {float(row.objective or 0):.4f}")
    if out is None:
        sys.stdout.write(text)
        return 0
    if out.exists() and out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a folder; give a file name such as {out / (name + '.yaml')}")
    write_atomic(out, text)
    print(f"wrote {out}: {len(suggested.grouping.groups)} groups, {args.classes} labels", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
