"""``python -m tuner.predict MODEL_DIR IMAGE_OR_DIR``: classify images with an exported model.

python -m tuner.predict models/shop photo.jpg
python -m tuner.predict models/shop shelf_photos/ --top 3 --csv predictions.csv
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence

from tuner._cli import ArgumentParser, run_main


def _parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m tuner.predict", description="Top-K labels of each image, from a folder written by python -m tuner.export.")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="the --out folder of python -m tuner.export")
    p.add_argument("images", metavar="IMAGE_OR_DIR", help="an image, or a folder searched recursively")
    p.add_argument("--top", type=int, default=1, metavar="K", help="labels per image (default 1)")
    p.add_argument("--csv", metavar="FILE", help="write path,rank,label,probability rows here instead of printing")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tuner.errors import ConfigError
    from tuner.export import image_files, load_exported, predict_files

    if args.top < 1:
        raise ConfigError(f"--top must be at least 1, but got {args.top}")
    files = image_files(args.images)  # checked before TensorFlow loads
    exported = load_exported(args.model_dir)
    predictions = predict_files(exported, files, args.top)
    unreadable = sum(1 for p in predictions if p.error)
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", "rank", "label", "probability"])
            for p in predictions:
                for rank, (label, prob) in enumerate(zip(p.labels, p.probabilities), start=1):
                    writer.writerow([p.path, rank, label, f"{prob:.6f}"])
        print(f"wrote {len(predictions) - unreadable} predictions to {args.csv}", file=sys.stderr)
    else:
        for p in predictions:
            if p.error:
                continue
            print(p.path + "\t" + "\t".join(f"{label} {prob:.3f}" for label, prob in zip(p.labels, p.probabilities)))
    for p in predictions:
        if p.error:
            print(f"warning: skipped {p.path}: {p.error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
