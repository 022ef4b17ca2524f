"""The summary the search prints at its end (driven with rows, no search)."""

from __future__ import annotations

import io

import pytest

from tuner.leaderboard import TrialRow
from tuner.search.driver._summary import print_summary
from tuner.search.plan._plan import Options, build_plan


def _r(trial_id, stage, objective, val_accuracy, n_classes, grouping="none"):
    return TrialRow.from_record({
        "trial_id": trial_id, "stage": stage, "status": "completed", "objective": objective, "val_accuracy": val_accuracy,
        "n_classes": n_classes, "grouping": grouping, "architecture": "mobilenet_v2", "unfrozen_blocks": 18, "lr": 3e-3,
        "optimizer": "adam", "epochs_run": 5, "best_epoch": 5, "setup_seconds": 1.0, "train_seconds": 10.0, "gpus": 0.0,
    })  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "shown"),
    [
        # A grouped trial tops the objective: the best on the 10 own labels is named.
        ([_r("g", "search", 0.98, 0.98, 6, "auto:60%"), _r("p", "probe", 0.97, 0.97, 10)], "trial p (probe), val_accuracy 0.9700"),
        # An ungrouped trial tops the objective but a probe trial did better on the own labels.
        ([_r("s", "search", 0.98, 0.96, 10), _r("p", "probe", 0.97, 0.97, 10)], "trial p (probe), val_accuracy 0.9700"),
        # The top row is the best on the own labels: nothing to add.
        ([_r("s", "search", 0.98, 0.98, 10), _r("p", "probe", 0.97, 0.97, 10)], None),
    ],
)
def test_the_best_model_on_the_datasets_own_labels_is_named_when_it_is_not_the_top_row(tmp_path, rows, shown):
    out = io.StringIO()
    plan = build_plan(Options(space="finetune")).evolve(metric="val_accuracy_common", class_names=tuple(str(i) for i in range(10)))
    print_summary(tmp_path, rows, plan, out)
    lines = [line for line in out.getvalue().splitlines() if "best on all 10 classes" in line]
    assert lines == ([] if shown is None else [f"  best on all 10 classes (no grouping): {shown} at epoch 5"])
