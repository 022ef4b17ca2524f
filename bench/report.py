"""How long ``python -m tuner.report`` takes on a 1,000-trial leaderboard (target: < 30 s).

The leaderboard is the test suite's synthetic one (tests/report/_synthetic.py): 1,000 trials
over the shipped finetune space, 3 architectures, 3 groupings, ASHA-stopped and failed trials,
per-epoch histories. Each stage is timed in the same run, so the total's split is visible.

    python bench/report.py [--trials 1000] [--repeat 3]
    python bench/report.py --quick      # 1,000 trials, one run
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="one run instead of --repeat")
    args = p.parse_args()
    if args.quick:
        args.repeat = 1
    from tests.report._synthetic import write_synthetic_run

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = write_synthetic_run(Path(tmp) / "run", n_trials=args.trials)
        # The whole command, as a user runs it: a fresh process (imports included).
        walls = []
        for i in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "tuner.report", str(run_dir), "--out", f"{tmp}/out{i}"], check=True, capture_output=True)
            walls.append(time.perf_counter() - t0)
        # Where the time goes, in this process.
        from tuner._run import load_run
        from tuner.report import FIGURES

        run = load_run(run_dir)
        stages = {}
        for fig in FIGURES:
            t0 = time.perf_counter()
            info = fig.info(run)
            t1 = time.perf_counter()
            if not info.empty:
                fig.draw(info)
            stages[fig.key] = (t1 - t0, time.perf_counter() - t1)
    print(
        f"{args.trials} trials: python -m tuner.report wall time, median of {args.repeat}: {statistics.median(walls):.1f}s "
        f"(runs: {', '.join(f'{w:.1f}' for w in walls)}); target < 30 s: {'met' if statistics.median(walls) < 30 else 'NOT met'}"
    )
    print(f"{'figure':<18} {'data s':>7} {'draw s':>7}")
    for key, (data, draw) in stages.items():
        print(f"{key:<18} {data:>7.2f} {draw:>7.2f}")


if __name__ == "__main__":
    main()
