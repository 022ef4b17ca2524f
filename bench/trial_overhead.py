"""One trial through tuner (Ray Tune + Ray Train) against the same training by plain model.fit.

Same model (MobileNetV2 at 32 px, random weights, the study's head), same data (the demo
digits, from the same decode-once cache), same batch size, same epochs, both scoring the
validation split every epoch, on this machine's CPU, side by side in one run:

- **plain**: a fresh Python process that imports TensorFlow, opens the data and runs
  ``model.fit(train, validation_data=val, epochs=E)``; its whole wall time.
- **tuner**: a one-trial search (``run_search``) on a Ray instance started beforehand (a
  search starts Ray once, not per trial); its whole wall time, from the plan to the final
  leaderboard, test-split scoring off (the plain run does not score the test split).

The fixed overhead is tuner minus plain; the ratio is tuner / plain. Target: at most 1.3x
for a trial whose plain training takes about 60 s. The trial's own timings (set-up inside
the worker, training) come from its leaderboard row.

    python bench/trial_overhead.py              # ~60 s of plain training, 2 repeats
    python bench/trial_overhead.py --quick      # ~20 s of plain training, 1 repeat
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SPACE = """
kind: finetune
metric: val_accuracy
architectures: [mobilenet_v2]
params:
  lr: {{fixed: 1.0e-3}}
  optimizer: {{fixed: adam}}
  dropout: {{fixed: 0.2}}
  dense_units: {{fixed: 64}}
  unfrozen_blocks: {{fixed: 18}}
  warmup_epochs: {{fixed: 0}}
  backbone_lr_mult: {{fixed: 1.0}}
  batch_size: {{fixed: 64}}
  input_size: {{fixed: 32}}
  augment: {{fixed: none}}
budget: {{num_samples: 1, max_epochs: {epochs}, grace_period: {epochs}}}
"""

PLAIN = r"""
import sys, time
t0 = time.perf_counter()
from tuner._quiet import import_tensorflow_quietly
import_tensorflow_quietly()
import keras
from tuner.data import demo_dataset_dir, index_dataset, make_dataset, open_cache
from tuner.zoo import build_model, compile_model, set_unfrozen_blocks
keras.utils.set_random_seed(0)
index = index_dataset(demo_dataset_dir())
cache = open_cache(index, int(sys.argv[2]))
train = make_dataset(index, cache, "train", 64, shuffle=True, seed=0)
val = make_dataset(index, cache, "validation", 128)
built = build_model("mobilenet_v2", len(index.class_names), input_size=32, source_size=cache.size, weights="none", dropout=0.2, dense_units=64)
set_unfrozen_blocks(built, 18)
compile_model(built, "adam", 1e-3)
history = built.model.fit(train, validation_data=val, epochs=int(sys.argv[1]), verbose=0)
print(f"{time.perf_counter() - t0:.3f} {max(history.history['val_accuracy']):.4f}")
"""


def plain(epochs: int, working: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PLAIN, str(epochs), str(working)], capture_output=True, text=True, check=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    _, acc = out.stdout.split()
    return wall, float(acc)


def through_tuner(epochs: int, tmp: Path, i: int) -> tuple[float, dict]:
    import contextlib
    import io

    from tuner.leaderboard import read_leaderboard
    from tuner.search._driver import run_search
    from tuner.search._plan import Options, build_plan

    space = tmp / f"space{i}.yaml"
    space.write_text(SPACE.format(epochs=epochs))
    t0 = time.perf_counter()
    plan = build_plan(Options(space=str(space), name=f"t{i}", storage=str(tmp / "runs"), weights="none", test_top=0))
    with contextlib.redirect_stdout(io.StringIO()):
        run_search(plan, tmp / "runs" / f"t{i}")
    wall = time.perf_counter() - t0
    df, _ = read_leaderboard(tmp / "runs" / f"t{i}")
    return wall, df.iloc[0].to_dict()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--epochs", type=int, help="epochs per run (default: 14, quick 5)")
    p.add_argument("--repeat", type=int, help="runs of each (default: 2, quick 1)")
    args = p.parse_args()
    epochs = args.epochs or (5 if args.quick else 14)
    repeat = args.repeat or (1 if args.quick else 2)
    from tuner.data import choose_working_size, demo_dataset_dir, index_dataset, open_cache
    from tuner.search._cluster import init_ray

    index = index_dataset(demo_dataset_dir())
    working = choose_working_size(index, 32)
    open_cache(index, working)  # warm for both sides: the cache benchmark measures building it
    init_ray(local=True)
    plains, tuners, rows = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):  # interleaved, so drift in the machine's speed hits both
            plains.append(plain(epochs, working))
            wall, row = through_tuner(epochs, Path(tmp), i)
            tuners.append(wall)
            rows.append(row)
    plain_s = statistics.median(w for w, _ in plains)
    tuner_s = statistics.median(tuners)
    row = rows[-1]
    print(f"MobileNetV2 32 px on the demo digits ({len(index.files)} images), {epochs} epochs, batch 64, 2 CPU cores, median of {repeat}")
    print(f"plain model.fit (fresh process)     {plain_s:7.1f} s   best val_accuracy {statistics.median(a for _, a in plains):.4f}")
    print(f"one tuner trial (Ray Tune + Train)   {tuner_s:7.1f} s   best val_accuracy {row['val_accuracy']:.4f}")
    print(f"  inside the trial: set-up {row['setup_seconds']:.1f} s (TensorFlow import, data, model), training {row['train_seconds']:.1f} s")
    print(f"fixed overhead {tuner_s - plain_s:+.1f} s; ratio {tuner_s / plain_s:.2f}x (target <= 1.3x: {'met' if tuner_s / plain_s <= 1.3 else 'NOT met'})")


if __name__ == "__main__":
    main()
