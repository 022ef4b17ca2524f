"""Eight short trials through tuner against the same eight trainings in one warm plain process.

Side by side in one run, interleaved repetitions, on this machine:

- **tuner**: a search (``run_search``) of 8 trials, one at a time, on a Ray instance started
  beforehand: a grid over 8 learning rates, everything else fixed, no early stopping, test
  scoring off. Each trial is what a search trial is: checkpoint and report every epoch.
- **plain**: one Python process (TensorFlow imported once, as KerasTuner runs its trials)
  that trains the same 8 configurations one after another with ``model.fit`` on the same
  cached data, scoring the validation split every epoch (``keras.backend.clear_session()``
  between trials, as KerasTuner does).

Per trial, *time outside training* is (first epoch's start - trial start) + (trial end - last
epoch's end): for tuner, the start and end as Tune's driver sees them (its callbacks) and the
epochs' wall clock as the trial reports them; for plain, the same around ``model.fit``. The
ratio is tuner's wall time over plain's, whole runs (plan, Ray experiment, leaderboard,
summary included on tuner's side; the TensorFlow import on plain's). Memory is the training
process's resident set after trial 5 and, with ``--soak``, after trial 50.

    python bench/trial_overhead.py                    # MobileNetV2 32 px, 3 epochs, 3 repetitions
    python bench/trial_overhead.py --model lenet5     # 0.3 s epochs: per-epoch costs dominate
    python bench/trial_overhead.py --soak --model lenet5 --repeat 1   # 50 trials: memory
    python bench/trial_overhead.py --quick            # 1 repetition, 2 epochs
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ray.tune import Callback

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

MODELS = {
    # name: (space kind, input size, extra fixed parameters)
    "mobilenet_v2": ("finetune", 32, {"dropout": 0.2, "dense_units": 64, "unfrozen_blocks": 18, "warmup_epochs": 0, "backbone_lr_mult": 1.0}),
    "lenet5": ("scratch", 32, {}),
}


def lrs(n: int) -> list[float]:
    """``n`` learning rates spread log-evenly over [3e-4, 3e-2] (every one trains)."""
    return [float(f"{3e-4 * 100 ** (i / max(1, n - 1)):.3g}") for i in range(n)]


def space_text(model: str, n: int, epochs: int) -> str:
    kind, size, extra = MODELS[model]
    fixed = {"optimizer": "adam" if model == "mobilenet_v2" else "sgd_momentum", "batch_size": 64, "input_size": size, "augment": "none", **extra}
    params = "\n".join(f"  {k}: {{fixed: {v}}}" for k, v in fixed.items())
    return (
        f"kind: {kind}\nmetric: val_accuracy\narchitectures: [{model}]\nparams:\n  lr: {{choice: {json.dumps(lrs(n))}}}\n{params}\n"
        f"budget: {{num_samples: {n}, max_epochs: {epochs}, grace_period: {epochs}, sampler: grid}}\n"
    )


PLAIN = r"""
import json, sys, time
t0 = time.perf_counter()
from tuner._quiet import import_tensorflow_quietly
import_tensorflow_quietly()
import keras
from tuner.data import demo_dataset_dir, index_dataset, make_dataset, open_cache
from tuner.search.worker._worker import _memory_mb
from tuner.zoo import build_model, compile_model, set_unfrozen_blocks
model, kind, size, working, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
extra, rates = json.loads(sys.argv[6]), json.loads(sys.argv[7])
index = index_dataset(demo_dataset_dir())
cache = open_cache(index, working)
train = make_dataset(index, cache, "train", 64, shuffle=True, seed=0)
val = make_dataset(index, cache, "validation", 128)

class Times(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.begins, self.ends = [], []
    def on_epoch_begin(self, epoch, logs=None):
        self.begins.append(time.time())
    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.time())

