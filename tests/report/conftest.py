"""A real search on real photos with planted confusable classes, shared by report, grouping
and export tests (one short search for the whole session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_photo_classes
from tests.search.conftest import write_space

# Two classes cut from the same photo cannot be told apart: a trained model confuses each
# planted pair with itself and little else.
PLANTED = {
    "astro_a": "astronaut",
    "astro_b": "astronaut",
    "cat_a": "chelsea",
    "cat_b": "chelsea",
    "coffee": "coffee",
    "rocket": "rocket",
}
PAIRS = ({"astro_a", "astro_b"}, {"cat_a", "cat_b"})

PLANTED_SPACE = """
kind: scratch
metric: val_accuracy
architectures: [lenet5]
params:
  lr: {loguniform: [2.0e-3, 8.0e-3]}
  optimizer: {fixed: adam}
  batch_size: {fixed: 32}
  input_size: {fixed: 32}
  augment: {fixed: none}
budget: {num_samples: 2, max_epochs: 8, grace_period: 8, reduction_factor: 2}
"""


@pytest.fixture(scope="session")
def planted_run(ray_address, tmp_path_factory) -> Path:
    """The run folder of a finished 2-trial LeNet-5 search on the planted photo dataset."""
    from tuner.search.driver._driver import run_search
    from tuner.search.plan._plan import Options, build_plan

    root = tmp_path_factory.mktemp("planted")
    data = write_photo_classes(root / "photos", PLANTED, per_class=80, size=40)
    space = write_space(root / "spaces", PLANTED_SPACE)
    plan = build_plan(Options(space=space, data=str(data), name="planted", storage=str(root / "runs")))
    run_dir = root / "runs" / "planted"
    run_search(plan, run_dir)
    return run_dir


@pytest.fixture(scope="session")
def report_of_1000(tmp_path_factory):
    """The report of a synthetic 1000-trial run (built once: the report test checks its HTML,
    the browser test opens it)."""
    from tests.report._synthetic import write_synthetic_run
    from tuner.report import build_report

    root = tmp_path_factory.mktemp("r1000")
    return build_report(write_synthetic_run(root / "run", n_trials=1000), root / "report")
