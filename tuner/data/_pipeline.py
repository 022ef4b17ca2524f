"""The tf.data input pipeline: shuffle -> batch -> augment at source size -> prefetch.

Images come from the decode-once cache as uint8 at the working size and leave the pipeline
as uint8 at that size: resizing to the model's input and ``preprocess_input`` are the model's
first layers, so they run on the accelerator and the host moves 4x fewer bytes than float32.

Augmentation is one random affine matrix per image (rotation, shift, shear, zoom, horizontal
flip, composed the way Keras' ImageDataGenerator composes them) applied to the whole batch by
TensorFlow's projective-transform kernel. One resampling pass per image instead of one per
transform is why this is ~3x faster than chaining Keras' RandomRotation, RandomTranslation and
RandomZoom layers (measured in bench/pipeline.py), and it also interpolates once, not three
times. The only Python in the loop is one ``numpy`` gather per *batch* from the memory map.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tuner.data._cache import ImageCache
from tuner.data._grouping import LabelRemap
from tuner.data._index import DatasetIndex
from tuner.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

__all__ = ["AUGMENTATIONS", "Augmentation", "LIGHT_AUGMENTATION", "STUDY_AUGMENTATION", "make_dataset", "split_arrays"]


@dataclass(frozen=True)
class Augmentation:
    """Random affine augmentation, in ImageDataGenerator's terms.

    Attributes:
        rotation_deg: Rotation drawn from ``[-rotation_deg, rotation_deg]`` degrees.
        shift: Horizontal and vertical shift, each from ``[-shift, shift]`` of the size.
        shear_deg: Shear angle from ``[-shear_deg, shear_deg]`` **degrees**, as
            ImageDataGenerator's ``shear_range`` (so the study's 0.2 is a fifth of a degree).
        zoom: Zoom factors for x and y, each from ``[1 - zoom, 1 + zoom]``.
        horizontal_flip: Flip half of the images left-right.
        fill_mode: How to fill pixels from outside the source: ``nearest``, ``reflect``,
            ``wrap`` or ``constant``.
    """

    rotation_deg: float = 40.0
    shift: float = 0.2
    shear_deg: float = 0.2
    zoom: float = 0.2
    horizontal_flip: bool = True
    fill_mode: str = "nearest"

    def __post_init__(self) -> None:
        if self.fill_mode not in ("nearest", "reflect", "wrap", "constant"):
            raise ValueError(f"fill_mode must be nearest, reflect, wrap or constant, got {self.fill_mode!r}")
        if not 0 <= self.zoom < 1:
            raise ValueError(f"0 <= zoom < 1 must hold, but got {self.zoom}")


#: The retail study's augmentation (reference.md section 1).
STUDY_AUGMENTATION = Augmentation()
#: A milder one for small or orientation-sensitive images (digits: no flips, small turns).
LIGHT_AUGMENTATION = Augmentation(rotation_deg=10.0, shift=0.1, shear_deg=0.0, zoom=0.1, horizontal_flip=False)
#: Augmentations a search space can name (``params.augment``); ``none`` is no augmentation.
AUGMENTATIONS = {"study": STUDY_AUGMENTATION, "light": LIGHT_AUGMENTATION, "none": None}


def affine_transforms(batch: int | tf.Tensor, height: int, width: int, aug: Augmentation) -> tf.Tensor:
    """One flattened 8-parameter projective matrix per image (output -> input coordinates)."""
    import tensorflow as tf

    def uniform(limit: float) -> tf.Tensor:
        return tf.random.uniform([batch], -limit, limit, dtype=tf.float32)

    theta = uniform(math.radians(aug.rotation_deg))
    shear = uniform(math.radians(aug.shear_deg))
    tx = uniform(aug.shift) * float(width)
    ty = uniform(aug.shift) * float(height)
    zx = 1.0 + uniform(aug.zoom)
    zy = 1.0 + uniform(aug.zoom)
    if aug.horizontal_flip:
        flip = tf.where(tf.random.uniform([batch]) < 0.5, -1.0, 1.0)
    else:
        flip = tf.ones([batch])
    cos, sin = tf.cos(theta), tf.sin(theta)
    # M = Rotation @ Shear @ Zoom @ Flip, mapping output to input coordinates (x right, y down).
    # Shear as in ImageDataGenerator: [[1, -sin s], [0, cos s]].
    s_sin, s_cos = tf.sin(shear), tf.cos(shear)
    r00, r01, r10, r11 = cos, -sin, sin, cos
    m00 = r00 * 1.0
    m01 = r00 * -s_sin + r01 * s_cos
    m10 = r10 * 1.0
    m11 = r10 * -s_sin + r11 * s_cos
    m00, m10 = m00 * zx * flip, m10 * zx * flip
    m01, m11 = m01 * zy, m11 * zy
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    a2 = cx - m00 * cx - m01 * cy + tx
    b2 = cy - m10 * cx - m11 * cy + ty
    zeros = tf.zeros([batch])
    return tf.stack([m00, m01, a2, m10, m11, b2, zeros, zeros], axis=1)


def augment_batch(images: tf.Tensor, aug: Augmentation) -> tf.Tensor:
    """Apply one random affine transform per image of a ``(B, H, W, 3)`` batch (any dtype)."""
    import tensorflow as tf

    shape = tf.shape(images)
    b, h, w = shape[0], images.shape[1], images.shape[2]
    transforms = affine_transforms(b, h, w, aug)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.stack([h, w]),
        interpolation="BILINEAR",
        fill_mode=aug.fill_mode.upper(),
        fill_value=0.0,
    )


def split_arrays(index: DatasetIndex, cache: ImageCache, split: str, remap: LabelRemap | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the usable images of ``split`` and their (remapped) labels.

    Raises:
        DataError: the split has no usable image.
    """
    positions = np.asarray(index.indices(split), dtype=np.int64)
    positions = positions[cache.ok[positions]] if positions.size else positions
    fine = np.asarray(index.labels, dtype=np.int64)[positions]
    labels = np.asarray(remap.mapping, dtype=np.int64)[fine] if remap is not None else fine
    if positions.size == 0:
        raise DataError(
            f"the {split} split of {index.root} has no usable image; add images to it or check them with 'python -m tuner.data inspect {index.root}'"
        )
    return positions, labels.astype(np.int32)