for i, lr in enumerate(rates):
    start = time.time()
    keras.backend.clear_session()
    keras.utils.set_random_seed(i)
    kw = {k: extra[k] for k in ("dropout", "dense_units") if k in extra}
    built = build_model(model, len(index.class_names), mode=kind, input_size=size, source_size=cache.size, weights="none", **kw)
    if "unfrozen_blocks" in extra:
        set_unfrozen_blocks(built, int(extra["unfrozen_blocks"]))
    compile_model(built, "adam" if model == "mobilenet_v2" else "sgd_momentum", lr)
    times = Times()
    history = built.model.fit(train, validation_data=val, epochs=epochs, verbose=0, callbacks=[times])
    end = time.time()
    print(json.dumps({"start": start, "end": end, "epoch_starts": times.begins, "epoch_ends": times.ends,
                      "val_accuracy": max(history.history["val_accuracy"]), "memory_mb": _memory_mb()}), flush=True)
print(json.dumps({"wall": time.perf_counter() - t0}), flush=True)
"""


def plain(model: str, n: int, epochs: int, working: int) -> tuple[float, list[dict]]:
    kind, size, extra = MODELS[model]
    args = [sys.executable, "-c", PLAIN, model, kind, str(size), str(working), str(epochs), json.dumps(extra), json.dumps(lrs(n))]
    t0 = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, check=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    trials = [{"outside": (t["epoch_starts"][0] - t["start"]) + (t["end"] - t["epoch_ends"][-1]), **t} for t in lines if "start" in t]
    return wall, trials


class Clock(Callback):
    """When the driver saw each trial start and end."""

    def __init__(self):
        self.start: dict[str, float] = {}
        self.end: dict[str, float] = {}

    def on_trial_start(self, iteration, trials, trial, **info):
        self.start[trial.trial_id] = time.time()

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.end[trial.trial_id] = time.time()

    on_trial_error = on_trial_complete


def through_tuner(model: str, n: int, epochs: int, tmp: Path, i: int) -> tuple[float, list[dict]]:
    from tuner.search.driver._driver import run_search
    from tuner.search.plan._plan import Options, build_plan

    space = tmp / f"space{i}.yaml"
    space.write_text(space_text(model, n, epochs))
    clock = Clock()
    run_dir = tmp / "runs" / f"t{i}"
    t0 = time.perf_counter()
    plan = build_plan(Options(space=str(space), name=f"t{i}", storage=str(tmp / "runs"), weights="none", test_top=0, max_concurrent=1))
    with contextlib.redirect_stdout(io.StringIO()):
        run_search(plan, run_dir, callbacks=[clock])
    wall = time.perf_counter() - t0
    trials = []
    for journal in sorted((run_dir / "epochs" / "search").glob("*.jsonl"), key=lambda p: clock.start.get(p.stem, 0.0)):
        epochs_ = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
        tid = journal.stem
        start, end = clock.start[tid], clock.end[tid]
        outside = (epochs_[0]["epoch_start"] - start) + (end - epochs_[-1]["time"])
        last = epochs_[-1]
        best = max(e["val_accuracy"] for e in epochs_)
        gaps = [b["epoch_start"] - a["time"] for a, b in zip(epochs_, epochs_[1:])]
        trials.append(
            {"outside": outside, "val_accuracy": best, "memory_mb": last["memory_mb"], "pid": last["pid"], "start": start, "end": end, "epoch_gaps": gaps}
        )
    return wall, trials


def t_interval(xs: list[float]) -> str:
    if len(xs) < 2:
        return f"{xs[0]:.3f}" if xs else "-"
    from scipy import stats

    m, s = statistics.mean(xs), statistics.stdev(xs)
    h = stats.t.ppf(0.975, len(xs) - 1) * s / math.sqrt(len(xs))
    return f"{m:.3f} [{m - h:.3f}, {m + h:.3f}]"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=sorted(MODELS), default="mobilenet_v2")
    p.add_argument("--trials", type=int, help="trials per run (default 8; --soak 50)")
    p.add_argument("--epochs", type=int, help="epochs per trial (default 3, quick 2)")
    p.add_argument("--repeat", type=int, help="repetitions of each side, interleaved (default 3, quick 1)")
    p.add_argument("--soak", action="store_true", help="50 trials per run: memory after trial 5 and 50")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    n = args.trials or (50 if args.soak else 8)
    epochs = args.epochs or (2 if args.quick else 3)
    repeat = args.repeat or (1 if args.quick else 3)
    from tuner.data import choose_working_size, demo_dataset_dir, index_dataset, open_cache
    from tuner.search.driver._cluster import init_ray

    index = index_dataset(demo_dataset_dir())
    working = choose_working_size(index, MODELS[args.model][1])
    open_cache(index, working)  # warm for both sides: bench/cache.py measures building it
    init_ray(local=True)
    runs: dict[str, list[tuple[float, list[dict]]]] = {"plain": [], "tuner": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):  # interleaved, so drift in the machine's speed hits both
            runs["plain"].append(plain(args.model, n, epochs, working))
            runs["tuner"].append(through_tuner(args.model, n, epochs, Path(tmp), i))
            print(f"repetition {i + 1}/{repeat}: plain {runs['plain'][-1][0]:.1f} s, tuner {runs['tuner'][-1][0]:.1f} s", flush=True)
    print(f"\n{args.model} on the demo digits ({len(index.files)} images), {n} trials x {epochs} epochs, one at a time, batch 64")
    print(f"{os.cpu_count()} CPU cores, {repeat} repetitions; outside training per trial in s")
    head = ("side", "wall s (mean [95% CI])", "outside: first", "median after", "max after", "best val_acc")
    print(f"{head[0]:6} {head[1]:>32} {head[2]:>15} {head[3]:>13} {head[4]:>10} {head[5]:>13}")
    for side, rs in runs.items():
        firsts = [r[1][0]["outside"] for r in rs]
        later = [t["outside"] for r in rs for t in r[1][1:]]
        best = statistics.mean(max(t["val_accuracy"] for t in r[1]) for r in rs)
        wall = t_interval([w for w, _ in rs])
        print(f"{side:6} {wall:>32} {statistics.median(firsts):>15.2f} {statistics.median(later):>13.2f} {max(later):>10.2f} {best:>13.4f}")
    ratios = [t / p_ for (t, _), (p_, _) in zip(runs["tuner"], runs["plain"])]
    print(f"wall ratio tuner / plain, per repetition: {', '.join(f'{r:.2f}' for r in ratios)}; mean {t_interval(ratios)}")
    for side, rs in runs.items():
        mem = [(r[1][4]["memory_mb"], r[1][-1]["memory_mb"]) for r in rs if len(r[1]) >= 5]
        if mem:
            five, end = statistics.mean(a for a, _ in mem), statistics.mean(b for _, b in mem)
            growth = statistics.mean(b / a for a, b in mem) - 1
            print(f"{side}: memory after trial 5 {five:.0f} MiB, after trial {n} {end:.0f} MiB ({growth:+.1%})")
    between = [b["start"] - a["end"] for r in runs["tuner"] for a, b in zip(r[1], r[1][1:])]
    epoch_gaps = [g for r in runs["tuner"] for t in r[1] for g in t["epoch_gaps"]]
    print(
        f"tuner: from a trial's end to the next one's start (driver) median {statistics.median(between):.3f} s, max {max(between):.2f} s; "
        f"between two epochs of a trial (checkpoint, report) median {statistics.median(epoch_gaps):.3f} s"
    )
    pids = [len({t["pid"] for t in r[1]}) for r in runs["tuner"]]
    print(f"tuner: training processes per run: {pids} (1 = every trial warm after the first)")
    later = [t["outside"] for r in runs["tuner"] for t in r[1][1:]]
    met = statistics.median(later) <= 2.0 and max(later) <= 5.0 and statistics.mean(ratios) <= 1.10
    print(f"targets: median outside <= 2 s, max <= 5 s after the first trial, ratio <= 1.10x: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
