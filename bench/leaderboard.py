"""What keeping the leaderboard current costs Tune's loop, at 200 trials (target: < 0.1 s per result).

Writes a run folder of 200 real trial folders (params.json, result.json and a report journal
of 15 epochs each), then measures in one run:

- a synchronous rewrite of ``leaderboard.parquet`` (``write_run_leaderboard``: reads every
  trial's files), which each Tune callback event used to cost the driver's loop;
- the cost of one ``on_trial_result`` of ``LeaderboardCallback`` now: a snapshot of the trials
  and a wake-up of its writer thread, while that thread rewrites in the background;
- how many rewrites the thread made for the results it was sent (it coalesces bursts).

Times are medians with a 95% bootstrap interval over the repetitions.

    python bench/leaderboard.py [--trials 200] [--repeat 20] [--results 2000]
    python bench/leaderboard.py --quick
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EPOCHS = 15


def write_run(run_dir: Path, n: int):
    from tuner._run import journal_path

    rng = np.random.default_rng(0)
    for i in range(n):
        tid = f"{i:08x}"
        folder = run_dir / "search" / tid
        folder.mkdir(parents=True)
        (folder / "params.json").write_text(
            json.dumps(
                {
                    "architecture": "mobilenet_v2",
                    "lr": float(10 ** rng.uniform(-5, -2)),
                    "lr_schedule": "cosine",
                    "optimizer": "adam",
                    "dropout": 0.2,
                    "dense_units": 512,
                    "unfrozen_blocks": int(rng.integers(0, 18)),
                    "warmup_epochs": 1,
                    "backbone_lr_mult": 0.1,
                    "grouping": "none",
                    "batch_size": 32,
                    "input_size": 224,
                    "augment": "study",
                }
            )
        )
        epochs = int(rng.integers(1, EPOCHS + 1))
        lines = []
        for e in range(1, epochs + 1):
            acc = float(min(0.99, 0.3 + 0.05 * e + rng.normal(0, 0.02)))
            ckpt = run_dir / "train" / tid / f"checkpoint_{e}"
            lines.append(
                {
                    "trial_id": tid,
                    "epoch": e,
                    "loss": 1.0 / e,
                    "accuracy": acc,
                    "val_loss": 1.1 / e,
                    "val_accuracy": acc,
                    "val_accuracy_common": acc,
                    "balanced_accuracy": acc,
                    "macro_f1": acc,
                    "objective": acc,
                    "n_classes": 10,
                    "images_per_second": 100.0,
                    "setup_seconds": 10.0,
                    "train_seconds": 5.0 * e,
                    "trainable_params": 10**6,
                    "total_params": 3 * 10**6,
                    "weights_used": "imagenet",
                    "gpus": 1.0,
                    "node": "n",
                    "finished": e == EPOCHS,
                    "failure_reason": "",
                    "checkpoint_path": str(ckpt),
                }
            )
        ckpt.mkdir(parents=True)
        text = "".join(json.dumps(x) + "\n" for x in lines)
        (folder / "result.json").write_text(text)
        journal = journal_path(run_dir, "search", tid)
        journal.parent.mkdir(parents=True, exist_ok=True)
        journal.write_text(text)
    return _plan(n)


def _plan(n: int):
    """The plan of a finetune search of ``n`` trials on the built-in digits (the trials' files
    above are the bench's own; the plan gives the metric, the stages' spaces and names)."""
    from tuner.search.plan._plan import Options, build_plan
    from tuner.search.space._load import load_space

    plan = build_plan(Options(space="finetune", name="bench", num_samples=n, max_epochs=EPOCHS))
    # The whole finetune space (not the demo's): the trials' parameters above are in it, so
    # the Optuna study is written too, as in a real search.
    space = load_space("finetune").with_budget(num_samples=n, max_epochs=EPOCHS)
    return plan.evolve(space=space, metric="val_accuracy_common", mode="max", common_grouping_file=None)


class _Trial:
    def __init__(self, trial_id: str, local_path: str):
        self.trial_id, self.local_path, self.status = trial_id, local_path, "RUNNING"


def interval(values: list[float], reps: int = 2000) -> tuple[float, float, float]:
    arr = np.asarray(values)
    rng = np.random.default_rng(1)
    meds = np.median(rng.choice(arr, size=(reps, len(arr))), axis=1)
    return float(np.median(arr)), float(np.percentile(meds, 2.5)), float(np.percentile(meds, 97.5))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=200)
    p.add_argument("--repeat", type=int, default=20, help="synchronous rewrites timed")
    p.add_argument("--results", type=int, default=2000, help="on_trial_result calls timed")
    p.add_argument("--quick", action="store_true", help="--repeat 5 --results 300")
    args = p.parse_args()
    if args.quick:
        args.repeat, args.results = 5, 300
    from tuner.search.driver._board import write_run_leaderboard
    from tuner.search.driver._callbacks import LeaderboardCallback

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        plan = write_run(run_dir, args.trials)
        sync = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            write_run_leaderboard(run_dir, plan)
            sync.append(time.perf_counter() - t0)
        trials = [_Trial(f"{i:08x}", str(run_dir / "search" / f"{i:08x}")) for i in range(args.trials)]
        callback = LeaderboardCallback(str(run_dir), plan, "search")
        calls = []
        t_start = time.perf_counter()
        for i in range(args.results):
            t0 = time.perf_counter()
            callback.on_trial_result(i, trials, trials[i % len(trials)], {})
            calls.append(time.perf_counter() - t0)
            time.sleep(0.005)  # results arrive ~200/s: far faster than any real search
        callback.stop()
        elapsed = time.perf_counter() - t_start
    s_med, s_lo, s_hi = interval(sync)
    c_med, c_lo, c_hi = interval(calls)
    worst = max(calls)
    print(f"{args.trials} trials x up to {EPOCHS} epochs")
    print(f"synchronous leaderboard rewrite (the old per-event cost): median {s_med:.3f} s, 95% CI [{s_lo:.3f}, {s_hi:.3f}] over {args.repeat} runs")
    print(
        f"on_trial_result with the background writer: median {c_med * 1e3:.3f} ms, 95% CI [{c_lo * 1e3:.3f}, {c_hi * 1e3:.3f}], max {worst * 1e3:.2f} ms over {args.results} calls"  # noqa: E501
    )
    print(f"background rewrites: {callback.writes} for {args.results} results in {elapsed:.1f} s (coalesced, at most one per {callback.min_interval:g} s)")
    print(f"target: per-result cost < 0.1 s: {'met' if worst < 0.1 else 'NOT met'} (worst call {worst:.4f} s)")


if __name__ == "__main__":
    main()
