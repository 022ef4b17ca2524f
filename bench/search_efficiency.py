"""The study's method against tuner's: an exhaustive grid (every point trained to early
stopping, patience 3) against TPE + ASHA, and random search + ASHA, on the same data, model
family and space, side by side in one run, several seeds.

Data: the demo digits (real scans). Model: LeNet-5 from scratch at 32 px. Space: learning
rate x optimizer x batch size, all discrete so the grid is well defined (36 points). Every
method stops a trial after 3 epochs without improvement (the study's rule); TPE and random
search add ASHA (grace 1 epoch, reduction factor 3) and run ``--samples`` trials each.

For each method it prints the trial-epochs spent, the trial-epochs spent until a trial came
within 1 point of the grid's best validation accuracy (trials in the order they started),
and the best accuracy each method had found at the same budget (TPE's mean total). Targets:
TPE + ASHA needs at most 25% of the grid's trial-epochs, and beats random search at equal
budget.

    python bench/search_efficiency.py            # 36-point grid, 12 trials x 3 seeds per method
    python bench/search_efficiency.py --quick    # 6-point grid, 4 trials x 1 seed
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SPACE = """
kind: scratch
metric: val_accuracy
architectures: [lenet5]
params:
  lr: {{choice: {lrs}}}
  optimizer: {{choice: {optimizers}}}
  batch_size: {{choice: {batches}}}
  input_size: {{fixed: 32}}
  augment: {{fixed: none}}
budget: {{num_samples: {samples}, max_epochs: {epochs}, grace_period: {grace}, reduction_factor: 3, patience: 3, sampler: {sampler}}}
"""


def run(sampler: str, seed: int, cfg: dict, tmp: Path) -> dict:
    from tuner.leaderboard import read_leaderboard
    from tuner.search.driver._driver import run_search
    from tuner.search.plan._plan import Options, build_plan

    name = f"{sampler}-{seed}"
    space = tmp / f"{name}.yaml"
    grid = sampler == "grid"
    space.write_text(SPACE.format(**cfg, sampler=sampler, grace=cfg["epochs"] if grid else 1))
    t0 = time.perf_counter()
    plan = build_plan(Options(space=str(space), name=name, storage=str(tmp / "runs"), seed=seed, test_top=0))
    with contextlib.redirect_stdout(io.StringIO()):
        run_search(plan, tmp / "runs" / name)
    wall = time.perf_counter() - t0
    df, _ = read_leaderboard(tmp / "runs" / name)
    trials = []
    for _, row in df.iterrows():
        first = (tmp / "runs" / name / row["trial_dir"] / "result.json").read_text().splitlines()[0]
        trials.append((json.loads(first)["timestamp"], int(row["epochs_run"]), float(row["val_accuracy"] or 0.0)))
    trials.sort()  # the order the trials started in
    return {"sampler": sampler, "seed": seed, "wall": wall, "trials": [(e, a) for _, e, a in trials]}


def epochs_to_reach(trials: list[tuple[int, float]], target: float) -> int | None:
    spent = 0
    for epochs, acc in trials:
        spent += epochs
        if acc >= target:
            return spent
    return None


def best_within(trials: list[tuple[int, float]], budget: float) -> float:
    spent, best = 0, 0.0
    for epochs, acc in trials:
        if spent + epochs > budget:
            break
        spent += epochs
        best = max(best, acc)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seeds", type=int, help="seeds per method (default 3, quick 1)")
    p.add_argument("--samples", type=int, help="trials per TPE / random search (default 12, quick 4)")
    args = p.parse_args()
    if args.quick:
        cfg = {"lrs": "[1.0e-3, 1.0e-2, 1.0e-1]", "optimizers": "[adam, sgd_momentum]", "batches": "[64]", "epochs": 6}
    else:
        cfg = {"lrs": "[1.0e-4, 3.0e-4, 1.0e-3, 3.0e-3, 1.0e-2, 3.0e-2]", "optimizers": "[adam, sgd_momentum, rmsprop]", "batches": "[32, 128]", "epochs": 12}
    seeds = args.seeds or (1 if args.quick else 3)
    samples = args.samples or (4 if args.quick else 12)
    from tuner.search.driver._cluster import init_ray

    init_ray(local=True)
    results = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run("grid", 0, {**cfg, "samples": 1}, Path(tmp)))
        for seed in range(seeds):
            for sampler in ("tpe", "random"):
                results.append(run(sampler, seed, {**cfg, "samples": samples}, Path(tmp)))
                print(
                    f"  {sampler} seed {seed}: {sum(e for e, _ in results[-1]['trials'])} trial-epochs, best {max(a for _, a in results[-1]['trials']):.4f}",
                    flush=True,
                )
    grid = results[0]
    grid_epochs = sum(e for e, _ in grid["trials"])
    grid_best = max(a for _, a in grid["trials"])
    target = grid_best - 0.01
    tpe_budget = statistics.mean(sum(e for e, _ in r["trials"]) for r in results if r["sampler"] == "tpe")
    print(
        f"\nLeNet-5 on the demo digits, {len(grid['trials'])}-point grid, max {cfg['epochs']} epochs, patience 3; "
        f"{samples} trials per TPE/random search, {seeds} seed(s); {time.perf_counter() - t0:.0f} s in all"
    )
    print(f"grid: {grid_epochs} trial-epochs, best val_accuracy {grid_best:.4f}; target = within 1 point = {target:.4f}")
    print(
        f"{'method':<14} {'trial-epochs':>13} {'to target':>10} {'% of grid':>10} {'best @ ' + format(tpe_budget, '.0f') + ' ep':>14} {'best':>7} {'wall s':>7}"
    )
    summary = {}
    for method in ("grid", "tpe", "random"):
        runs = [r for r in results if r["sampler"] == method]
        spent = [sum(e for e, _ in r["trials"]) for r in runs]
        reach = [epochs_to_reach(r["trials"], target) for r in runs]
        reached = [x for x in reach if x is not None]
        at_budget = [best_within(r["trials"], tpe_budget) for r in runs]
        best = [max(a for _, a in r["trials"]) for r in runs]
        to = f"{statistics.mean(reached):.0f}" if reached else "never"
        if reached and len(reached) < len(reach):
            to += f" ({len(reached)}/{len(reach)})"
        pct = f"{statistics.mean(reached) / grid_epochs:.0%}" if reached else "-"
        summary[method] = (statistics.mean(reached) if len(reached) == len(reach) else None, statistics.mean(at_budget))
        print(
            f"{method:<14} {statistics.mean(spent):>13.0f} {to:>10} {pct:>10} {statistics.mean(at_budget):>14.4f} {statistics.mean(best):>7.4f} {statistics.mean(r['wall'] for r in runs):>7.0f}"  # noqa: E501
        )
    tpe_reach, tpe_at = summary["tpe"]
    met_a = tpe_reach is not None and tpe_reach <= 0.25 * grid_epochs
    met_b = tpe_at > summary["random"][1]
    print(
        f"TPE + ASHA reaches the target within 25% of the grid's trial-epochs: {'met' if met_a else 'NOT met'}; "
        f"beats random search at equal budget: {'met' if met_b else 'NOT met'} ({tpe_at:.4f} vs {summary['random'][1]:.4f})"
    )


if __name__ == "__main__":
    main()
