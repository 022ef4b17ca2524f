"""One trial's training loop (tuner.search._worker.run_training), without Ray."""

from __future__ import annotations

import pytest

from tests.search.test_faults import _demo_config
from tuner.search._worker import evaluate_checkpoint, run_training
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


def test_an_ended_trial_scores_its_best_epoch_on_the_test_split(tmp_path):
    """The final report carries the test scores of the best epoch's weights, the same numbers
    the driver would get by rebuilding that epoch's checkpoint (``evaluate_checkpoint``)."""
    import shutil

    cfg = _demo_config(max_epochs=3, score_test=True)
    kept = {}

    def report(metrics, directory):
        if directory:
            shutil.copytree(directory, tmp_path / str(metrics["epoch"]))
        kept[metrics["epoch"]] = metrics

    last = run_training(cfg, report)
    assert all("test_accuracy" not in kept[e] for e in (1, 2)), "only the final report is scored"
    best = last["best_epoch"]
    assert last["test_epoch"] in {e for e, m in kept.items() if m["val_accuracy"] == kept[best]["val_accuracy"]}
    again = evaluate_checkpoint(cfg, str(tmp_path / str(last["test_epoch"])), "test")
    assert last["test_accuracy"] == pytest.approx(again["test_accuracy"])
    assert 0.0 <= last["test_accuracy"] <= 1.0
    assert "test_accuracy" not in run_training(_demo_config(max_epochs=1), lambda m, d: None), "not asked: not scored"
