"""Learning-rate schedules (tuner.zoo.scheduled_lr), parametrized over LR_SCHEDULES."""

from __future__ import annotations

import pytest

from tuner.errors import ConfigError
from tuner.zoo import LR_SCHEDULES, scheduled_lr


@pytest.mark.parametrize("schedule", LR_SCHEDULES)
def test_lr_schedules_start_at_lr_and_never_rise(schedule):
    rates = [scheduled_lr(schedule, 1e-3, epoch, 6) for epoch in range(6)]
    assert rates[0] == pytest.approx(1e-3)
    assert all(b <= a for a, b in zip(rates, rates[1:]))
    if schedule == "cosine":
        assert rates[3] == pytest.approx(0.5e-3) and 0 < rates[-1] < 0.1e-3


def test_unknown_lr_schedule_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown lr_schedule 'step'; valid: constant, cosine"):
        scheduled_lr("step", 1e-3, 0, 6)
