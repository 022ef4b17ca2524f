"""Report, grouping suggestion and export on a real search's folder (see conftest.planted_run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.report.conftest import PAIRS
from tuner._run import load_run

pytestmark = pytest.mark.slow


def _cli(module, *args, timeout=300):
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], check=False, capture_output=True, text=True, timeout=timeout)


def test_suggest_recovers_the_planted_confusable_pairs(planted_run, tmp_path):
    run = load_run(planted_run)
    best = run.best_row(with_checkpoint=True)
    confusion = np.load(run.checkpoint(best) / "confusion.npy")
    print(run.class_names, confusion, sep="\n")
    out = tmp_path / "planted.yaml"
    done = _cli("tuner.groupings", "suggest", planted_run, "--classes", 4, "--out", out)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "# mutual confusion rate" in text
    groups = yaml.safe_load(text)["groups"]
    assert {frozenset(m) for m in groups.values()} == {frozenset(p) for p in PAIRS}, text
    assert yaml.safe_load(text)["name"] == "planted"
    printed = _cli("tuner.groupings", "suggest", planted_run, "--classes", 4)
    assert printed.returncode == 0 and yaml.safe_load(printed.stdout)["groups"] == groups


def test_report_of_a_real_run_has_every_figure_it_can_draw(planted_run, tmp_path):
    done = _cli("tuner.report", planted_run, "--out", tmp_path / "r")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "r" / "report.html").read_text()
    for key in ("learning_rate", "learning_curves", "confusion", "compute"):
        assert (tmp_path / "r" / f"{key}.png").is_file() and f"id='fig-{key}'" in html, key
    # Scratch training, one label space, two trials: said, not drawn.
    assert "scratch training has no blocks to unfreeze" in html
    assert "only one label space was searched (no grouping)" in html
    assert "needs at least 4 finished" in html
    assert "astro_a" in html and "report:" in done.stdout


def test_exported_model_reproduces_validation_accuracy_in_a_fresh_process(planted_run, tmp_path):
    from tuner.data import index_dataset

    run = load_run(planted_run)
    best = run.best_row(with_checkpoint=True)
    out = tmp_path / "model"
    done = _cli("tuner.export", planted_run, "--out", out)
    assert done.returncode == 0, done.stderr
    assert f"exported trial {best.trial_id}" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ["labels.json", "model.keras", "preprocessing.json", "trial.json"]
    # The validation split, as files named by their true class (symlinks: nothing copied).
    index = index_dataset(run.plan.data_dir)
    val = tmp_path / "validation"
    val.mkdir()
    for i, (path, label, split) in enumerate(zip(index.files, index.labels, index.splits)):
        if split == "validation":
            (val / f"{index.class_names[label]}__{i}{Path(path).suffix}").symlink_to(Path(index.root) / path)
    csv_file = tmp_path / "pred.csv"
    done = _cli("tuner.predict", out, val, "--top", 2, "--csv", csv_file)
    assert done.returncode == 0, done.stderr
    import pandas as pd

    pred = pd.read_csv(csv_file)
    top1 = pred[pred["rank"] == 1]
    truth = top1["path"].map(lambda p: Path(p).name.split("__")[0])
    accuracy = float((top1["label"] == truth).mean())
    n = len(top1)
    assert n == index.splits.count("validation")
    assert abs(accuracy - float(best.val_accuracy)) <= 1.0 / n + 1e-9, (accuracy, best.val_accuracy)
    assert (pred.groupby("path").size() == 2).all()  # --top 2


def test_export_and_suggest_bad_input_is_one_line(planted_run, tmp_path):
    cases = [
        ("tuner.export", planted_run, "--trial", "nosuch", "--out", tmp_path / "m"),
        ("tuner.export", tmp_path / "missing", "--out", tmp_path / "m"),
        ("tuner.groupings", "suggest", planted_run, "--classes", 1),
        ("tuner.groupings", "suggest", planted_run, "--classes", 6),
        ("tuner.groupings", "suggest", tmp_path, "--classes", 3),
        ("tuner.predict", tmp_path / "no-model", tmp_path),
    ]
    for module, *args in cases:
        done = _cli(module, *args)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "m").exists()
