"""Groupings only from a model that learned (issue 13): the rule, the search, the CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.report._synthetic import write_synthetic_run
from tuner.groupings import learned_threshold, why_not_learned


def _chance(n: int = 10, per_class: int = 18, seed: int = 0) -> np.ndarray:
    """What a model that learned nothing predicts: one class for every image, or noise."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.multinomial(per_class, [1 / n] * n) for _ in range(n)])


def _learned(n: int = 10, per_class: int = 18) -> np.ndarray:
    c = np.full((n, n), 0)
    np.fill_diagonal(c, per_class - 4)
    c[np.arange(n), (np.arange(n) + 1) % n] = 4
    return c


def test_the_rule():
    always_zero = np.zeros((10, 10), dtype=int)
    always_zero[:, 0] = 18
    for confusion in (_chance(), _chance(seed=1), always_zero):
        why = why_not_learned(confusion)
        assert why and "too close to chance" in why
    assert why_not_learned(_learned()) is None
    assert learned_threshold(10) == pytest.approx(0.3) and learned_threshold(3) == pytest.approx(2 / 3)
    # Just under 3x chance on 10 classes is refused however many images agree.
    c = np.zeros((10, 10), dtype=int)
    np.fill_diagonal(c, 29)
    c[np.arange(10), (np.arange(10) + 1) % 10] = 71  # balanced accuracy 0.29
    assert why_not_learned(c) is not None


@pytest.mark.parametrize("learned", [True, False])
def test_auto_groupings_come_only_from_a_probe_that_learned(tmp_path, learned, capsys):
    from tuner.search.driver._stage_groupings import resolve_auto_groupings
    from tuner.search.plan._plan import Options, build_plan

    source = write_synthetic_run(tmp_path / "probe", n_trials=40, groupings=False)
    if not learned:
        (checkpoint,) = source.glob("train/*/checkpoint_*")
        np.save(checkpoint / "confusion.npy", _chance())
    from tuner._run import load_run

    classes = load_run(source).class_names
    plan = build_plan(Options(space="finetune")).evolve(auto_groupings={"auto:6": 6}, class_names=tuple(classes), grouping_files={})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    plan = resolve_auto_groupings(run_dir, plan, source)
    if learned:
        assert set(plan.grouping_files) == {"auto:6"} and not plan.dropped_groupings
    else:
        assert plan.grouping_files == {} and plan.dropped_groupings == ("auto:6",)
        err = capsys.readouterr().err
        assert "auto:6 dropped" in err and "too close to chance" in err and len(err.strip().splitlines()) == 1


def test_suggest_refuses_a_model_at_chance(tmp_path):
    run = write_synthetic_run(tmp_path / "run", n_trials=40, groupings=False)
    (checkpoint,) = run.glob("train/*/checkpoint_*")
    np.save(checkpoint / "confusion.npy", _chance())
    done = subprocess.run([sys.executable, "-m", "tuner.groupings", "suggest", str(run), "--classes", "5"], capture_output=True, text=True)
    assert done.returncode == 2 and "too close to chance" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
