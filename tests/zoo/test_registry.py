"""The registry, parametrized over list_models(): a new model is tested without editing tests."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tuner.errors import ConfigError
from tuner.zoo import build_model, get_spec, list_models, set_unfrozen_blocks

ALL = list_models()
PRETRAINED = list_models(pretrained=True)


def test_registry_contents():
    # The study's architectures are registered; every pretrained one has a backbone with blocks.
    assert {"lenet5", "alexnet", "vgg16", "inception_v1", "inception_v3", "resnet50", "simplenet"} <= set(ALL)
    assert {"inception_v3", "resnet50", "vgg16"} <= set(PRETRAINED)
    for name in ALL:
        spec = get_spec(name)
        assert (name in PRETRAINED) == spec.pretrained
        if spec.pretrained:
            assert spec.backbone is not None and len(spec.block_boundaries) == spec.num_blocks > 0
    assert get_spec("inception_v3").num_blocks == 11
    assert get_spec("resnet50").num_blocks == 16
    assert get_spec("vgg16").num_blocks == 5


def test_unknown_name_lists_valid_names_closest_first():
    with pytest.raises(ConfigError) as info:
        get_spec("inception3")
    message = str(info.value)
    assert message.startswith("unknown architecture 'inception3'; valid names: inception_v3, inception_v1")
    assert all(name in message for name in ALL)


def test_listing_and_specs_do_not_import_tensorflow():
    code = (
        "import sys, tuner.zoo as z\n"
        "z.list_models(); [z.get_spec(n) for n in z.list_models()]\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("name", ALL)
def test_scratch_builds_at_minimum_input(name):
    spec = get_spec(name)
    built = build_model(name, 5, mode="scratch", input_size=spec.min_input_size, source_size=16)
    x = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    outputs = built.model.predict(x, verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    assert len(outputs) == built.num_outputs == 1 + len(spec.aux_loss_weights)
    for out in outputs:
        assert out.shape == (2, 5) and out.dtype == np.float32
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-4)
    trainable, total = built.param_counts()
    assert trainable > 0 and total >= trainable
    assert built.weights == "random"


@pytest.mark.parametrize("name", ALL)
def test_below_minimum_input_is_a_config_error(name):
    spec = get_spec(name)
    with pytest.raises(ConfigError, match=rf"below {name}'s minimum of {spec.min_input_size} px"):
        build_model(name, 5, mode="scratch", input_size=spec.min_input_size - 1)


@pytest.mark.parametrize("name", PRETRAINED)
def test_finetune_blocks_by_name_and_trainable_layers_for_every_k(name):
    spec = get_spec(name)
    built = build_model(name, 4, input_size=spec.min_input_size, source_size=12, dropout=0.3, dense_units=16)
    built.weights = "pretend-pretrained"  # the batch-norm rule for pretrained backbones
    backbone = built.backbone
    names = [layer.name for layer in backbone.layers]
    positions = [names.index(b) for b in spec.block_boundaries]  # every boundary exists by name
    assert positions == sorted(positions) and len(set(positions)) == spec.num_blocks
    x = np.random.default_rng(0).integers(0, 256, (2, 12, 12, 3), dtype=np.uint8)
    assert built.model.predict(x, verbose=0).shape == (2, 4)
    import keras

    bn = [i for i, layer in enumerate(backbone.layers) if isinstance(layer, keras.layers.BatchNormalization)]
    weighted = [i for i, layer in enumerate(backbone.layers) if layer.weights and i not in bn]
    previous = -1
    for k in range(spec.num_blocks + 1):
        set_unfrozen_blocks(built, k)
        trainable = [i for i in weighted if backbone.layers[i].trainable]
        if k == 0:
            assert trainable == []
        elif k == spec.num_blocks:
            assert trainable == weighted
        else:
            boundary = positions[spec.num_blocks - k - 1]
            assert trainable == [i for i in weighted if i > boundary]
        assert len(trainable) > previous or k == 0
        previous = len(trainable)
        assert not any(backbone.layers[i].trainable for i in bn), "batch norm stays frozen (inference mode)"
    # The head is always trainable; it is the only trainable part at k = 0.
    set_unfrozen_blocks(built, 0)
    assert {w.path.split("/")[0] for w in built.model.trainable_weights} == {"head_dense", "predictions"}


@pytest.mark.parametrize("name, k, expected", [("vgg16", 1, 3), ("vgg16", 2, 6), ("resnet50", 1, 3), ("inception_v3", 1, 9), ("inception_v3", 11, 94)])
def test_known_trainable_layer_counts(name, k, expected):
    spec = get_spec(name)
    built = build_model(name, 3, input_size=spec.min_input_size)
    built.weights = "pretend-pretrained"
    set_unfrozen_blocks(built, k)
    assert sum(1 for layer in built.backbone.layers if layer.weights and layer.trainable) == expected


def test_inception_v3_blocks_match_the_study():
    """The study unfroze InceptionV3 from Keras-2 layer indices 280/249/229/197/165/133 for
    k = 1..6; found by name, the first trainable layer lands on exactly those positions."""
    built = build_model("inception_v3", 3, input_size=75)
    first = []
    for k in range(1, 7):
        set_unfrozen_blocks(built, k)
        first.append(next(i for i, layer in enumerate(built.backbone.layers) if layer.trainable))
    assert first == [280, 249, 229, 197, 165, 133]


@pytest.mark.parametrize(
    "name, shape, classes, expected",
    [
        ("lenet5", (32, 32, 1), 10, 61_706),
        ("alexnet", (227, 227, 3), 1000, 62_383_848),
        ("vgg16", (224, 224, 3), 1000, 138_357_544),
        ("inception_v1", (224, 224, 3), 10, 10_334_030),
    ],
)
def test_reference_parameter_counts(name, shape, classes, expected):
    assert get_spec(name).scratch(shape, classes).count_params() == expected


def test_unfrozen_blocks_out_of_range():
    with pytest.raises(ConfigError, match=r"unfrozen_blocks for vgg16 must be in 0..5, but got 6"):
        build_model("vgg16", 3, input_size=32, unfrozen_blocks=6)


def test_finetune_of_a_scratch_only_model_is_refused():
    with pytest.raises(ConfigError, match="lenet5 has no pretrained backbone"):
        build_model("lenet5", 3)
