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


def test_a_top_configuration_trained_again_is_shown_with_its_mean(tmp_path):
    from tuner.leaderboard import rank_rows

    rows = [_r("a", "search", 0.90, 0.90, 10), _r("b", "search", 0.80, 0.80, 10), _r("c", "search", 0.84, 0.84, 10)]
    rows = [r.model_copy(update={"params": {**r.params, "lr": 1e-3}}) if r.trial_id == "c" else r for r in rows]
    out = io.StringIO()
    plan = build_plan(Options(space="finetune")).evolve(metric="val_accuracy_common", class_names=tuple(str(i) for i in range(10)))
    print_summary(tmp_path, rank_rows(rows), plan, out)
    text = out.getvalue()
    assert "(a configuration trained again ranks by its mean)" in text
    assert [line.split()[3:5] for line in text.splitlines() if line.startswith(("  a ", "  b ", "  c "))] == [
        ["0.8500", "x2"],
        ["0.8500", "x2"],
        ["-", "0.8400"],
    ]
    # a and b are one configuration (mean 0.85, its best trial first), ahead of c's single 0.84
    assert text.index("  a ") < text.index("  b ") < text.index("  c ")
