"""``python -m tuner.data inspect``: the report's content, bad input, and that it stays light."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import write_bad_files, write_photo_classes
from tuner.data import demo_dataset_dir, inspect_dataset


def _run(*args: str, env_cache=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tuner.data", *args], capture_output=True, text=True, timeout=120)


def test_report_on_real_photos_with_every_kind_of_problem(photo_dataset):
    root = photo_dataset(num_classes=3, per_class=10, size=40)
    fates = write_bad_files(root / "class_coffee", size=32)
    (root / "class_chelsea" / "README.txt").write_text("notes")
    shutil.copy(root / "class_astronaut" / "img_000.jpg", root / "class_astronaut" / "copy_of_000.jpg")
    report = inspect_dataset(str(root))
    assert report.layout == "class_folders" and len(report.classes) == 3
    unreadable = {u["file"].split("/")[-1]: u["problem"] for u in report.unreadable}
    assert set(unreadable) == {n for n, fate in fates.items() if fate == "excluded"}
    assert unreadable["zero_byte.jpg"] == "empty file"
    assert unreadable["truncated.jpg"] == "truncated"
    assert unreadable["text_named.jpg"] == "not an image"
    assert report.non_image_files == ["class_chelsea/README.txt"]
    assert {"CMYK", "RGBA", "I;16", "L", "P"} <= set(report.needs_conversion)
    assert report.width["max"] == 40 and report.width["min"] == 32
    across = sum(len(d["files"]) - 1 for d in report.duplicates_across_splits)
    assert across + report.duplicates_within_splits == 1
    assert report.cache_bytes == (report.num_files - len(report.unreadable)) * 40 * 40 * 3


def test_duplicate_across_splits_is_found(tmp_path):
    root = tmp_path / "pre"
    write_photo_classes(root / "train", {"a": "astronaut", "b": "chelsea"}, per_class=5)
    write_photo_classes(root / "val", {"a": "rocket", "b": "coffee"}, per_class=2)
    shutil.copy(root / "train" / "a" / "img_004.jpg", root / "val" / "b" / "leaked.jpg")
    report = inspect_dataset(str(root))
    assert report.duplicates_across_splits == [{"files": ["train/a/img_004.jpg", "val/b/leaked.jpg"], "splits": ["train", "validation"], "classes": ["a", "b"]}]
    assert any("leak" in w for w in report.warnings)


def test_cli_text_and_json_on_demo():
    demo = str(demo_dataset_dir())
    text = _run("inspect", demo)
    assert text.returncode == 0, text.stderr
    assert "layout    class_folders" in text.stdout and "images    1797" in text.stdout
    as_json = _run("inspect", demo, "--json")
    data = json.loads(as_json.stdout)
    assert data["num_files"] == 1797 and len(data["classes"]) == 10
    assert data["modes"] == {"L": 1797}


def test_cli_with_grouping(tmp_path):
    root = write_photo_classes(tmp_path / "d", {"cat": "chelsea", "dog": "coffee", "fish": "rocket"}, per_class=3)
    g = tmp_path / "g.yaml"
    g.write_text("name: pets\ngroups:\n  furry: [cat, dog]\n")
    out = _run("inspect", str(root), "--grouping", str(g))
    assert out.returncode == 0, out.stderr
    assert "grouping  pets: 1 groups, 3 classes -> 2" in out.stdout


def test_inspect_does_not_import_tensorflow_ray_or_matplotlib():
    code = (
        "import sys\n"
        "from tuner.data.__main__ import main\n"
        f"main(['inspect', {str(demo_dataset_dir())!r}])\n"
        "heavy = [m for m in ('tensorflow', 'ray', 'matplotlib', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(
    "setup, message",
    [
        ("missing", "does not exist"),
        ("file", "is not a directory"),
        ("empty", "no images found"),
        ("one_class", "found 1 class"),
        ("empty_class", "class folder 'empty_one'"),
        ("bad_pattern", "not a valid regular expression"),
        ("bad_grouping", "unknown class 'dgo'; did you mean 'dog'"),
        ("val_not_in_train", "class 'zebra' is in validation/ but not in train/"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, setup, message):
    root = tmp_path / "data"
    extra: list[str] = []
    if setup == "file":
        root.write_text("x")
    elif setup == "empty":
        root.mkdir()
    elif setup == "one_class":
        write_photo_classes(root, {"cat": "chelsea"}, per_class=3)
    elif setup == "empty_class":
        write_photo_classes(root, {"cat": "chelsea", "dog": "coffee"}, per_class=3)
        (root / "empty_one").mkdir()
    elif setup == "bad_pattern":
        write_photo_classes(root, {"cat": "chelsea", "dog": "coffee"}, per_class=3)
        extra = ["--class-name-pattern", "(["]
    elif setup == "bad_grouping":
        write_photo_classes(root, {"cat": "chelsea", "dog": "coffee"}, per_class=3)
        (tmp_path / "g.yaml").write_text("name: g\ngroups:\n  pets: [cat, dgo]\n")
        extra = ["--grouping", str(tmp_path / "g.yaml")]
    elif setup == "val_not_in_train":
        write_photo_classes(root / "train", {"cat": "chelsea", "dog": "coffee"}, per_class=3)
        write_photo_classes(root / "validation", {"zebra": "rocket"}, per_class=2)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    out = _run("inspect", str(root), *extra)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert message in lines[0]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before, "nothing is written or lost"


def test_usage_errors_are_one_line_and_exit_2():
    for args in ([], ["inspect"], ["inspect", ".", "--no-such-flag"], ["frobnicate"]):
        out = _run(*args)
        assert out.returncode == 2, args
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
