"""Soak test: many short trials, end to end, looking for hangs and stalls (issue 11).

Each repetition runs the real command in a fresh process with its own Ray instance,
``python -m tuner.search --space SOAK.yaml --local``: LeNet-5 from scratch on the demo digits,
``--trials`` trials of 2-4 epochs (ASHA on: grace period 2, reduction factor 2, max 4 epochs),
2 at a time on this machine's 2 CPUs. It prints, per repetition: trials finished (completed or
stopped by ASHA), stalls (trials the watchdog ended), failed trials, hangs (the command made no
progress line for ``--silence`` seconds, or outlived ``--limit``: killed and counted) and the
wall time.

    python bench/soak.py                 # 60 trials x 3 repetitions (~25 min on 2 cores)
    python bench/soak.py --quick         # 12 trials x 1 (under 5 min)
"""

from __future__ import annotations

import argparse
import os
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPACE = """
kind: scratch
metric: val_accuracy
architectures: [lenet5]
params:
  lr: {{loguniform: [1.0e-3, 1.0e-1]}}
  optimizer: {{choice: [adam, sgd_momentum]}}
  batch_size: {{choice: [32, 64]}}
  input_size: {{fixed: 32}}
  augment: {{fixed: none}}
budget: {{num_samples: {n}, max_epochs: 4, grace_period: 2, reduction_factor: 2}}
"""


def run_once(space: Path, storage: Path, name: str, silence: float, limit: float) -> dict:
    cmd = [sys.executable, "-m", "tuner.search", "--space", str(space), "--storage", str(storage), "--name", name, "--local"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    last_line, hang, lines = time.monotonic(), None, []
    while proc.poll() is None:
        if sel.select(timeout=1.0):
            line = proc.stdout.readline()
            if line:
                lines.append(line.rstrip())
                last_line = time.monotonic()
        now = time.monotonic()
        if now - last_line > silence:
            hang = f"no output for {silence:.0f} s"
        elif now - t0 > limit:
            hang = f"still running after {limit:.0f} s"
        if hang:
            proc.kill()
            break
    lines += [ln.rstrip() for ln in proc.stdout]
    proc.wait()
    wall = time.monotonic() - t0
    from tuner.leaderboard import read_leaderboard

    finished = stalls = failed = 0
    try:
        df, _ = read_leaderboard(storage / name)
        finished = int(df["status"].isin(["completed", "stopped_early"]).sum())
        reasons = df["failure_reason"].fillna("")
        stalls = int(reasons.str.startswith("stalled").sum())
        failed = int((df["status"] == "failed").sum())
    except Exception as exc:  # noqa: BLE001 - a run that died before its leaderboard
        lines.append(f"(no leaderboard: {exc})")
    return {"wall": wall, "rc": proc.returncode, "hang": hang, "finished": finished, "stalls": stalls, "failed": failed, "tail": lines[-5:]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=60)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--silence", type=float, default=180.0, help="seconds without a progress line that count as a hang")
    p.add_argument("--limit", type=float, default=1800.0, help="seconds a repetition may take at most")
    p.add_argument("--quick", action="store_true", help="12 trials, once")
    args = p.parse_args()
    if args.quick:
        args.trials, args.repeat = 12, 1
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        space = Path(tmp) / "soak.yaml"
        space.write_text(SPACE.format(n=args.trials))
        for i in range(args.repeat):
            r = run_once(space, Path(tmp) / "runs", f"soak-{i}", args.silence, args.limit)
            results.append(r)
            print(
                f"repetition {i + 1}: {r['finished']}/{args.trials} trials finished, {r['stalls']} stalls, {r['failed']} failed, "
                f"{'1 hang (' + r['hang'] + ')' if r['hang'] else '0 hangs'}, exit {r['rc']}, wall {r['wall']:.0f} s",
                flush=True,
            )
            if r["rc"] != 0 or r["hang"]:
                print("  " + "\n  ".join(r["tail"]))
    total = args.trials * args.repeat
    hangs = sum(1 for r in results if r["hang"])
    print(
        f"\n{len(results)} repetitions x {args.trials} trials: {sum(r['finished'] for r in results)}/{total} finished, "
        f"{sum(r['stalls'] for r in results)} stalls, {sum(r['failed'] for r in results)} failed, {hangs} hangs; "
        f"wall {', '.join(str(round(r['wall'])) for r in results)} s"
    )
    print(f"target: 0 hangs: {'met' if hangs == 0 else 'NOT met'}")


if __name__ == "__main__":
    main()
