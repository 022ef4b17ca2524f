"""The decode-once cache: built once under a lock, warm afterwards, bad files excluded."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
import pytest
from PIL import Image

from tests.conftest import crops, write_bad_files
from tuner.data import choose_working_size, demo_dataset_dir, index_dataset, open_cache
from tuner.errors import DataError


def test_second_open_is_warm_and_identical(photo_dataset, tmp_path):
    index = index_dataset(photo_dataset(num_classes=2, per_class=6, size=40))
    cold = open_cache(index, 32, cache_dir=tmp_path / "c")
    warm = open_cache(index, 32, cache_dir=tmp_path / "c")
    assert cold.built_now and not warm.built_now
    assert warm.path == cold.path
    assert warm.images.shape == (12, 32, 32, 3) and warm.images.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(warm.images), np.asarray(cold.images))
    assert warm.ok.all()
    # The stored pixels are the photo, resized: compare one file with a direct decode.
    direct = np.asarray(Image.open(f"{index.root}/{index.files[0]}").convert("RGB").resize((32, 32), Image.Resampling.BILINEAR))
    assert np.abs(direct.astype(int) - warm.images[0].astype(int)).mean() < 3


def _open_in_child(args):
    root, cache_dir = args
    return open_cache(index_dataset(root), 24, cache_dir=cache_dir).built_now


def test_concurrent_trials_build_it_once(photo_dataset, tmp_path):
    root = photo_dataset(num_classes=3, per_class=30, size=48)
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        built = list(pool.map(_open_in_child, [(str(root), str(tmp_path / "c"))] * 2))
    assert sorted(built) == [False, True]


def test_parallel_build_matches_serial(photo_dataset, tmp_path):
    index = index_dataset(photo_dataset(num_classes=3, per_class=100, size=32))
    serial = open_cache(index, 16, cache_dir=tmp_path / "a", workers=1)
    parallel = open_cache(index, 16, cache_dir=tmp_path / "b", workers=2)
    np.testing.assert_array_equal(np.asarray(serial.images), np.asarray(parallel.images))


def test_changed_dataset_gets_a_new_cache(photo_dataset, tmp_path):
    root = photo_dataset(num_classes=2, per_class=5)
    first = open_cache(index_dataset(root), 16, cache_dir=tmp_path / "c")
    Image.open(root / "class_chelsea" / "img_000.jpg").rotate(90).save(root / "class_chelsea" / "img_000.jpg")
    second = open_cache(index_dataset(root), 16, cache_dir=tmp_path / "c")
    assert second.path != first.path and second.built_now


def test_tampered_cache_is_refused(photo_dataset, tmp_path):
    index = index_dataset(photo_dataset(num_classes=2, per_class=5))
    cache = open_cache(index, 16, cache_dir=tmp_path / "c")
    manifest = json.loads((cache.path / "manifest.json").read_text())
    manifest["num_images"] = 3
    (cache.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="does not match its dataset.*delete that folder"):
        open_cache(index, 16, cache_dir=tmp_path / "c")


def test_bad_files_excluded_with_one_warning_and_modes_converted(photo_dataset, tmp_path, caplog):
    root = photo_dataset(num_classes=2, per_class=6, size=32)
    fates = write_bad_files(root / "class_coffee", size=32)
    index = index_dataset(root)
    with caplog.at_level(logging.WARNING, logger="tuner.data"):
        cache = open_cache(index, 32, cache_dir=tmp_path / "c")
    excluded = sorted(f"class_coffee/{n}" for n, fate in fates.items() if fate == "excluded")
    assert sorted(cache.bad_files) == excluded
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"excluded {len(excluded)} unreadable" in warnings[0].getMessage()
    pos = {rel: i for i, rel in enumerate(index.files)}
    for name, fate in fates.items():
        assert bool(cache.ok[pos[f"class_coffee/{name}"]]) == (fate == "converted"), name
    expected_gray = np.asarray(Image.fromarray(crops("coffee", 1, 32, seed=99)[0]).convert("L"), dtype=int)
    gray16 = cache.images[pos["class_coffee/gray16.png"]].astype(int)
    assert np.abs(gray16[..., 0] - expected_gray).max() <= 1, "16-bit images are scaled to 8 bits, not clipped"
    gray8 = cache.images[pos["class_coffee/gray.jpg"]].astype(int)
    assert np.abs(gray8[..., 0] - expected_gray).mean() < 8
    rgba = cache.images[pos["class_coffee/rgba.png"]]
    assert (rgba[:14] >= 250).all(), "transparent pixels are composited on white"
    cmyk = cache.images[pos["class_coffee/cmyk.jpg"]].astype(int)
    assert np.abs(cmyk - cache.images[pos["class_coffee/palette.gif"]].astype(int)).mean() < 20


def test_all_files_bad_is_a_data_error(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / "d" / cls).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "d" / cls / f"{i}.jpg").write_text("not an image")
    with pytest.raises(DataError, match="none of the 6 images"):
        open_cache(index_dataset(tmp_path / "d"), 8, cache_dir=tmp_path / "c")


def test_working_size_is_source_size_capped(photo_dataset):
    index = index_dataset(photo_dataset(num_classes=2, per_class=4, size=40))
    assert choose_working_size(index, 299) == 40
    assert choose_working_size(index, 32) == 32
    assert choose_working_size(index_dataset(demo_dataset_dir()), 299) == 8
