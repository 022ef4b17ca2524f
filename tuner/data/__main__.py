"""``python -m tuner.data``: dataset tools.

python -m tuner.data inspect DIR [--class-name-pattern P] [--grouping NAME|FILE] [--json] [--deep]
python -m tuner.data demo          # write the demo dataset and print its folder
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from tuner._cli import ArgumentParser, run_main


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m tuner.data", description="Check a dataset before GPU hours are spent on it.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inspect = sub.add_parser(
        "inspect",
        help="layout, classes, splits, image sizes and modes, unreadable files, duplicates, cache size",
        description="Inspect a dataset folder (class folders, pre-split or Tiny ImageNet).",
    )
    inspect.add_argument("data", metavar="DIR", help="the dataset folder")
    inspect.add_argument(
        "--class-name-pattern",
        metavar="P",
        help="regex whose first group is the class name, or a preset ('beauty' strips boxes_ and a trailing _<digits>)",
    )
    inspect.add_argument("--grouping", metavar="NAME|FILE", help="a grouping to check against the classes")
    inspect.add_argument("--json", action="store_true", help="print the report as JSON")
    inspect.add_argument("--deep", action="store_true", help="decode every image fully (slower, finds more corruption)")
    inspect.add_argument("--split-seed", type=int, default=0, metavar="N", help="seed of the 80/10/10 split (default 0)")
    sub.add_parser("demo", help="write the built-in demo dataset (scikit-learn digits) and print its folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from tuner.data._demo import demo_dataset_dir

        print(demo_dataset_dir())
        return 0
    from tuner.data._inspect import format_report, inspect_dataset

    report = inspect_dataset(args.data, args.class_name_pattern, args.grouping, deep=args.deep, split_seed=args.split_seed)
    print(json.dumps(report.to_dict(), indent=1) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    run_main(main)
