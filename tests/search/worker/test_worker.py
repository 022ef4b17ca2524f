"""One trial's training loop (tuner.search.worker._worker.run_training), without Ray."""

from __future__ import annotations

import pytest

from tests.search.test_faults import _demo_config
from tuner.search.worker._worker import evaluate_checkpoint, run_training
from tuner.zoo import LR_SCHEDULES, scheduled_lr

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("schedule", LR_SCHEDULES)
def test_each_epoch_trains_at_its_scheduled_learning_rate(schedule):
    reports = []
    run_training(_demo_config(lr=0.05, max_epochs=3, lr_schedule=schedule), lambda m, d: reports.append(m))
    assert [m["epoch"] for m in reports] == [1, 2, 3]
    used = [m["learning_rate"] for m in reports]
    assert used == pytest.approx([scheduled_lr(schedule, 0.05, e, 3) for e in range(3)], rel=1e-5)
    if schedule == "cosine":
        assert used[0] > used[1] > used[2]


def test_each_new_best_epoch_is_scored_on_the_test_split(tmp_path):
    """Best epochs (ties included) report test scores, the same numbers the driver would get
    by rebuilding that epoch's checkpoint (``evaluate_checkpoint``); other epochs none."""
    import shutil

    cfg = _demo_config(max_epochs=3, score_test="best")
    kept = {}

    def report(metrics, directory):
        if directory:
            shutil.copytree(directory, tmp_path / str(metrics["epoch"]))
        kept[metrics["epoch"]] = metrics

    run_training(cfg, report)
    running_best = None
    for epoch, m in sorted(kept.items()):
        new_best = running_best is None or m["val_accuracy"] >= running_best
        running_best = m["val_accuracy"] if new_best else running_best
        assert ("test_accuracy" in m) == new_best, f"epoch {epoch}"
    scored = max(e for e, m in kept.items() if "test_accuracy" in m)
    again = evaluate_checkpoint(cfg, str(tmp_path / str(scored)), "test")
    assert kept[scored]["test_accuracy"] == pytest.approx(again["test_accuracy"])
    assert 0.0 <= kept[scored]["test_accuracy"] <= 1.0
    assert "test_accuracy" not in run_training(_demo_config(max_epochs=1), lambda m, d: None), "not asked: not scored"
