"""``python -m tuner.export RUN_DIR --out DIR``: a trial's model as a standalone folder.

python -m tuner.export runs/<name> --out models/shop          # the best trial
python -m tuner.export runs/<name> --trial 3f2a9c1e --out models/shop-3f2a
"""

from __future__ import annotations

from collections.abc import Sequence

from tuner._cli import ArgumentParser, run_main


def _parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="python -m tuner.export",
        description="Write a trial's best checkpoint as model.keras (uint8 RGB in, probabilities out) with labels.json, preprocessing.json and trial.json.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="the folder a search wrote (runs/<name>)")
    p.add_argument("--trial", default="best", metavar="ID|best", help="which trial (default: best)")
    p.add_argument("--out", required=True, metavar="DIR", help="a new folder for the model")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tuner.export import export_trial

    result = export_trial(args.run_dir, args.out, args.trial)
    acc = f", val_accuracy {result.val_accuracy:.4f}" if result.val_accuracy is not None else ""
    print(f"exported trial {result.trial_id} ({len(result.labels)} labels{acc}) to {result.out}")
    print(f"predict: python -m tuner.predict {result.out} IMAGE_OR_DIR")
    return 0


if __name__ == "__main__":
    run_main(main)
