"""``python -m tuner.search`` on bad input: one line, exit 2, before any trial; --dry-run; --help."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import write_photo_classes
from tuner.errors import ConfigError
from tuner.search.driver._driver import check_resume
from tuner.search.plan._contracts import PLAN_SCHEMA
from tuner.search.plan._plan import Options, build_plan, save_plan
from tuner.search.plan._resources import fit_resources, size_resources


def _env(tmp_path):
    """No ImageNet weights, on any machine: an empty Keras cache, and downloads through a
    proxy that refuses (a closed local port), so the weights check fails as it does offline."""
    keras_home = tmp_path / "keras-home"
    keras_home.mkdir(exist_ok=True)
    closed = "http://127.0.0.1:9"
    return {
        **os.environ,
        "KERAS_HOME": str(keras_home),
        "HTTPS_PROXY": closed,
        "https_proxy": closed,
        "HTTP_PROXY": closed,
        "http_proxy": closed,
        "NO_PROXY": "localhost,127.0.0.1",
        "no_proxy": "localhost,127.0.0.1",
    }


def _run(*args, cwd, env=None):
    env = env or _env(cwd)
    return subprocess.run([sys.executable, "-m", "tuner.search", *args], capture_output=True, text=True, timeout=180, cwd=cwd, env=env)


def test_help_and_dry_run_import_neither_tensorflow_nor_ray(tmp_path):
    code = (
        "import sys, contextlib, io\n"
        "from tuner.search.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    main(['--dry-run', '--storage', {str(tmp_path)!r}])\n"
        "assert 'trial-epochs' in out.getvalue()\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'ray', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=_env(tmp_path))
    assert out.returncode == 0, out.stderr
    assert _run("--help", cwd=tmp_path).returncode == 0


def test_dry_run_prints_space_resources_and_estimate(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    out = _run("--space", "finetune", "--dry-run", "--storage", str(runs), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    plan = build_plan(Options(space="finetune"))
    from tuner.search.plan._plan import estimate

    est = estimate(plan)
    assert "# resolved space\n" + plan.space.to_yaml().rstrip() in text  # the space the search would run, in full
    assert f"{plan.data_dir} (built-in demo): 10 classes" in text
    assert f"{plan.train_images} train / {plan.validation_images} validation / {plan.test_images} test images" in text
    assert est["trial_epochs"] == est["trial_epochs_exhaustive"] == plan.num_samples * plan.max_epochs + plan.probe_samples * plan.probe_epochs
    assert f"trial-epochs: {est['trial_epochs']:g} (every trial to max_epochs; budget.early_stopping: none; of the" in text
    assert "train the leading configuration again with another seed" in text
    assert f"GPU-hours: ~{est['gpu_hours']:g}" in text and "trials at a time" in text
    assert not list(runs.iterdir()), "a dry run writes nothing"


def test_expected_epochs_follow_the_early_stopping_policy():
    """The dry run's estimate: every epoch without early stopping; ASHA's rungs (finetune's 30
    epochs, rungs at 2, 6, 18, eta 3: 2 + 4/3 + 12/9 + 12/27 = 5.11); Hyperband's brackets in
    their shares, between the two."""
    from tuner.search.plan._plan import expected_epochs_per_trial

    assert expected_epochs_per_trial("none", 30, 2, 3) == 30
    assert expected_epochs_per_trial("asha", 30, 2, 3) == pytest.approx(2 + 4 / 3 + 12 / 9 + 12 / 27)
    hyperband = expected_epochs_per_trial("hyperband", 30, 2, 3)
    assert expected_epochs_per_trial("asha", 30, 2, 3) < hyperband < 30 / 2
    assert expected_epochs_per_trial("hyperband", 30, 30, 3) == expected_epochs_per_trial("asha", 30, 40, 3) == 30  # no rung below max


@pytest.mark.parametrize(
    "args, message",
    [
        (["--space", "nosuch"], "unknown space 'nosuch'; shipped spaces are:"),
        (["--data", "/no/such/dir"], "does not exist"),
        (["--gpus-per-trial", "1000", "--dry-run"], "--gpus-per-trial 1000 is more than any node of the cluster has ("),
        (["--weights", "/no/such/weights.h5"], "neither auto, imagenet, none nor an existing weights file"),
        (["--resume", "/no/such/run"], "--resume '/no/such/run' does not exist"),
        (["--num-samples", "0"], "--num-samples must be >= 1, but got 0"),
        (["--max-epochs", "x"], "invalid int value"),
        (["--space", "scratch", "--weights", "imagenet"], "does not apply to a scratch space"),
        (["--weights", "imagenet"], "--weights imagenet: ImageNet weights for mobilenet_v2 could not be had"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    storage = [] if "--resume" in args else ["--storage", str(tmp_path / "runs")]  # --resume refuses --storage
    out = _run(*args, *storage, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert message in lines[0]
    assert not (tmp_path / "runs").exists()


def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "notarun").mkdir()
    out = _run("--resume", str(tmp_path / "notarun"), cwd=tmp_path)
    assert out.returncode == 2 and "is not a run directory of tuner" in out.stderr


def test_named_grouping_that_does_not_fit_the_data(tmp_path):
    data = write_photo_classes(tmp_path / "d", {"cat": "chelsea", "dog": "coffee", "fish": "rocket"}, per_class=4)
    space = tmp_path / "s.yaml"
    space.write_text("architectures: [mobilenet_v2]\nparams:\n  grouping: {choice: [none, beauty_grouped_a]}\n")
    with pytest.raises(ConfigError, match=r"params.grouping 'beauty_grouped_a' does not fit the dataset: .*unknown class"):
        build_plan(Options(space=str(space), data=str(data)))


def test_resources_are_sized_so_trials_never_deadlock():
    # fit_resources(gpus, cpus, max_concurrent, num_samples, cluster cpus, cluster gpus, node max gpus, node max cpus)
    assert fit_resources(None, None, None, None, 2, 0, 0, 2) == (0.0, 1.0, 2)
    assert fit_resources(None, None, None, None, 64, 16, 8, 32) == (1.0, 4.0, 16)  # two 8-GPU nodes, 32 CPUs each
    assert fit_resources(4, None, 100, None, 64, 16, 8, 32)[2] == 4
    with pytest.raises(ConfigError, match="more than any node"):
        fit_resources(None, 3, None, None, 2, 0, 0, 2)
    # On CPUs, a search that runs one trial at a time gives it every core.
    assert fit_resources(None, None, None, 1, 2, 0, 0, 2)[1:] == (2.0, 1)
    assert fit_resources(None, None, 1, 8, 2, 0, 0, 2)[1:] == (2.0, 1)


def test_size_resources_returns_a_new_plan():
    plan = build_plan(Options(space="scratch"))
    sized = size_resources(plan, 2, 0, 0, 2)
    assert plan.cpus_per_trial is None, "the plan is frozen: sizing makes a new one"
    assert (sized.gpus_per_trial, sized.cluster.cpus) == (0.0, 2)


def _saved_run(tmp_path, data, space):
    plan = build_plan(Options(space=str(space), data=str(data), name="r", storage=str(tmp_path)))
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    save_plan(plan, run_dir)
    return run_dir


def test_resume_refuses_a_changed_dataset_or_space(tmp_path):
    data = write_photo_classes(tmp_path / "d", {"cat": "chelsea", "dog": "coffee"}, per_class=5)
    space = tmp_path / "s.yaml"
    space.write_text("architectures: [mobilenet_v2]\nbudget: {num_samples: 3}\n")
    run_dir = _saved_run(tmp_path, data, space)
    assert check_resume(run_dir, None, None).name == "r"
    assert check_resume(run_dir, str(space), None).name == "r", "the same --space again is fine"
    space.write_text("architectures: [mobilenet_v2, resnet50]\nbudget: {num_samples: 3}\n")
    with pytest.raises(ConfigError, match="the space .* changed since the run started"):
        check_resume(run_dir, None, None)
    space.write_text("architectures: [mobilenet_v2]\nbudget: {num_samples: 3}\n")
    (data / "cat" / "img_000.jpg").rename(data / "cat" / "moved.jpg")
    with pytest.raises(ConfigError, match="the dataset .* changed since the run started"):
        check_resume(run_dir, None, None)
    with pytest.raises(ConfigError, match="this run searched"):
        check_resume(run_dir, None, str(tmp_path))
    with pytest.raises(ConfigError, match="this run searched the space .*, not scratch; drop --space"):
        check_resume(run_dir, "scratch", None)


@pytest.mark.parametrize("max_epochs", [None, 3])
def test_the_probe_may_train_longer_than_search_trials_unless_max_epochs_caps_it(max_epochs):
    """The demo's probe models train longer than its trials: they must learn before their
    confusions are clustered. --max-epochs caps both."""
    plan = build_plan(Options(space="finetune", max_epochs=max_epochs))
    from tuner.search.space import load_space

    demo = load_space("finetune").with_demo().budget  # the space file's own, before --max-epochs
    assert demo.probe_epochs > demo.max_epochs, "the demo's probe trains longer than its search trials"
    assert plan.max_epochs == (max_epochs or demo.max_epochs)
    assert plan.probe_epochs == min(demo.probe_epochs, max_epochs or demo.probe_epochs)


def test_mlflow_uri_without_mlflow_installed_is_one_line(monkeypatch):
    import importlib.util

    from tuner.search.__main__ import _mlflow_uri

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(ConfigError, match=r"MLflow tracking to sqlite:///m.db needs MLflow: pip install 'tuner\[mlflow\]'"):
        _mlflow_uri("sqlite:///m.db")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert _mlflow_uri(None) is None


def test_resume_refuses_a_run_json_of_another_schema_in_one_line(tmp_path):
    import json

    data = write_photo_classes(tmp_path / "d", {"cat": "chelsea", "dog": "coffee"}, per_class=5)
    space = tmp_path / "s.yaml"
    space.write_text("architectures: [mobilenet_v2]\nbudget: {num_samples: 3}\n")
    run_dir = _saved_run(tmp_path, data, space)
    stored = json.loads((run_dir / "run.json").read_text())
    assert stored["schema_version"] == PLAN_SCHEMA
    old = {k: v for k, v in stored.items() if k != "schema_version"}  # a run of an earlier tuner
    (run_dir / "run.json").write_text(json.dumps({**old, "tuner_version": "0.3.0"}))
    with pytest.raises(ConfigError, match=r"written by tuner 0.3.0 \(plan schema 0\); .* start a new run") as err:
        check_resume(run_dir, None, None)
    assert "\n" not in str(err.value)
    (run_dir / "run.json").write_text(json.dumps({**stored, "seed": "many"}))
    with pytest.raises(ConfigError, match=r"is damaged \(seed: ") as err:
        check_resume(run_dir, None, None)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("form", [["--space", "scratch"], ["--space=scratch"]])
def test_resume_with_another_space_is_refused_however_the_flag_is_written(tmp_path, form):
    """``--space=OTHER`` used to skip the check that ``--space OTHER`` made (an exact-token
    test on argv)."""
    data = write_photo_classes(tmp_path / "d", {"cat": "chelsea", "dog": "coffee"}, per_class=5)
    space = tmp_path / "s.yaml"
    space.write_text("architectures: [mobilenet_v2]\nbudget: {num_samples: 3}\n")
    run_dir = _saved_run(tmp_path, data, space)
    out = _run("--resume", str(run_dir), *form, cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "this run searched the space" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("name", ["lr", "backbone_lr_mult"])
def test_a_learning_rate_or_multiplier_of_zero_or_less_is_refused(tmp_path, name):
    """``backbone_lr_mult <= 0`` used to pass (the check looked at ``lr`` only)."""
    space = tmp_path / "s.yaml"
    space.write_text(f"architectures: [mobilenet_v2]\nparams:\n  {name}: {{uniform: [-1.0, 2.0]}}\n")
    with pytest.raises(ConfigError, match=rf"params.{name}: -1 is too small; {name} takes a number in \(0, "):
        build_plan(Options(space=str(space)))


def test_the_plan_budget_has_one_copy(tmp_path):
    """``Plan`` used to copy the budget out of ``Plan.space``; the probe stage changed one copy.
    Now the plan reads its space's budget, and a stage's plan changes the space."""
    space = tmp_path / "s.yaml"
    space.write_text("architectures: [mobilenet_v2]\nbudget: {num_samples: 3, max_epochs: 4, probe_epochs: 6, grace_period: 9}\n")
    plan = build_plan(Options(space=str(space), max_epochs=3))
    assert plan.max_epochs == plan.space.budget.max_epochs == 3
    assert plan.probe_epochs == plan.space.budget.probe_epochs == 3  # --max-epochs caps the probe too
    assert plan.grace_period == 3  # never past the last epoch
    stage = plan.evolve(space=plan.space.with_budget(max_epochs=2))
    assert stage.max_epochs == stage.space.budget.max_epochs == 2
    assert "max_epochs" not in plan.model_dump()  # one copy, in the space
