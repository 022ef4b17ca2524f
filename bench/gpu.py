"""Training throughput per architecture on the GPUs found here (a small CPU version without).

For each architecture of the finetune space at its own input size (InceptionV3 299 px with the
study's head; ResNet50, EfficientNetB0, MobileNetV2 224 px), with and without mixed precision:

- ``fed``: images per second of training steps fed by tuner's own input pipeline (the
  decode-once cache at 299 px working size -> the study's augmentation -> batch -> prefetch);
- ``compute``: the same steps on one batch held in memory (the model alone);
- fed well below compute means the input pipeline is the bottleneck (input-bound);
- ``peak GiB``: the GPU's peak memory in the fed run (TensorFlow's allocator statistics);
- and the input pipeline alone at 299 px (images per second, no model), to show whether it can
  feed the GPU at all.

Every block is trainable (``unfrozen_blocks`` = all: the most a trial computes); batch 64 on
a GPU. The thesis's anchor: about 40 images/s per Tesla K80 for InceptionV3 at 299 px.

    python bench/gpu.py            # GPU: 30 timed steps per case; CPU: 5
    python bench/gpu.py --quick    # GPU: 10 timed steps; CPU: 2 (under 5 minutes on 2 cores)
    python bench/gpu.py --out results.json

With no GPU it says so and runs the CPU version: float32 only (CPUs have no fp16 units),
batch 8, a few steps: it checks the script end to end and gives CPU figures, nothing more.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _photos import write_photo_dataset  # noqa: E402

ARCHITECTURES = ("inception_v3", "resnet50", "efficientnet_b0", "mobilenet_v2")
WORKING_SIZE = 299  # the cache's size: InceptionV3's input; the others resize in the model
K80_ANCHOR = 40.0  # images/s, InceptionV3 at 299 px, one Tesla K80 (the thesis)


def _timed_steps(model, batches, warmup: int, steps: int) -> float:
    """Images per second over ``steps`` training steps after ``warmup`` (median step time)."""
    it = iter(batches)
    times, n = [], 0
    for i in range(warmup + steps):
        x, y = next(it)
        t0 = time.perf_counter()
        logs = model.train_on_batch(x, y, return_dict=True)
        _ = float(logs["loss"])  # wait for the step to finish on the device
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            n = int(x.shape[0])
    return n / statistics.median(times)


def bench_model(arch: str, index, cache, batch: int, mixed: bool, warmup: int, steps: int, gpu: bool) -> dict:
    import keras
    import tensorflow as tf

    from tuner.data import STUDY_AUGMENTATION, make_dataset
    from tuner.zoo import build_model, compile_model, get_spec, setup_devices

    keras.backend.clear_session()
    setup_devices(mixed_precision="on" if mixed else "off")
    spec = get_spec(arch)
    size = spec.default_input_size
    built = build_model(arch, len(index.class_names), input_size=size, source_size=cache.size, weights="none", unfrozen_blocks=spec.num_blocks)
    compile_model(built, "adam", 1e-4)
    fed = make_dataset(index, cache, "train", batch, augmentation=STUDY_AUGMENTATION, shuffle=True, seed=0, drop_remainder=True).repeat()
    if gpu:
        tf.config.experimental.reset_memory_stats("GPU:0")
    t0 = time.perf_counter()
    fed_rate = _timed_steps(built.model, fed, warmup, steps)
    peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**30 if gpu else None
    x, y = next(iter(fed))
    held = tf.data.Dataset.from_tensors((x, y)).repeat()
    compute_rate = _timed_steps(built.model, held, 1, steps)
    return {
        "architecture": arch,
        "input_size": spec.default_input_size,
        "mixed_precision": mixed,
        "batch": batch,
        "fed_images_per_s": round(fed_rate, 1),
        "compute_images_per_s": round(compute_rate, 1),
        "input_bound": fed_rate < 0.8 * compute_rate,
        "peak_gib": None if peak is None else round(peak, 2),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def bench_pipeline(index, cache, batch: int, batches: int) -> float:
    from tuner.data import STUDY_AUGMENTATION, make_dataset

    ds = make_dataset(index, cache, "train", batch, augmentation=STUDY_AUGMENTATION, shuffle=True, seed=0, drop_remainder=True).repeat()
    it = iter(ds)
    for _ in range(3):  # tf.data's autotuning start-up
        next(it)
    t0, n = time.perf_counter(), 0
    for _ in range(batches):
        x, _ = next(it)
        n += int(x.shape[0])
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer timed steps (GPU 10, CPU 2)")
    p.add_argument("--archs", default=",".join(ARCHITECTURES), help="comma-separated architectures")
    p.add_argument("--out", metavar="FILE", help="also write the results as JSON")
    args = p.parse_args()

    from tuner._quiet import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    from tuner.data import index_dataset, open_cache

    gpus = tf.config.list_physical_devices("GPU")
    gpu = bool(gpus)
    if gpu:
        names = [tf.config.experimental.get_device_details(g).get("device_name", "GPU") for g in gpus]
        device = f"{len(gpus)} GPU(s): {', '.join(names)} (measured on GPU:0)"
        batch, warmup, steps, precisions = 64, 3, 10 if args.quick else 30, (False, True)
    else:
        device = f"no GPU: the small CPU version ({os.cpu_count()} CPUs, {platform.processor() or platform.machine()})"
        batch, warmup, steps, precisions = 8, 1, 2 if args.quick else 5, (False,)
    print(f"device: {device}", flush=True)
    if not gpu:
        print("  float32 only, batch 8: these figures check the script and describe this CPU, not a GPU", flush=True)
    root = Path(tempfile.mkdtemp(prefix="tuner-gpu-bench-"))
    data = write_photo_dataset(root / "photos", num_classes=8, per_class=40 if args.quick else 80, size=320)
    index = index_dataset(data)
    t0 = time.perf_counter()
    cache = open_cache(index, WORKING_SIZE, root / "cache")
    print(f"decode-once cache: {len(index.files)} images at {cache.size} px in {time.perf_counter() - t0:.1f}s", flush=True)
    pipeline = bench_pipeline(index, cache, 64, 10 if args.quick else 40)
    print(f"input pipeline alone (299 px, study augmentation, batch 64): {pipeline:.0f} images/s", flush=True)
    results = []
    print(f"{'architecture':<16} {'px':>4} {'precision':<9} {'batch':>5} {'fed img/s':>10} {'compute img/s':>14} {'bound':<7} {'peak GiB':>8}", flush=True)
    for arch in args.archs.split(","):
        for mixed in precisions:
            r = bench_model(arch.strip(), index, cache, batch, mixed, warmup, steps, gpu)
            results.append(r)
            peak = "-" if r["peak_gib"] is None else f"{r['peak_gib']:.2f}"
            bound = "input" if r["input_bound"] else "compute"
            print(
                f"{r['architecture']:<16} {r['input_size']:>4} {'mixed' if mixed else 'float32':<9} {batch:>5} "
                f"{r['fed_images_per_s']:>10.1f} {r['compute_images_per_s']:>14.1f} {bound:<7} {peak:>8}",
                flush=True,
            )
    inception = [r for r in results if r["architecture"] == "inception_v3"]
    if inception:
        best = max(r["fed_images_per_s"] for r in inception)
        print(f"InceptionV3 at 299 px: {best:.1f} images/s here vs about {K80_ANCHOR:.0f} per Tesla K80 in the thesis ({best / K80_ANCHOR:.2f}x)")
    if args.out:
        Path(args.out).write_text(json.dumps({"device": device, "pipeline_images_per_s": round(pipeline, 1), "results": results}, indent=1))


if __name__ == "__main__":
    main()
