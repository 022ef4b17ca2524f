"""One training epoch of input: ImageDataGenerator (the study's pipeline) against tuner's.

Same images, same augmentation (rotation 40, shift 0.2, shear 0.2, zoom 0.2, horizontal flip,
fill nearest), batch 64, one epoch each, side by side in this one run:

- ``ImageDataGenerator.flow_from_directory`` at a 224 px target, as the study ran it;
- Keras 3 preprocessing layers (RandomRotation, RandomTranslation, RandomZoom, RandomFlip)
  on tuner's cache, to show why tuner composes one affine matrix instead;
- tuner: decode-once cache (warm) -> shuffle -> batch -> one affine matrix per image at
  source size -> prefetch. Resizing to the model input happens in the model, on the device.

ImageDataGenerator is timed over one epoch (its rate is flat from the first batch); the
tf.data pipelines report the median of three epochs after a warm-up batch, so tf.data's
autotuning start-up is not counted against them.

Two cases: 64 px sources (Tiny ImageNet size) and 300 px sources (retail-photo size).

    python bench/pipeline.py            # ~2,500 images per case
    python bench/pipeline.py --quick    # ~640 images per case
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _photos import write_photo_dataset  # noqa: E402

BATCH = 64


def _epoch(iterable, limit_batches: int | None = None) -> int:
    n = 0
    for i, (x, _) in enumerate(iterable):
        n += int(x.shape[0])
        if limit_batches is not None and i + 1 >= limit_batches:
            break
    return n


def bench_image_data_generator(root: Path, num_images: int) -> float:
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    gen = ImageDataGenerator(
        rescale=1.0 / 255,
        rotation_range=40,
        width_shift_range=0.2,
        height_shift_range=0.2,
        shear_range=0.2,
        zoom_range=0.2,
        horizontal_flip=True,
        fill_mode="nearest",
    )
    flow = gen.flow_from_directory(str(root), target_size=(224, 224), batch_size=BATCH, class_mode="categorical", seed=0)
    batches = -(-num_images // BATCH)
    start = time.perf_counter()
    n = _epoch(flow, batches)
    return n / (time.perf_counter() - start)


def _steady_rate(ds, epochs: int = 3) -> float:
    """Median images/s over ``epochs`` full epochs, after one traced warm-up batch."""
    import statistics

    _epoch(ds.take(2))
    rates = []
    for _ in range(epochs):
        start = time.perf_counter()
        n = _epoch(ds)
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def bench_keras_layers(index, cache) -> float:
    import keras
    import tensorflow as tf

    from tuner.data import make_dataset

    layers = keras.Sequential(
        [
            keras.layers.RandomRotation(40 / 360, fill_mode="nearest"),
            keras.layers.RandomTranslation(0.2, 0.2, fill_mode="nearest"),
            keras.layers.RandomZoom(0.2, 0.2, fill_mode="nearest"),
            keras.layers.RandomFlip("horizontal"),
        ]
    )
    ds = make_dataset(index, cache, "train", BATCH, shuffle=True, seed=0)
    ds = ds.map(lambda x, y: (layers(tf.cast(x, tf.float32), training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return _steady_rate(ds)


def bench_tuner(index, cache) -> float:
    from tuner.data import STUDY_AUGMENTATION, make_dataset

    ds = make_dataset(index, cache, "train", BATCH, augmentation=STUDY_AUGMENTATION, shuffle=True, seed=0)
    return _steady_rate(ds)


def run_case(work: Path, source_px: int, num_classes: int, per_class: int) -> dict[str, float]:
    from tuner.data import index_dataset, open_cache

    root = write_photo_dataset(work / f"photos-{source_px}px", num_classes, per_class, source_px)
    index = index_dataset(root)
    train_images = len(index.indices("train"))
    start = time.perf_counter()
    cold = open_cache(index, min(source_px, 299), cache_dir=work / "cache")
    build = time.perf_counter() - start
    warm = open_cache(index, min(source_px, 299), cache_dir=work / "cache")
    # ImageDataGenerator reads the whole folder; time the same number of images as tuner's train split.
    idg = bench_image_data_generator(root, train_images)
    layers = bench_keras_layers(index, warm)
    ours = bench_tuner(index, warm)
    return {
        "source_px": source_px,
        "images": train_images,
        "cache_build_s": build if cold.built_now else float("nan"),
        "warm_open_s": warm.setup_seconds,
        "idg": idg,
        "layers": layers,
        "tuner": ours,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images (under a minute)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the generated data (default: a temp dir)")
    args = parser.parse_args()
    per_class = 80 if args.quick else 320
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        rows = [run_case(work, px, 8, per_class) for px in (64, 300)]
    print(f"\none epoch of training input, batch {BATCH}, thesis augmentation, {os.cpu_count()} cores")
    print(
        f"{'source':>7} {'images':>7} {'IDG img/s':>10} {'layers img/s':>13} {'tuner img/s':>12} {'tuner/IDG':>10} {'tuner/layers':>13} {'cache build s':>14} {'warm open s':>12}"  # noqa: E501
    )
    for r in rows:
        print(
            f"{r['source_px']:>5}px {r['images']:>7} {r['idg']:>10.0f} {r['layers']:>13.0f} {r['tuner']:>12.0f} "
            f"{r['tuner'] / r['idg']:>9.1f}x {r['tuner'] / r['layers']:>12.1f}x {r['cache_build_s']:>14.2f} {r['warm_open_s']:>12.3f}"
        )


if __name__ == "__main__":
    main()
