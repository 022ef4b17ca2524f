"""The tf.data pipeline: batches from the cache, remapped labels, augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import write_bad_files
from tuner.data import STUDY_AUGMENTATION, Augmentation, Grouping, demo_dataset_dir, index_dataset, make_dataset, open_cache

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def demo():
    index = index_dataset(demo_dataset_dir())
    return index, open_cache(index, 8)


def _collect(ds):
    xs, ys = [], []
    for x, y in ds:
        xs.append(x.numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def test_validation_batches_are_the_cached_images_in_order(demo):
    index, cache = demo
    x, y = _collect(make_dataset(index, cache, "validation", 32))
    positions = np.asarray(index.indices("validation"))
    np.testing.assert_array_equal(x, np.asarray(cache.images)[positions])
    np.testing.assert_array_equal(y, np.asarray(index.labels)[positions])
    assert x.dtype == np.uint8 and x.shape[1:] == (8, 8, 3)


def test_training_epoch_visits_every_image_once_and_reshuffles(demo):
    index, cache = demo
    ds = make_dataset(index, cache, "train", 64, shuffle=True, seed=3)
    first_x, first_y = _collect(ds)
    second_x, _ = _collect(ds)
    assert len(first_y) == len(index.indices("train"))
    assert np.bincount(first_y).tolist() == index.class_counts("train")
    assert not np.array_equal(first_x, second_x), "each epoch reshuffles"
    flat = lambda a: sorted(map(bytes, a.reshape(len(a), -1)))  # noqa: E731
    assert flat(first_x) == flat(second_x)


def test_grouping_remap_applies_to_labels(demo):
    index, cache = demo
    remap = Grouping("loops", {"loopy": ("0", "6", "8", "9")}).remap(index.class_names)
    _, y = _collect(make_dataset(index, cache, "validation", 50, remap=remap))
    expected = np.asarray(remap.mapping)[np.asarray(index.labels)[list(index.indices("validation"))]]
    np.testing.assert_array_equal(y, expected)
    assert y.max() == remap.num_classes - 1 == 6


def test_identity_augmentation_is_exact_and_study_augmentation_moves_pixels(photo_dataset):
    index = index_dataset(photo_dataset(num_classes=2, per_class=10, size=48))
    cache = open_cache(index, 48)
    still = Augmentation(rotation_deg=0, shift=0, shear_deg=0, zoom=0, horizontal_flip=False)
    plain, _ = _collect(make_dataset(index, cache, "train", 8))
    same, _ = _collect(make_dataset(index, cache, "train", 8, augmentation=still))
    np.testing.assert_array_equal(plain, same)
    moved, _ = _collect(make_dataset(index, cache, "train", 8, augmentation=STUDY_AUGMENTATION))
    assert moved.shape == plain.shape and moved.dtype == np.uint8
    assert np.abs(moved.astype(int) - plain.astype(int)).mean() > 5


def test_flip_only_mirrors(photo_dataset):
    import tensorflow as tf

    from tuner.data._pipeline import augment_batch

    index = index_dataset(photo_dataset(num_classes=2, per_class=3, size=16))
    cache = open_cache(index, 16)
    batch = np.concatenate([np.asarray(cache.images[:6])] * 6)  # 36 images: each flips with p = 1/2
    tf.random.set_seed(0)
    out = augment_batch(tf.constant(batch), Augmentation(rotation_deg=0, shift=0, shear_deg=0, zoom=0)).numpy()
    kept = [np.array_equal(result, original) for original, result in zip(batch, out)]
    mirrored = [np.array_equal(result, original[:, ::-1]) for original, result in zip(batch, out)]
    assert all(k or m for k, m in zip(kept, mirrored)), "a flip moves nothing but columns"
    assert any(mirrored) and not all(mirrored), "some images flip and some do not"


def test_epochs_run_over_datasets_with_bad_files(photo_dataset):
    root = photo_dataset(num_classes=2, per_class=12, size=32)
    write_bad_files(root / "class_chelsea", size=32)
    index = index_dataset(root)
    cache = open_cache(index, 32)
    for split in ("train", "validation"):
        x, y = _collect(make_dataset(index, cache, split, 4, augmentation=STUDY_AUGMENTATION, shuffle=True))
        assert len(x) == int(cache.ok[list(index.indices(split))].sum())
