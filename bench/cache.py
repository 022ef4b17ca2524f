"""A trial's data setup: the first trial on a node (decodes every image once into the cache)
against the second (opens the warm cache). Target: the second at most 5% of the first.

Each trial's setup is timed in its own fresh process, as trials run: index the folder, open
the cache (building it the first time), and build the training and validation pipelines.
Shown apart: TensorFlow's import (every trial process pays it, cache or not) and the first
training and validation batch (the first step's input: tf.data's start-up plus one batch of
augmentation, the same work for every trial). Data: crops of scikit-image's real
photographs saved as JPEG.

    python bench/cache.py            # 4,000 images, 300 px sources
    python bench/cache.py --quick    # 800 images
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]

from _photos import write_photo_dataset  # noqa: E402

TRIAL_SETUP = r"""
import json, os, sys, time
t0 = time.perf_counter()
from tuner._quiet import import_tensorflow_quietly
import_tensorflow_quietly()
t_tf = time.perf_counter() - t0
from tuner.data import AUGMENTATIONS, index_dataset, make_dataset, open_cache
t1 = time.perf_counter()
index = index_dataset(sys.argv[1])
t2 = time.perf_counter()
cache = open_cache(index, int(sys.argv[2]))
t3 = time.perf_counter()
train = make_dataset(index, cache, "train", 64, augmentation=AUGMENTATIONS["study"], shuffle=True)
val = make_dataset(index, cache, "validation", 128)
t4 = time.perf_counter()
next(iter(train)); next(iter(val))
t5 = time.perf_counter()
print(json.dumps({"tensorflow_import": t_tf, "index": t2 - t1, "cache": t3 - t2, "pipelines": t4 - t3,
                  "setup": t4 - t1, "first_batches": t5 - t4, "built": cache.built_now, "images": len(index.files)}))
"""


def trial_setup(data: Path, size: int, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", TRIAL_SETUP, str(data), str(size)], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    per_class, size, working = (100, 300, 299) if args.quick else (500, 300, 299)
    with tempfile.TemporaryDirectory() as tmp:
        data = write_photo_dataset(Path(tmp) / "photos", num_classes=8, per_class=per_class, size=size)
        env = {**os.environ, "TUNER_CACHE_DIR": str(Path(tmp) / "cache"), "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
        first = trial_setup(data, working, env)
        second = trial_setup(data, working, env)
        third = trial_setup(data, working, env)
    assert first["built"] and not second["built"] and not third["built"]
    warm = min(second["setup"], third["setup"])
    ratio = warm / first["setup"]
    print(f"{first['images']} images, {size} px JPEG sources, working size {working} px, 2 cores")
    print(f"{'':<14} {'index s':>8} {'cache s':>8} {'pipelines s':>12} {'data setup s':>13} {'(first batches s)':>18} {'(TF import s)':>14}")
    for name, r in (("first trial", first), ("second trial", second), ("third trial", third)):
        print(
            f"{name:<14} {r['index']:>8.3f} {r['cache']:>8.3f} {r['pipelines']:>12.3f} {r['setup']:>13.3f} {r['first_batches']:>18.3f} {r['tensorflow_import']:>14.2f}"  # noqa: E501
        )
    print(f"second trial's data setup / first's: {ratio:.1%} (target <= 5%: {'met' if ratio <= 0.05 else 'NOT met'})")


if __name__ == "__main__":
    main()
