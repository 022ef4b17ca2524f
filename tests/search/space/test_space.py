"""Search spaces: shipped files, every validation error, define-by-run, the exhaustive grid,
and the fairness property of the common label space."""

from __future__ import annotations

import optuna
import pytest

from tuner.errors import ConfigError
from tuner.search.space._grid import grid_points
from tuner.search.space._load import list_spaces, load_space
from tuner.search.space._sampling import DefineByRun
from tuner.zoo import get_spec


def test_shipped_spaces_load():
    assert {"finetune", "scratch", "thesis_grid"} <= set(list_spaces())
    for name in list_spaces():
        space = load_space(name)
        assert space.architectures
    grid = load_space("thesis_grid")
    points = grid_points(grid)
    assert len(points) == 20  # k = 0..9 on both label spaces
    assert {p["unfrozen_blocks"] for p in points} == set(range(10))
    assert {p["grouping"] for p in points} == {"none", "beauty_grouped_a"}
    assert all(p["optimizer"] == "rmsprop" and p["lr"] == 2e-4 and p["batch_size"] == 64 for p in points)
    assert grid.budget.patience == 3


def _write(tmp_path, text):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return str(path)


BASE = "architectures: [mobilenet_v2, resnet50]\n"


@pytest.mark.parametrize(
    "text, message",
    [
        (BASE + "bogus: 1\n", r"unknown key 'bogus'; valid keys here: name, description, kind"),
        (BASE + "params:\n  lr: {loguniform: [0.1, 0.01]}\n", r"params.lr: low <= high must hold, but got low=0.1, high=0.01"),
        (BASE + "params:\n  lr: {loguniform: [0.0, 0.01]}\n", r"a loguniform range needs low > 0, but got low=0.0"),
        (BASE + "params:\n  lrr: {fixed: 0.1}\n", r"unknown parameter 'lrr'; valid parameters: lr,"),
        (BASE + "params:\n  lr: {fixed: 0.1, uniform: [0, 1]}\n", r"give exactly one of"),
        ("architectures: [resnet5]\n", r"unknown architecture 'resnet5'; valid names: resnet50"),
        (BASE + "params:\n  optimizer: {choice: [adam, adagrad]}\n", r"unknown optimizer 'adagrad'; valid: adam, adamw, rmsprop, sgd, sgd_momentum"),
        ("architectures: [inception_v3]\nparams:\n  input_size: {choice: [32, 64]}\n", r"input_size \[32, 64\] is below inception_v3's minimum of 75 px"),
        ("architectures: [vgg16]\nparams:\n  unfrozen_blocks: {int: [0, 9]}\n", r"unfrozen_blocks goes up to 9 but vgg16 has 5 blocks"),
        ("architectures: [lenet5]\n", r"lenet5 has no pretrained backbone to fine-tune"),
        (BASE + "metric: top5\n", r"unknown metric 'top5'; valid metrics: val_accuracy_common"),
        (BASE + "budget: {num_samples: 0}\n", r"budget.num_samples: Input should be greater than or equal to 1"),
        (BASE + "params:\n  grouping: {choice: [none, 'auto:1']}\n", r"'auto:1' is not a valid automatic grouping"),
        (BASE + "params:\n  grouping: {choice: [none, nosuchgrouping]}\n", r"unknown grouping 'nosuchgrouping'; shipped groupings are: beauty_grouped_a"),
        (BASE + "params:\n  augment: {fixed: heavy}\n", r"unknown augmentation 'heavy'; valid: study, light, none"),
        (BASE + "params:\n  lr_schedule: {choice: [constant, step]}\n", r"unknown schedule 'step'; valid: constant, cosine"),
        (BASE + "params: [1, 2\n", r"not valid YAML at line"),
    ],
)
def test_space_errors_name_the_key_the_value_and_the_choices(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_space(_write(tmp_path, text))


def test_unknown_space_name_lists_shipped():
    with pytest.raises(ConfigError, match=r"unknown space 'finetun'; shipped spaces are: finetune"):
        load_space("finetun")


def test_define_by_run_samples_architecture_then_its_ranges():
    space = load_space("finetune")
    fn = DefineByRun(space)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(40):
        trial = study.ask()
        config = fn(trial)
        spec = get_spec(config["architecture"])
        assert 0 <= config["unfrozen_blocks"] <= spec.num_blocks
        assert config["input_size"] == spec.default_input_size
        assert f"unfrozen_blocks.{config['architecture']}" in trial.params  # per-architecture name
        seen.add(config["architecture"])
        study.tell(trial, 0.5)
    assert seen == set(space.architectures)


def test_define_by_run_is_picklable_for_restore():
    import pickle

    fn = pickle.loads(pickle.dumps(DefineByRun(load_space("scratch"))))
    config = fn(optuna.create_study().ask())
    assert config["unfrozen_blocks"] == 0 and config["architecture"] in load_space("scratch").architectures


@pytest.mark.parametrize("random_weights", [(), ("mobilenet_v2",)])
def test_random_weights_are_never_frozen_or_warmed_up(random_weights):
    """Issue 13: with random weights a frozen block is a fixed random projection."""
    space = load_space("finetune").with_demo()
    assert list(space.architectures) == ["mobilenet_v2"]
    sampler = DefineByRun(space, random_weights=random_weights)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = []
    for _ in range(20):
        trial = study.ask()
        out = sampler(trial)
        seen.append(out)
        study.tell(trial, 0.5)
    names = set().union(*(t.params for t in study.trials))
    if random_weights:
        assert all((o["unfrozen_blocks"], o["warmup_epochs"], o["backbone_lr_mult"]) == (18, 0, 1.0) for o in seen)
        assert not names & {"unfrozen_blocks.mobilenet_v2", "warmup_epochs", "backbone_lr_mult"}, names
    else:
        assert {"unfrozen_blocks.mobilenet_v2", "warmup_epochs", "backbone_lr_mult"} <= names
        assert len({o["unfrozen_blocks"] for o in seen}) > 3


def test_every_registered_parameter_is_sampled_and_defaults_when_unmentioned(tmp_path):
    """DefineByRun yields a value for each parameter of the registry (tuner/_params.py)."""
    from tuner._params import PARAM_DEFAULTS, param_names

    space = load_space("finetune")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    values = DefineByRun(space)(study.ask())
    assert set(param_names()) <= set(values)
    assert values["lr_schedule"] in ("constant", "cosine")
    bare = load_space(_write(tmp_path, "architectures: [mobilenet_v2]\n"))
    values = DefineByRun(bare)(optuna.create_study().ask())
    for name in ("lr_schedule", "optimizer", "augment", "dropout"):
        assert values[name] == PARAM_DEFAULTS[name]