def make_dataset(
    index: DatasetIndex,
    cache: ImageCache,
    split: str,
    batch_size: int,
    *,
    remap: LabelRemap | None = None,
    augmentation: Augmentation | None = None,
    shuffle: bool = False,
    seed: int | None = None,
    drop_remainder: bool = False,
    positions: Sequence[int] | None = None,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of ``(uint8 images (B, S, S, 3), int32 labels (B,))`` batches.

    Args:
        index: The dataset index.
        cache: Its decode-once cache.
        split: ``"train"``, ``"validation"`` or ``"test"``.
        batch_size: Images per batch.
        remap: A grouping's label remap; ``None`` keeps the fine classes.
        augmentation: Random affine augmentation, or ``None`` (validation, test).
        shuffle: Reshuffle the order every epoch (training).
        seed: Seed of the shuffle.
        drop_remainder: Drop the last incomplete batch.
        positions: Restrict to these positions of the split (for subsets in tests, benches).
    """
    import tensorflow as tf

    if batch_size < 1:
        raise ValueError(f"batch_size >= 1 must hold, but got {batch_size}")
    split_positions, labels = split_arrays(index, cache, split, remap)
    if positions is not None:
        keep = np.isin(split_positions, np.asarray(positions, dtype=np.int64))
        split_positions, labels = split_positions[keep], labels[keep]
    images = cache.images
    size = cache.size
    lookup = np.zeros(len(index.files), dtype=np.int32)
    lookup[split_positions] = labels

    def gather(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Sorted reads are sequential in the memory map; the batch is already a random draw.
        idx = np.sort(idx)
        return np.ascontiguousarray(images[idx]), lookup[idx]

    def load(idx: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x, y = tf.numpy_function(gather, [idx], [tf.uint8, tf.int32], stateful=False)
        x.set_shape([None, size, size, 3])
        y.set_shape([None])
        return x, y

    ds = tf.data.Dataset.from_tensor_slices(split_positions)
    if shuffle:
        ds = ds.shuffle(len(split_positions), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    # The map functions are straight TensorFlow ops with no Python control flow on tensors:
    # AutoGraph's source conversion would only cost time (~0.2 s per pipeline, every trial).
    plain = tf.autograph.experimental.do_not_convert
    ds = ds.map(plain(load), num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle)
    if augmentation is not None:
        aug = augmentation
        ds = ds.map(plain(lambda x, y: (augment_batch(x, aug), y)), num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle)
    return ds.prefetch(tf.data.AUTOTUNE)
