"""The benchmark tables' model and data: a small CNN with block boundaries, and the digits.

``digits_cnn`` is registered in tuner's model registry (timm's ``register_model``) when this
module is imported, so every tuner code path (space validation, the worker's model building,
block unfreezing, weight files) treats it as any other architecture. It has three conv blocks
(16, 32, 64 filters; each two convolutions, batch norm and a 2x2 pool) on 16x16 inputs: small
enough for thousands of trainings on two CPU cores, deep enough that "how many blocks to
unfreeze" is a real question.

Datasets are written from scikit-learn's digits as pre-split folders (``train/``,
``validation/``, ``test/``), with validation splits large enough that one image is under 0.3
points of accuracy:

- ``digits_scratch``: all ten digits; about 990 train, 450 validation, 360 test images.
- ``digits_transfer``: digits 5-9 only (about 315 / 360 / 225): fine-tuned from a backbone
  pretrained on digits 0-4 (:func:`pretrain`), which it never saw.

    python bench/_digits.py --out /tmp/digits   # both datasets and the pretrained backbone
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tuner.zoo import ModelSpec, list_models, register_model  # noqa: E402

NAME = "digits_cnn"
BLOCKS = ("block1_pool", "block2_pool", "block3_pool")
WEIGHTS_FILE = "digits_cnn_0-4.weights.h5"
#: (validation, test) fractions per class, per dataset; the rest trains.
SPLITS = {"digits_scratch": (range(10), (0.25, 0.20)), "digits_transfer": (range(5, 10), (0.40, 0.25))}


def _backbone(input_shape: tuple[int, int, int], weights: str | None = None, name: str = "backbone") -> Any:
    import keras
    from keras import layers

    inputs = keras.Input(input_shape)
    x = inputs
    for i, filters in enumerate((16, 32, 64), start=1):
        x = layers.Conv2D(filters, 3, padding="same", name=f"block{i}_conv1")(x)
        x = layers.BatchNormalization(name=f"block{i}_bn")(x)
        x = layers.Activation("relu", name=f"block{i}_relu")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{i}_conv2")(x)
        x = layers.MaxPooling2D(name=f"block{i}_pool")(x)
    return keras.Model(inputs, x, name=name)


def _scratch(input_shape: tuple[int, int, int], num_classes: int) -> Any:
    import keras
    from keras import layers

    base = _backbone(input_shape)
    x = layers.GlobalAveragePooling2D()(base.output)
    return keras.Model(base.input, layers.Dense(num_classes, activation="softmax", name="predictions")(x), name=NAME)


def register() -> None:
    """Register ``digits_cnn`` once per process."""
    if NAME not in list_models():
        register_model(
            ModelSpec(
                name=NAME,
                description="bench: 3 conv blocks (16/32/64) on 16x16 digits",
                scratch=_scratch,
                backbone=_backbone,
                pretrained=False,  # its pretrained weights are a file (pretrain()), not ImageNet
                min_input_size=16,
                default_input_size=16,
                preprocessing="unit",
                block_boundaries=BLOCKS,
            )
        )


register()


def write_dataset(out: Path, name: str, seed: int = 0) -> Path:
    """Write one pre-split dataset of PNGs (stratified, deterministic); returns its folder."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    classes, (f_val, f_test) = SPLITS[name]
    root = out / name
    if (root / ".complete").is_file():
        return root
    digits = load_digits()
    pixels = 255 - np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    rng = np.random.default_rng(seed)
    for label in classes:
        idx = rng.permutation(np.flatnonzero(digits.target == label))
        n_val, n_test = round(len(idx) * f_val), round(len(idx) * f_test)
        parts = {"validation": idx[:n_val], "test": idx[n_val : n_val + n_test], "train": idx[n_val + n_test :]}
        for split, members in parts.items():
            folder = root / split / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            for i in members:
                Image.fromarray(pixels[i], mode="L").save(folder / f"{i:04d}.png")
    (root / ".complete").write_text(json.dumps({"classes": list(classes), "validation": f_val, "test": f_test, "seed": seed}))
    return root


def pretrain(out: Path, epochs: int = 15, seed: int = 0) -> Path:
    """Train ``digits_cnn`` on digits 0-4 (all their images; never the transfer digits) and
    save its backbone's weights: the "pretrained" starting point of ``digits_transfer``."""
    target = out / WEIGHTS_FILE
    if target.is_file():
        return target
    from tuner._quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras
    import numpy as np
    from sklearn.datasets import load_digits

    from tuner.zoo import build_model, compile_model, set_unfrozen_blocks

    keras.utils.set_random_seed(seed)
    digits = load_digits()
    keep = digits.target < 5
    pixels = 255 - np.round(digits.images[keep] * (255.0 / 16.0)).astype(np.uint8)
    x = np.repeat(pixels[..., None], 3, axis=-1)  # the grayscale PNGs load as RGB
    y = digits.target[keep]
    built = build_model(NAME, 5, mode="finetune", source_size=8, weights="none", unfrozen_blocks=3)
    set_unfrozen_blocks(built, 3)
    compile_model(built, "adam", 1e-3)
    history = built.model.fit(x, y, epochs=epochs, batch_size=32, validation_split=0.15, verbose=0)
    print(f"pretrained {NAME} on digits 0-4: val accuracy {history.history['val_accuracy'][-1]:.3f} after {epochs} epochs")
    built.backbone.save_weights(str(target))  # type: ignore[union-attr]
    return target


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for the datasets and the pretrained backbone")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        print(write_dataset(args.out, name))
    print(pretrain(args.out))


if __name__ == "__main__":
    main()
