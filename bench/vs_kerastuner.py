"""tuner against KerasTuner (Hyperband and Bayesian optimisation), side by side in one run.

Same model-building function (a network from tuner's zoo, from scratch, compiled by tuner's
``compile_model``), same space (learning rate log-uniform 1e-4..1e-1, optimizer adam /
sgd_momentum / rmsprop), same data (the demo digits: the same train and validation images,
decoded by the same cache) and the same epoch budget per trial (KerasTuner's Bayesian search
and tuner stop a trial after 3 epochs without improvement). Each method runs as a user runs
it: a fresh process from import to best result, timed whole, once per seed. KerasTuner runs
its trials one after another in one process; tuner runs them on Ray (2 at a time on this
2-core machine, each in a warm process) with its default search.

Workloads: ``mobilenet`` (default; MobileNetV2 at 32 px, 5+ s an epoch here, 8 trials x up
to 8 epochs) and ``lenet`` (LeNet-5, 0.3 s an epoch, 12 x 12: where per-trial start-up
dominates). Prints each method's best validation accuracy and wall time, mean and 95%
interval over the seeds. Target: tuner's mean accuracy at least KerasTuner's, its mean wall
time at most KerasTuner's.

    pip install -e '.[bench]'                            # keras-tuner
    python bench/vs_kerastuner.py                        # both workloads, 3 seeds, tuner's default search
    python bench/vs_kerastuner.py --only tuner           # one side again
    python bench/vs_kerastuner.py --workload lenet --seeds 1
    python bench/vs_kerastuner.py --quick                # 4 trials x up to 4 epochs, one seed
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KERAS_TUNER = r"""
import json, sys, time
t0 = time.perf_counter()
from tuner._quiet import import_tensorflow_quietly
import_tensorflow_quietly()
import keras, keras_tuner, numpy as np
from tuner.data import demo_dataset_dir, index_dataset, open_cache, split_arrays
from tuner.zoo import build_model, compile_model
method, trials, epochs, workdir, working = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
arch, size, batch, seed = sys.argv[6], int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
keras.utils.set_random_seed(seed)
index = index_dataset(demo_dataset_dir())
cache = open_cache(index, working)
pos, y_train = split_arrays(index, cache, "train")
x_train = np.asarray(cache.images[pos])
pos, y_val = split_arrays(index, cache, "validation")
x_val = np.asarray(cache.images[pos])

def build(hp):  # the shared model-building function
    built = build_model(arch, len(index.class_names), mode="scratch", input_size=size, source_size=cache.size)
    compile_model(built, hp.Choice("optimizer", ["adam", "sgd_momentum", "rmsprop"]), hp.Float("lr", 1e-4, 1e-1, sampling="log"))
    return built.model

epochs_run = []
class Count(keras.callbacks.Callback):
    def on_train_begin(self, logs=None): epochs_run.append(0)
    def on_epoch_end(self, epoch, logs=None): epochs_run[-1] += 1

common = dict(objective="val_accuracy", directory=workdir, project_name=method, overwrite=True, seed=seed)
if method == "hyperband":
    kt = keras_tuner.Hyperband(build, max_epochs=epochs, factor=3, hyperband_iterations=1, **common)
    callbacks = [Count()]
else:
    kt = keras_tuner.BayesianOptimization(build, max_trials=trials, **common)
    callbacks = [Count(), keras.callbacks.EarlyStopping("val_accuracy", patience=3)]
kt.search(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs, batch_size=batch, callbacks=callbacks, verbose=0)
best = kt.oracle.get_best_trials(1)[0]
print(json.dumps({"best": float(best.score), "trials": len(kt.oracle.trials), "trial_epochs": int(sum(epochs_run)), "wall": time.perf_counter() - t0}))
"""

SPACE = """
kind: scratch
metric: val_accuracy
architectures: [{arch}]
params:
  lr: {{loguniform: [1.0e-4, 1.0e-1]}}
  optimizer: {{choice: [adam, sgd_momentum, rmsprop]}}
  batch_size: {{fixed: {batch}}}
  input_size: {{fixed: {size}}}
  augment: {{fixed: none}}
