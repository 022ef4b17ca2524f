"""Dataset layouts, class names, the deterministic split and the dataset identity."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from tests.conftest import crops, write_photo_classes
from tuner.data import index_dataset, safe_filename, split_assignments
from tuner.errors import ConfigError, DataError


def test_class_folders_split_80_10_10_stratified(photo_dataset):
    root = photo_dataset(num_classes=3, per_class=20)
    index = index_dataset(root)
    assert index.layout == "class_folders"
    assert index.class_names == ("class_astronaut", "class_chelsea", "class_coffee")
    for split, expected in (("train", 16), ("validation", 2), ("test", 2)):
        assert index.class_counts(split) == [expected] * 3
    assert len(index) == 60


def test_extensions_in_any_case_and_non_images_counted(tmp_path):
    root = write_photo_classes(tmp_path / "d", {"a": "astronaut", "b": "chelsea"}, per_class=4)
    (root / "a" / "img_000.jpg").rename(root / "a" / "UPPER.JPG")
    (root / "b" / "img_000.jpg").rename(root / "b" / "Mixed.JpEg")
    (root / "a" / "notes.txt").write_text("hello")
    (root / "a" / ".DS_Store").write_bytes(b"\0")
    index = index_dataset(root)
    assert "a/UPPER.JPG" in index.files and "b/Mixed.JpEg" in index.files
    assert index.ignored_files == ("a/notes.txt",)


PINNED_SPLIT = ["train", "validation", "train", "test", "train", "train", "train", "train", "train", "train"]


def test_split_is_independent_of_listing_order_and_stable():
    keys = [f"c{c}/img_{i}.jpg" for c in range(4) for i in range(37)]
    labels = [int(k[1]) for k in keys]
    first = dict(zip(keys, split_assignments(keys, labels, seed=7)))
    order = list(range(len(keys)))
    random.Random(1).shuffle(order)
    shuffled = dict(zip([keys[i] for i in order], split_assignments([keys[i] for i in order], [labels[i] for i in order], seed=7)))
    assert first == shuffled
    # Pinned values: the assignment is a pure function of (seed, path), so these never change
    # across machines or library versions (a change here would re-split every user's data).
    ten = [f"x/{i}.jpg" for i in range(10)]
    assert split_assignments(ten, [0] * 10, seed=0) == PINNED_SPLIT
    other_seed = dict(zip(keys, split_assignments(keys, labels, seed=8)))
    assert other_seed != first


def test_same_split_on_a_copy_of_the_dataset(photo_dataset, tmp_path):
    root = photo_dataset(num_classes=2, per_class=15)
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    a, b = index_dataset(root), index_dataset(copy)
    assert dict(zip(a.files, a.splits)) == dict(zip(b.files, b.splits))


def test_pre_split_layout(tmp_path):
    root = tmp_path / "pre"
    write_photo_classes(root / "train", {"cat": "chelsea", "rocket": "rocket"}, per_class=6)
    write_photo_classes(root / "valid", {"cat": "chelsea", "rocket": "rocket"}, per_class=2)
    write_photo_classes(root / "test", {"cat": "chelsea"}, per_class=2)
    index = index_dataset(root)
    assert index.layout == "pre_split"
    assert index.class_counts("train") == [6, 6]
    assert index.class_counts("validation") == [2, 2]
    assert index.class_counts("test") == [2, 0]


def test_pre_split_class_missing_from_train_is_named(tmp_path):
    root = tmp_path / "pre"
    write_photo_classes(root / "train", {"cat": "chelsea", "rocket": "rocket"}, per_class=3)
    write_photo_classes(root / "val", {"cat": "chelsea", "coffee": "coffee"}, per_class=2)
    with pytest.raises(DataError, match=r"class 'coffee' is in val/ but not in train/"):
        index_dataset(root)


def _tiny_imagenet(root: Path) -> Path:
    from PIL import Image

    wnids = {"n01443537": "chelsea", "n01629819": "coffee", "n02124075": "rocket"}
    (root / "wnids.txt").parent.mkdir(parents=True)
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (root / "words.txt").write_text(
        "n00001740\tentity\nn01443537\tgoldfish, Carassius auratus\nn01629819\tEuropean fire salamander, Salamandra salamandra\nn02124075\tEgyptian cat\n"
    )
    for k, (wnid, photo_name) in enumerate(wnids.items()):
        folder = root / "train" / wnid / "images"
        folder.mkdir(parents=True)
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
        for i, arr in enumerate(crops(photo_name, 10, 64, seed=k)):
            Image.fromarray(arr).save(folder / f"{wnid}_{i}.JPEG")
    (root / "val" / "images").mkdir(parents=True)
    lines = []
    for k, (wnid, photo_name) in enumerate(wnids.items()):
        for i, arr in enumerate(crops(photo_name, 2, 64, seed=10 + k)):
            name = f"val_{k * 2 + i}.JPEG"
            Image.fromarray(arr).save(root / "val" / "images" / name)
            lines.append(f"{name}\t{wnid}\t0\t0\t63\t63")
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return root


def test_tiny_imagenet_layout(tmp_path):
    index = index_dataset(_tiny_imagenet(tmp_path / "tiny-imagenet-200"))
    assert index.layout == "tiny_imagenet"
    assert index.class_names == ("goldfish", "European fire salamander", "Egyptian cat")
    assert index.class_counts("test") == [2, 2, 2]  # val/ serves as test
    assert index.class_counts("validation") == [1, 1, 1]  # 10% carved from train
    assert index.class_counts("train") == [9, 9, 9]


def test_beauty_preset_and_regex(tmp_path):
    root = write_photo_classes(
        tmp_path / "beauty",
        {"boxes_Body_AntiCelluliteCream_1186": "chelsea", "boxes_Oralhygiene_Toothbrushes_7": "coffee"},
        per_class=3,
    )
    assert index_dataset(root, "beauty").class_names == ("Body_AntiCelluliteCream", "Oralhygiene_Toothbrushes")
    assert index_dataset(root, r"^boxes_([A-Za-z]+)_").class_names == ("Body", "Oralhygiene")


def test_collision_after_cleaning_names_both_folders(tmp_path):
    root = write_photo_classes(tmp_path / "b", {"boxes_Body_Firm_1": "chelsea", "boxes_Body_Firm_2": "coffee", "boxes_X_Y_3": "rocket"}, per_class=3)
    with pytest.raises(DataError, match=r"'boxes_Body_Firm_1' and 'boxes_Body_Firm_2' both become 'Body_Firm'"):
        index_dataset(root, "beauty")


@pytest.mark.parametrize("pattern, message", [("([a-z", "not a valid regular expression"), ("^boxes_", "no capturing group")])
def test_bad_pattern(photo_dataset, pattern, message):
    with pytest.raises(ConfigError, match=message):
        index_dataset(photo_dataset(num_classes=2, per_class=3), pattern)


def test_identity_tracks_paths_sizes_mtimes_and_classes(photo_dataset):
    root = photo_dataset(num_classes=2, per_class=5)
    first = index_dataset(root).identity
    assert index_dataset(root).identity == first
    victim = root / "class_astronaut" / "img_000.jpg"
    st = victim.stat()
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    touched = index_dataset(root).identity
    assert touched != first
    victim.rename(victim.with_name("renamed.jpg"))
    assert index_dataset(root).identity not in (first, touched)
    assert index_dataset(root, r"^class_(.+)$").identity != index_dataset(root).identity


def test_hostile_class_names_are_kept_and_sanitised_for_files(tmp_path):
    root = write_photo_classes(tmp_path / "h", {"<script>alert(1)": "chelsea", "a..b": "coffee"}, per_class=3)
    index = index_dataset(root)
    assert set(index.class_names) == {"<script>alert(1)", "a..b"}
    for name in index.class_names:
        safe = safe_filename(name)
        assert "/" not in safe and ".." not in safe and "<" not in safe and safe


# --- bad input: each one a one-line error -------------------------------------------------


def test_missing_and_not_a_directory(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        index_dataset(tmp_path / "nope")
    (tmp_path / "file.jpg").write_bytes(b"x")
    with pytest.raises(DataError, match="is not a directory"):
        index_dataset(tmp_path / "file.jpg")


def test_no_images(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        index_dataset(tmp_path / "empty")


def test_loose_images_without_class_folders(tmp_path):
    from PIL import Image

    (tmp_path / "flat").mkdir()
    Image.fromarray(crops("coffee", 1, 16)[0]).save(tmp_path / "flat" / "a.jpg")
    with pytest.raises(DataError, match="no class folders"):
        index_dataset(tmp_path / "flat")


def test_one_class(tmp_path):
    root = write_photo_classes(tmp_path / "one", {"only": "chelsea"}, per_class=4)
    with pytest.raises(DataError, match=r"found 1 class \('only'\).*at least 2"):
        index_dataset(root)


def test_empty_class_folder_is_named(photo_dataset):
    root = photo_dataset(num_classes=2, per_class=4)
    (root / "forgotten").mkdir()
    with pytest.raises(DataError, match=r"class folder 'forgotten' .* holds no images"):
        index_dataset(root)


def test_class_too_small_to_split(tmp_path):
    root = write_photo_classes(tmp_path / "s", {"big": "chelsea", "tiny": "coffee"}, per_class=4)
    for p in sorted((root / "tiny").iterdir())[1:]:
        p.unlink()
    shutil.copy(root / "tiny" / "img_000.jpg", root / "tiny" / "second.jpg")
    with pytest.raises(DataError, match=r"'tiny' has 2 image\(s\).*at least 3"):
        index_dataset(root)
