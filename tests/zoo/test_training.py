"""Weights policy, two-phase fine-tuning's learning-rate groups, mixed precision, MirroredStrategy."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tuner.errors import ConfigError
from tuner.zoo import build_model, compile_model, resolve_weights, set_unfrozen_blocks


def _batch(n=8, size=12, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), rng.integers(0, classes, n)


def test_weights_from_a_file_the_test_writes(tmp_path):
    donor = build_model("mobilenet_v2", 3, input_size=32)
    path = tmp_path / "backbone.weights.h5"
    donor.backbone.save_weights(path)
    built = build_model("mobilenet_v2", 3, input_size=32, weights=str(path))
    assert built.weights == str(path)
    for a, b in zip(donor.backbone.weights, built.backbone.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_weights_file_of_another_architecture_is_a_config_error(tmp_path):
    donor = build_model("vgg16", 3, input_size=32)
    path = tmp_path / "vgg.weights.h5"
    donor.backbone.save_weights(path)
    with pytest.raises(ConfigError, match=r"could not load weights file .* into mobilenet_v2's backbone"):
        build_model("mobilenet_v2", 3, input_size=32, weights=str(path))


def test_weights_policy_errors(tmp_path):
    with pytest.raises(ConfigError, match="neither auto, imagenet, none nor an existing weights file"):
        resolve_weights("vgg16", str(tmp_path / "missing.h5"))
    with pytest.raises(ConfigError, match="lenet5 has no ImageNet weights"):
        resolve_weights("lenet5", "imagenet", mode="scratch")
    assert resolve_weights("lenet5", "auto", mode="scratch") == "none"


_CACHED_WEIGHTS_SCRIPT = textwrap.dedent(
    """
    import logging, os, sys
    import h5py, keras, numpy as np
    from keras.src.legacy.saving import legacy_h5_format
    from tuner.zoo import build_model, resolve_weights

    logging.basicConfig(level=logging.WARNING)
    mode = sys.argv[1]
    if mode == "cached":
        # Stand-in ImageNet file with the exact name Keras looks for in its cache.
        donor = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(96, 96, 3))
        folder = os.path.join(os.environ["KERAS_HOME"], "models")
        os.makedirs(folder, exist_ok=True)
        with h5py.File(os.path.join(folder, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"), "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, donor)
        built = build_model("mobilenet_v2", 3, input_size=96, weights="auto")
        same = all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(donor.weights, built.backbone.weights))
        print(built.weights, same)
    elif mode == "auto":
        print(build_model("mobilenet_v2", 3, input_size=96, weights="auto").weights)
    else:
        try:
            resolve_weights("mobilenet_v2", "imagenet", 96)
        except Exception as exc:
            print(type(exc).__name__, exc)
    """
)


def _run_weights_script(tmp_path, mode):
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "keras"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", _CACHED_WEIGHTS_SCRIPT, mode], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return out


def test_auto_uses_imagenet_weights_found_in_the_keras_cache(tmp_path):
    assert _run_weights_script(tmp_path, "cached").stdout.strip().splitlines()[-1] == "imagenet True"


def test_auto_without_weights_warns_once_and_initialises_randomly(tmp_path):
    out = _run_weights_script(tmp_path, "auto")
    assert out.stdout.strip().splitlines()[-1] == "random"
    warnings = [line for line in out.stderr.splitlines() if "ImageNet weights for mobilenet_v2 could not be had" in line]
    assert len(warnings) == 1


def test_imagenet_without_weights_fails_before_training(tmp_path):
    out = _run_weights_script(tmp_path, "imagenet")
    assert out.stdout.strip().splitlines()[-1].startswith("ConfigError --weights imagenet: ImageNet weights for mobilenet_v2 could not be had")


@pytest.mark.parametrize("mult, backbone_moves", [(0.0, False), (1.0, True), (0.1, True)])
def test_backbone_learning_rate_multiplier(mult, backbone_moves):
    built = build_model("vgg16", 3, input_size=32, source_size=12, unfrozen_blocks=1, dense_units=8)
    compile_model(built, "sgd", 0.05, backbone_lr_mult=mult)
    conv = built.backbone.get_layer("block5_conv3")
    before_backbone = np.asarray(conv.kernel).copy()
    before_head = np.asarray(built.model.get_layer("head_dense").kernel).copy()
    x, y = _batch()
    built.model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    delta_backbone = np.abs(np.asarray(conv.kernel) - before_backbone).max()
    assert np.abs(np.asarray(built.model.get_layer("head_dense").kernel) - before_head).max() > 0
    assert (delta_backbone > 0) == backbone_moves
    frozen = built.backbone.get_layer("block4_conv3")
    assert not frozen.trainable


def test_two_phase_warmup_then_unfreeze():
    built = build_model("resnet50", 3, input_size=32, source_size=12, unfrozen_blocks=0, dense_units=8)
    compile_model(built, "adam", 1e-3)
    x, y = _batch()
    built.model.fit(x, y, epochs=1, verbose=0)
    head_only = built.param_counts()[0]
    set_unfrozen_blocks(built, 2)
    compile_model(built, "adam", 1e-3, backbone_lr_mult=0.1)
    built.model.fit(x, y, epochs=1, verbose=0)
    assert built.param_counts()[0] > head_only


def test_batch_norm_stays_in_inference_mode_when_unfrozen(tmp_path):
    donor = build_model("resnet50", 3, input_size=32)
    path = tmp_path / "pretrained.weights.h5"
    donor.backbone.save_weights(path)
    built = build_model("resnet50", 3, input_size=32, source_size=12, unfrozen_blocks=16, dense_units=8, weights=str(path))
    compile_model(built, "sgd", 1e-9)
    bn = built.backbone.get_layer("conv5_block3_3_bn")
    before = np.asarray(bn.moving_mean).copy()
    x, y = _batch()
    built.model.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(np.asarray(bn.moving_mean), before)


def test_random_backbone_trains_its_batch_norm():
    built = build_model("resnet50", 3, input_size=32, source_size=12, unfrozen_blocks=16, dense_units=8)
    compile_model(built, "sgd", 1e-3)
    bn = built.backbone.get_layer("conv5_block3_3_bn")
    before = np.asarray(bn.moving_mean).copy()
    x, y = _batch()
    built.model.fit(x, y, epochs=1, verbose=0)
    assert np.abs(np.asarray(bn.moving_mean) - before).max() > 0


_DEVICE_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from tuner.zoo import build_model, compile_model, setup_devices

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (32, 16, 16, 3), dtype=np.uint8)
    y = rng.integers(0, 4, 32)

    def train(devices, precision):
        setup = setup_devices(mixed_precision=precision, logical_devices=devices)
        keras.utils.set_random_seed(1)
        with setup.strategy.scope():
            # No dropout (masks differ per replica) and a frozen backbone: trainable batch norm
            # normalises over each replica's half batch, which legitimately differs.
            extra = {"dropout": 0.0} if sys.argv[2] == "finetune" else {}
            built = build_model(sys.argv[1], 4, mode=sys.argv[2], input_size=int(sys.argv[3]), source_size=16, unfrozen_blocks=0, **extra)
            compile_model(built, "sgd", 0.01)
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
        hist = built.model.fit(ds, epochs=2, verbose=0)
        out = built.model.predict(x[:4], verbose=0)
        return setup, [np.asarray(w, dtype=np.float32) for w in built.model.weights], hist.history["loss"], out

    one = train(None, "off")
    two = train(["/cpu:0", "/cpu:1"], "off")
    assert two[0].replicas == 2, two[0]
    diff = max(float(np.abs(a - b).max()) for a, b in zip(one[1], two[1]))
    print("mirrored_max_weight_diff", diff)
    fp16 = train(None, "on")
    print("fp16_policy", keras.mixed_precision.global_policy().name, "output", fp16[3].dtype, "finite", bool(np.isfinite(fp16[2]).all()))
    """
)


