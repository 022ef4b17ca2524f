"""The demo's training choices, measured: constant against cosine learning rate, with and
without augmentation, on the demo's model (MobileNetV2 from random weights, 32 px digits,
batch 32, Adam at 3e-3, 6 epochs).

Each run is one real trial's training (``tuner.search.worker._worker.run_training``, no Ray), one
process per run, two at a time; every setting runs with the same seeds. Prints, per setting,
the mean final and best validation accuracy on the digits' own 10 labels with a 95% t-interval.

    python bench/lr_schedule.py            # 5 seeds x 3 settings, about 10 minutes on 2 cores
    python bench/lr_schedule.py --seeds 2  # quicker
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

SETTINGS = (("constant", "none"), ("cosine", "none"), ("cosine", "light"))

_ONE_RUN = """
import json, sys
from tuner.data import demo_dataset_dir, index_dataset
from tuner.search.worker._worker import run_training
schedule, augment, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
index = index_dataset(demo_dataset_dir())
cfg = dict(data_dir=index.root, identity=index.identity, working_size=8, architecture="mobilenet_v2", kind="finetune",
           weights="none", input_size=32, lr=3e-3, lr_schedule=schedule, optimizer="adam", dropout=0.3, dense_units=128,
           unfrozen_blocks=18, batch_size=32, max_epochs=6, metric="val_accuracy", mode="max", augment=augment,
           seed=seed, cpus=1)
accs = []
run_training(cfg, lambda m, d: accs.append(m["val_accuracy"]))
print(json.dumps(accs))
"""


def _run(schedule: str, augment: str, seed: int) -> list[float]:
    out = subprocess.run([sys.executable, "-c", _ONE_RUN, schedule, augment, str(seed)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _interval(values: list[float]) -> str:
    from scipy import stats

    mean = statistics.mean(values)
    if len(values) < 2:
        return f"{mean:.3f}"
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    return f"{mean:.3f} [{mean - half:.3f}, {mean + half:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    jobs = [(s, a, seed) for seed in range(args.seeds) for s, a in SETTINGS]
    with ThreadPoolExecutor(2) as pool:
        curves = list(pool.map(lambda job: _run(*job), jobs))
    print(f"{'schedule':<9} {'augment':<8} {'final val_accuracy (95% CI)':<30} {'best epoch val_accuracy (95% CI)':<30} runs")
    for schedule, augment in SETTINGS:
        mine = [c for (s, a, _), c in zip(jobs, curves) if (s, a) == (schedule, augment)]
        print(f"{schedule:<9} {augment:<8} {_interval([c[-1] for c in mine]):<30} {_interval([max(c) for c in mine]):<30} {len(mine)}")


if __name__ == "__main__":
    main()
