"""``python -m tuner.report RUN_DIR``: an HTML report of a search's leaderboard.

python -m tuner.report runs/<name>                 # writes runs/<name>/report/report.html
python -m tuner.report runs/<name> --out /tmp/r --top 50
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tuner._cli import ArgumentParser, run_main


def _parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="python -m tuner.report",
        description="Write a self-contained report.html (figures embedded) and its PNGs from a run's leaderboard.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="the folder a search wrote (runs/<name>)")
    p.add_argument("--out", metavar="DIR", help="where to write (default: RUN_DIR/report)")
    p.add_argument("--top", type=int, default=20, metavar="N", help="leaderboard rows in the table (default 20)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tuner.errors import ConfigError

    if args.top < 1:
        raise ConfigError(f"--top must be at least 1, but got {args.top}")
    from tuner.report import build_report

    result = build_report(args.run_dir, args.out, args.top)
    for key, note in result.notes.items():
        print(f"  {key}: {note}", file=sys.stderr)
    print(f"report: {result.html} ({len(result.pngs)} figures, {result.seconds:.1f}s)")
    return 0


if __name__ == "__main__":
    run_main(main)