@pytest.mark.parametrize("name, mode, size", [("lenet5", "scratch", 32), ("mobilenet_v2", "finetune", 32)])
def test_mirrored_strategy_on_two_logical_devices_matches_one_and_mixed_precision_trains(name, mode, size):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", _DEVICE_SCRIPT, name, mode, str(size)], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    values = dict(line.split(" ", 1) for line in out.stdout.strip().splitlines())
    assert float(values["mirrored_max_weight_diff"]) < 1e-4
    assert values["fp16_policy"] == "mixed_float16 output float32 finite True"


def test_the_weights_policy_and_its_messages_have_one_owner():
    """build_plan, the search's weights check and the zoo all go through tuner.zoo._build's
    check_weights_policy and imagenet_unavailable (one rule, one wording)."""
    import inspect

    from tuner.search.plan import _plan, _weights
    from tuner.zoo import _build

    assert "check_weights_policy" in inspect.getsource(_plan.build_plan)
    assert "imagenet_unavailable" in inspect.getsource(_weights.resolve_weights)
    assert "neither auto, imagenet" not in inspect.getsource(_plan) + inspect.getsource(_weights)
    assert str(_build.imagenet_unavailable("resnet50", "offline")).startswith("--weights imagenet: ImageNet weights for resnet50 could not be had (offline)")
