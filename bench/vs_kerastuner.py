"""tuner against KerasTuner (Hyperband and Bayesian optimisation), side by side in one run.

Same model-building function (LeNet-5 from tuner's zoo, compiled by tuner's
``compile_model``), same space (learning rate log-uniform 1e-4..1e-1, optimizer adam /
sgd_momentum / rmsprop, batch 64), same data (the demo digits: the same train and validation
images, decoded by the same cache) and the same epoch budget per trial (at most ``--epochs``;
KerasTuner's Bayesian search and tuner stop a trial after 3 epochs without improvement).
Each method runs as a user runs it: a fresh process from import to best result, timed whole.
KerasTuner runs its trials one after another in one process; tuner runs them on Ray (2 at a
time on this 2-core machine), TPE + ASHA.

Prints each method's best validation accuracy, trial-epochs and wall time. Target: tuner's
best accuracy at least KerasTuner's, its wall time at most KerasTuner's.

    pip install -e '.[bench]'                  # keras-tuner
    python bench/vs_kerastuner.py              # 12 trials x up to 12 epochs
    python bench/vs_kerastuner.py --quick      # 4 trials x up to 4 epochs
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
index = index_dataset(demo_dataset_dir())
cache = open_cache(index, working)
pos, y_train = split_arrays(index, cache, "train")
x_train = np.asarray(cache.images[pos])
pos, y_val = split_arrays(index, cache, "validation")
x_val = np.asarray(cache.images[pos])

def build(hp):  # the shared model-building function
    built = build_model("lenet5", len(index.class_names), mode="scratch", input_size=32, source_size=cache.size)
    compile_model(built, hp.Choice("optimizer", ["adam", "sgd_momentum", "rmsprop"]), hp.Float("lr", 1e-4, 1e-1, sampling="log"))
    return built.model

epochs_run = []
class Count(keras.callbacks.Callback):
    def on_train_begin(self, logs=None): epochs_run.append(0)
    def on_epoch_end(self, epoch, logs=None): epochs_run[-1] += 1

common = dict(objective="val_accuracy", directory=workdir, project_name=method, overwrite=True, seed=0)
if method == "hyperband":
    kt = keras_tuner.Hyperband(build, max_epochs=epochs, factor=3, hyperband_iterations=1, **common)
    callbacks = [Count()]
else:
    kt = keras_tuner.BayesianOptimization(build, max_trials=trials, **common)
    callbacks = [Count(), keras.callbacks.EarlyStopping("val_accuracy", patience=3)]
kt.search(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs, batch_size=64, callbacks=callbacks, verbose=0)
best = kt.oracle.get_best_trials(1)[0]
print(json.dumps({"best": float(best.score), "trials": len(kt.oracle.trials), "trial_epochs": int(sum(epochs_run)), "wall": time.perf_counter() - t0}))
"""

SPACE = """
kind: scratch
metric: val_accuracy
architectures: [lenet5]
params:
  lr: {{loguniform: [1.0e-4, 1.0e-1]}}
  optimizer: {{choice: [adam, sgd_momentum, rmsprop]}}
  batch_size: {{fixed: 64}}
  input_size: {{fixed: 32}}
  augment: {{fixed: none}}
budget: {{num_samples: {trials}, max_epochs: {epochs}, grace_period: 1, reduction_factor: 3, patience: 3}}
"""


def keras_tuner_run(method: str, trials: int, epochs: int, tmp: Path, working: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", KERAS_TUNER, method, str(trials), str(epochs), str(tmp / "kt"), str(working)],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"KerasTuner {method} failed: {out.stderr.strip().splitlines()[-1:]} (pip install -e '.[bench]')")
    return json.loads(out.stdout.strip().splitlines()[-1])


def tuner_run(trials: int, epochs: int, tmp: Path) -> dict:
    from tuner.leaderboard import read_leaderboard

    space = tmp / "space.yaml"
    space.write_text(SPACE.format(trials=trials, epochs=epochs))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("RAY_ADDRESS", None)
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "tuner.search", "--space", str(space), "--name", "vs", "--storage", str(tmp / "runs"), "--local"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"tuner failed: {out.stderr.strip().splitlines()[-3:]}")
    df, _ = read_leaderboard(tmp / "runs" / "vs")
    return {"best": float(df["val_accuracy"].max()), "trials": len(df), "trial_epochs": int(df["epochs_run"].sum()), "wall": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    trials, epochs = (4, 4) if args.quick else (12, 12)
    try:
        import keras_tuner  # noqa: F401
    except ImportError:
        raise SystemExit("KerasTuner is not installed: pip install -e '.[bench]'") from None
    from tuner.data import choose_working_size, demo_dataset_dir, index_dataset, open_cache

    index = index_dataset(demo_dataset_dir())
    working = choose_working_size(index, 32)
    open_cache(index, working)  # warm for everyone
    with tempfile.TemporaryDirectory() as tmp:
        rows = {
            "KerasTuner Hyperband": keras_tuner_run("hyperband", trials, epochs, Path(tmp), working),
            "KerasTuner Bayesian": keras_tuner_run("bayesian", trials, epochs, Path(tmp), working),
            "tuner TPE + ASHA": tuner_run(trials, epochs, Path(tmp)),
        }
    print(f"LeNet-5 on the demo digits, lr x optimizer, up to {epochs} epochs per trial ({trials} trials for Bayesian and tuner), 2 CPU cores")
    print(f"{'method':<22} {'best val_acc':>12} {'trials':>7} {'trial-epochs':>13} {'wall s':>8}")
    for name, r in rows.items():
        print(f"{name:<22} {r['best']:>12.4f} {r['trials']:>7} {r['trial_epochs']:>13} {r['wall']:>8.1f}")
    ours = rows["tuner TPE + ASHA"]
    kt_best = max(r["best"] for n, r in rows.items() if n.startswith("KerasTuner"))
    kt_wall = min(r["wall"] for n, r in rows.items() if n.startswith("KerasTuner"))
    print(
        f"accuracy >= KerasTuner's best ({kt_best:.4f}): {'met' if ours['best'] >= kt_best else 'NOT met'}; "
        f"wall time <= KerasTuner's fastest ({kt_wall:.0f} s): {'met' if ours['wall'] <= kt_wall else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
