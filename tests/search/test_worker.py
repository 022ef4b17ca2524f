"""One trial's training loop (tuner.search._worker.run_training), without Ray."""

from __future__ import annotations

import pytest

from tests.search.test_faults import _demo_config
from tuner.search._worker import run_training
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