budget: {{num_samples: {trials}, max_epochs: {epochs}, grace_period: {grace}, reduction_factor: 3, patience: 3}}
"""


#: name -> (architecture, input size, batch, trials, epochs, what it is). ``mobilenet``: about 5-8 s
#: an epoch on 2 cores, closer to real fine-tuning, where a trial's start-up matters less.
WORKLOADS = {
    "lenet": ("lenet5", 32, 64, 12, 12, "LeNet-5 at 32 px, ~0.3 s an epoch"),
    "mobilenet": ("mobilenet_v2", 32, 32, 8, 8, "MobileNetV2 from scratch at 32 px, batch 32"),
}


def keras_tuner_run(method: str, workload: str, trials: int, epochs: int, tmp: Path, working: int, seed: int) -> dict:
    arch, size, batch = WORKLOADS[workload][:3]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = [method, str(trials), str(epochs), str(tmp / "kt"), str(working), arch, str(size), str(batch), str(seed)]
    out = subprocess.run([sys.executable, "-c", KERAS_TUNER, *args], capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise SystemExit(f"KerasTuner {method} failed: {out.stderr.strip().splitlines()[-1:]} (pip install -e '.[bench]')")
    return json.loads(out.stdout.strip().splitlines()[-1])


def tuner_run(workload: str, trials: int, epochs: int, tmp: Path, seed: int, grace: int) -> dict:
    from tuner.leaderboard import read_leaderboard

    arch, size, batch = WORKLOADS[workload][:3]
    space = tmp / "space.yaml"
    space.write_text(SPACE.format(trials=trials, epochs=epochs, arch=arch, size=size, batch=batch, grace=grace))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("RAY_ADDRESS", None)
    t0 = time.perf_counter()
    name = f"vs-{seed}"
    cmd = [sys.executable, "-m", "tuner.search", "--space", str(space), "--name", name, "--storage", str(tmp / "runs"), "--local", "--seed", str(seed)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"tuner failed: {out.stderr.strip().splitlines()[-3:]}")
    df, _ = read_leaderboard(tmp / "runs" / name)
    spe = float(df["train_seconds"].sum() / max(1, df["epochs_run"].sum()))
    return {"best": float(df["val_accuracy"].max()), "trials": len(df), "trial_epochs": int(df["epochs_run"].sum()), "wall": wall, "epoch_s": spe}


def _interval(xs: list[float]) -> str:
    import statistics

    from scipy import stats

    m = statistics.fmean(xs)
    if len(xs) < 2:
        return f"{m:.4g}"
    h = float(stats.t.ppf(0.975, len(xs) - 1)) * statistics.stdev(xs) / len(xs) ** 0.5
    return f"{m:.4g} [{m - h:.4g}, {m + h:.4g}]"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="4 trials x up to 4 epochs, one seed")
    p.add_argument("--workload", choices=sorted(WORKLOADS), nargs="+", default=sorted(WORKLOADS), help="default: both, in one invocation")
    p.add_argument("--seeds", type=int, default=3, help="repetitions (seeds 0..N-1) of every method")
    p.add_argument(
        "--grace",
        type=int,
        default=2,
        help="the space's budget.grace_period (default 2); matters only under early stopping, which the default search does not do",
    )
    p.add_argument("--trials", type=int, default=None, help="trials for tuner and KerasTuner's Bayesian search (default: the workload's)")
    p.add_argument("--only", choices=["tuner", "kerastuner"], default=None, help="run one side only (a supplementary run; compare side by side without it)")
    args = p.parse_args()
    try:
        import keras_tuner  # noqa: F401
    except ImportError:
        raise SystemExit("KerasTuner is not installed: pip install -e '.[bench]'") from None
    verdicts = [compare(workload, args) for workload in args.workload]
    if not args.only:
        print("; ".join(verdicts))


def compare(workload: str, args: argparse.Namespace) -> str:
    """Every method on one workload, seed after seed; prints the table, returns the verdict."""
    arch, size, batch, trials, epochs, what = WORKLOADS[workload]
    seeds = 1 if args.quick else args.seeds
    if args.quick:
        trials, epochs = 4, 4
    trials = args.trials or trials
    from tuner.data import choose_working_size, demo_dataset_dir, index_dataset, open_cache

    index = index_dataset(demo_dataset_dir())
    working = choose_working_size(index, size)
    open_cache(index, working)  # warm for everyone
    ours_name = "tuner (default search)"
    runs: dict[str, list[dict]] = {}
    if args.only != "tuner":
        runs.update({"KerasTuner Hyperband": [], "KerasTuner Bayesian": []})
    if args.only != "kerastuner":
        runs[ours_name] = []
    for seed in range(seeds):
        with tempfile.TemporaryDirectory() as tmp:
            if args.only != "tuner":
                runs["KerasTuner Hyperband"].append(keras_tuner_run("hyperband", workload, trials, epochs, Path(tmp), working, seed))
                runs["KerasTuner Bayesian"].append(keras_tuner_run("bayesian", workload, trials, epochs, Path(tmp), working, seed))
            if args.only != "kerastuner":
                runs[ours_name].append(tuner_run(workload, trials, epochs, Path(tmp), seed, args.grace))
        print(f"[{workload}] seed {seed}: " + "; ".join(f"{n}: {r[-1]['best']:.4f} in {r[-1]['wall']:.0f} s" for n, r in runs.items()), flush=True)
    print(
        f"\n{what} on the demo digits, lr x optimizer, up to {epochs} epochs per trial ({trials} trials for Bayesian and tuner), 2 CPU cores, {seeds} seed(s)"
    )
    if ours_name in runs:
        print(f"tuner's trials: {_interval([r['epoch_s'] for r in runs[ours_name]])} s per epoch (2 at a time)")
    print(f"{'method':<24} {'best val_acc (mean [95% CI])':>34} {'trials':>7} {'trial-epochs':>13} {'wall s (mean [95% CI])':>30}")
    for name, rs in runs.items():
        print(
            f"{name:<24} {_interval([r['best'] for r in rs]):>34} {sum(r['trials'] for r in rs) / len(rs):>7.1f} "
            f"{sum(r['trial_epochs'] for r in rs) / len(rs):>13.1f} {_interval([r['wall'] for r in rs]):>30}"
        )
    if args.only:
        return ""
    ours = runs[ours_name]
    mean = lambda rs, k: sum(r[k] for r in rs) / len(rs)  # noqa: E731
    kt_best = max(mean(rs, "best") for n, rs in runs.items() if n.startswith("KerasTuner"))
    kt_wall = min(mean(rs, "wall") for n, rs in runs.items() if n.startswith("KerasTuner"))
    verdict = (
        f"{workload}: mean accuracy >= KerasTuner's best mean ({kt_best:.4f}): {'met' if mean(ours, 'best') >= kt_best else 'NOT met'}, "
        f"mean wall time <= KerasTuner's fastest mean ({kt_wall:.0f} s): {'met' if mean(ours, 'wall') <= kt_wall else 'NOT met'}"
    )
    print(verdict, flush=True)
    return verdict


if __name__ == "__main__":
    main()
