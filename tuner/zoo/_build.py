"""Building a trainable model from a spec: input layer, backbone or scratch net, the study's
head, block unfreezing, per-group learning rates, weights policy and mixed precision.

TensorFlow/Keras are imported when a function here runs, not when ``tuner.zoo`` is imported.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from tuner._params import PARAM_DEFAULTS
from tuner.errors import ConfigError
from tuner.zoo._registry import ModelSpec, get_spec

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = [
    "build_model_for_trial",
    "BuiltModel",
    "build_model",
    "resolve_weights",
    "set_unfrozen_blocks",
]

_log = logging.getLogger("tuner.zoo")

Mode = Literal["finetune", "scratch"]


@dataclass
class BuiltModel:
    """A model ready to compile, and what was used to build it.

    Attributes:
        model: Takes uint8 images ``(B, S, S, 3)`` at the source size ``S``; outputs class
            probabilities (float32), plus auxiliary outputs for Inception v1.
        spec: The architecture's spec.
        mode: ``finetune`` (backbone + the study's head) or ``scratch`` (the reference net).
        backbone: The backbone inside ``model`` (finetune mode), else ``None``.
        weights: The weights actually used: ``"imagenet"``, ``"random"`` or a file path.
        input_size: The network's input size (images are resized to it inside the model).
        num_classes: Output classes.
    """

    model: keras.Model
    spec: ModelSpec
    mode: Mode
    backbone: keras.Model | None
    weights: str
    input_size: int
    num_classes: int

    @property
    def num_outputs(self) -> int:
        return 1 + len(self.spec.aux_loss_weights) if self.mode == "scratch" else 1

    def history_key(self, metric: str) -> str:
        """The Keras log key of ``metric`` (``accuracy``, ``val_accuracy``...) for the main output.

        With auxiliary outputs Keras prefixes per-output metrics with the output's name; the
        total ``loss`` / ``val_loss`` keep their names.
        """
        if self.num_outputs == 1 or metric in ("loss", "val_loss"):
            return metric
        prefix = "val_" if metric.startswith("val_") else ""
        return f"{prefix}predictions_{metric[len(prefix) :]}"

    def param_counts(self) -> tuple[int, int]:
        """``(trainable, total)`` parameter counts."""
        import numpy as np

        trainable = sum(int(np.prod(w.shape)) for w in self.model.trainable_weights)
        total = sum(int(np.prod(w.shape)) for w in self.model.weights)
        return trainable, total


def _check_input_size(spec: ModelSpec, input_size: int) -> None:
    if input_size < spec.min_input_size:
        raise ConfigError(f"input size {input_size} is below {spec.name}'s minimum of {spec.min_input_size} px; use at least {spec.min_input_size}")


@functools.cache
def _imagenet_available(name: str, input_size: int) -> str | None:
    """``None`` when ImageNet weights load for this backbone, else why not (one line)."""
    spec = get_spec(name)
    try:
        spec.backbone((input_size, input_size, 3), "imagenet")  # type: ignore[misc]
    except Exception as exc:  # noqa: BLE001 - any failure to fetch or load means "not available"
        return " ".join(str(exc).split())[:200] or type(exc).__name__
    return None


def check_weights_policy(policy: str) -> str:
    """``--weights``: ``auto``, ``imagenet``, ``none`` or an existing weights file (expanded).

    Raises:
        ConfigError: anything else.
    """
    if policy in ("auto", "imagenet", "none"):
        return policy
    from tuner._io import user_path

    path = user_path(policy, "--weights")
    if not path.is_file():
        raise ConfigError(
            f"--weights {policy!r} is neither auto, imagenet, none nor an existing weights file; "
            f"give one of those or the path of a file written by model.save_weights()"
        )
    return str(path)


def imagenet_unavailable(name: str, why: str) -> ConfigError:
    """The one message for ``--weights imagenet`` when the weights cannot be had."""
    keras_home = os.environ.get("KERAS_HOME", "~/.keras")
    return ConfigError(
        f"--weights imagenet: ImageNet weights for {name} could not be had ({why[:160]}); put them in "
        f"{keras_home}/models or use --weights auto (falls back to random) or none"
    )


def resolve_weights(name: str, policy: str, input_size: int | None = None, mode: Mode = "finetune") -> str:
    """Turn a ``--weights`` policy into what a trial will use: ``imagenet``, ``none`` or a path.

    ``auto`` uses ImageNet weights when they are in the Keras cache or can be downloaded,
    else warns once and initialises randomly; ``imagenet`` fails when they can't be had.

    Raises:
        ConfigError: ``imagenet`` for an architecture without them, or when they can't be
            had; a path that does not exist; an unknown policy.
    """
    spec = get_spec(name)
    size = input_size or spec.default_input_size
    if policy == "none":
        return "none"
    if policy in ("auto", "imagenet"):
        if mode == "scratch" or not spec.pretrained:
            if policy == "imagenet":
                raise ConfigError(f"--weights imagenet: {name} has no ImageNet weights (pretrained: {', '.join(_pretrained_names())}); use --weights none")
            return "none"
        why = _imagenet_available(name, size)
        if why is None:
            return "imagenet"
        if policy == "imagenet":
            raise imagenet_unavailable(name, why)
        _log.warning("ImageNet weights for %s could not be had (%s); initialising randomly", name, why)
        return "none"
    return check_weights_policy(policy)


def _pretrained_names() -> list[str]:
    from tuner.zoo._registry import list_models

    return list_models(pretrained=True)


def _load_weights_file(model: keras.Model, path: str, what: str) -> None:
    try:
        model.load_weights(path)
    except Exception as exc:  # noqa: BLE001 - report any mismatch as a user error
        reason = " ".join(str(exc).split())[:200]
        raise ConfigError(
            f"could not load weights file {path!r} into {what} ({reason}); it must come from save_weights() of the same architecture and input size"
        ) from None


def _head(features, num_classes: int, dropout: float, dense_units: int):
    from keras import layers

    x = layers.GlobalAveragePooling2D(name="head_pool")(features)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Dense(dense_units, activation="relu", name="head_dense")(x)
    # float32 softmax: stable probabilities under the mixed_float16 policy.
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)


def build_model(
    name: str,
    num_classes: int,
    *,
    mode: Mode = "finetune",
    input_size: int | None = None,
    source_size: int | None = None,
    weights: str = "none",
    dropout: float = PARAM_DEFAULTS["dropout"],
    dense_units: int = PARAM_DEFAULTS["dense_units"],
    unfrozen_blocks: int = 0,
) -> BuiltModel:
    """Build ``name`` for ``num_classes`` classes.

    Args:
        name: A registered architecture (:func:`list_models`).
        num_classes: Output classes.
        mode: ``finetune``: the backbone (frozen but for the last ``unfrozen_blocks``
            blocks, batch norm in inference mode) with the study's head
            GlobalAveragePooling2D -> Dropout(dropout) -> Dense(dense_units, relu) ->
            Dense(num_classes, softmax). ``scratch``: the reference architecture, all
            layers trainable, randomly initialised unless ``weights`` is a file.
        input_size: The network's input; default: the spec's default size.
        source_size: Size of the uint8 images fed in (the cache's working size); they are
            resized to ``input_size`` inside the model. Default: ``input_size``.
        weights: ``auto``, ``imagenet``, ``none`` or a weights file (see
            :func:`resolve_weights`).
        dropout: Head dropout (finetune mode).
        dense_units: Head width (finetune mode).
        unfrozen_blocks: Trainable blocks at the end of the backbone (finetune mode).

    Raises:
        ConfigError: unknown name, input below the minimum, ``unfrozen_blocks`` out of
            range, finetune mode for a scratch-only architecture, weights unavailable.
    """
    import keras

    from tuner.zoo._layers import ImageInput

    spec = get_spec(name)
    size = int(input_size or spec.default_input_size)
    _check_input_size(spec, size)
    if num_classes < 2:
        raise ConfigError(f"num_classes >= 2 must hold, but got {num_classes}")
    if mode == "finetune" and spec.backbone is None:
        raise ConfigError(f"{name} has no pretrained backbone to fine-tune; use it from scratch or pick one of {', '.join(_pretrained_names())}")
    if mode == "finetune" and not 0 <= unfrozen_blocks <= spec.num_blocks:
        raise ConfigError(f"unfrozen_blocks for {name} must be in 0..{spec.num_blocks}, but got {unfrozen_blocks}")
    resolved = resolve_weights(name, weights, size, mode)
    inputs = keras.Input((source_size or size, source_size or size, 3), dtype="uint8", name="image")
    x = ImageInput(size, spec.preprocessing, name="image_input")(inputs)
    backbone = None
    if mode == "finetune":
        backbone = spec.backbone((size, size, 3), "imagenet" if resolved == "imagenet" else None)  # type: ignore[misc]
        if resolved not in ("imagenet", "none"):
            _load_weights_file(backbone, resolved, f"{name}'s backbone")
        # training=False documents the intent; set_unfrozen_blocks freezes batch norm so it
        # also holds under fit(), which calls the model with training=True.
        features = backbone(x, training=False)
        outputs: Any = _head(features, num_classes, dropout, dense_units)
    else:
        core = spec.scratch((size, size, 3), num_classes)
        if resolved not in ("imagenet", "none"):
            _load_weights_file(core, resolved, f"{name}")
        outputs = core(x)
        if isinstance(outputs, (list, tuple)):
            # Name the outputs so Keras' metric names are predictable (predictions_accuracy...).
            names = ["predictions"] + [f"aux{i}" for i in range(1, len(outputs))]
            outputs = [keras.layers.Activation("linear", dtype="float32", name=n)(o) for n, o in zip(names, outputs)]
    model = keras.Model(inputs, outputs, name=f"{name}_{mode}")
    if resolved == "none":
        _fast_batch_norm_statistics(model)
    built = BuiltModel(
        model=model,
        spec=spec,
        mode=mode,
        backbone=backbone,
        weights="imagenet" if resolved == "imagenet" else ("random" if resolved == "none" else resolved),
        input_size=size,
        num_classes=num_classes,
    )
    if mode == "finetune":
        set_unfrozen_blocks(built, unfrozen_blocks)
    return built


def _fast_batch_norm_statistics(model: keras.Model) -> None:
    """Batch norm momentum 0.9 for randomly initialised networks.

    Keras applications use 0.99-0.999, tuned for ImageNet-length training: on a small dataset
    the moving statistics then stay near their initial values for hundreds of steps and
    validation (which uses them) scores chance while training accuracy climbs.
    """
    import keras

    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = min(layer.momentum, 0.9)


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def set_unfrozen_blocks(built: BuiltModel, k: int) -> None:
    """Make exactly the layers after block boundary ``n - k`` of the backbone trainable.

    ``k = 0`` freezes the whole backbone (pure transfer learning); ``k = n`` trains all of
    it (the first block includes the stem). With pretrained weights, BatchNormalization
    layers stay frozen, which in Keras 3 keeps them in inference mode: ``fit`` calls the model
    with ``training=True`` and that overrides the ``training=False`` the backbone was called
    with (keras#20285), so freezing them is what actually preserves the pretrained
    statistics. With random weights there are no statistics to preserve, and a frozen,
    untrained batch norm passes garbage on, so unfrozen blocks train theirs. Recompile after
    calling this.
    """
    import keras

    backbone = built.backbone
    if backbone is None:
        raise ConfigError(f"{built.spec.name} in {built.mode} mode has no backbone to unfreeze")
    n = built.spec.num_blocks
    if not 0 <= k <= n:
        raise ConfigError(f"unfrozen_blocks for {built.spec.name} must be in 0..{n}, but got {k}")
    names = [layer.name for layer in backbone.layers]
    if k == 0:
        first_trainable = len(names)
    elif k == n:
        first_trainable = 0
    else:
        first_trainable = names.index(built.spec.block_boundaries[n - k - 1]) + 1
    backbone.trainable = True
    for position, layer in enumerate(backbone.layers):
        frozen_bn = built.weights != "random" and isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = position >= first_trainable and not frozen_bn


def build_model_for_trial(params: Mapping[str, Any], num_classes: int, *, kind: Mode, source_size: int, weights: str = "none") -> BuiltModel:
    """One trial's model from its parameters, all blocks frozen, uncompiled: the one rebuild the
    worker, checkpoint scoring and export share. A parameter the trial did not sample takes its
    registry default (``tuner._params``)."""

    def value(name: str) -> Any:
        v = params.get(name)
        return PARAM_DEFAULTS[name] if v is None else v

    return build_model(
        str(params["architecture"]),
        num_classes,
        mode=kind,
        input_size=int(params["input_size"]),
        source_size=source_size,
        weights=weights,
        dropout=float(value("dropout")),
        dense_units=int(value("dense_units")),
        unfrozen_blocks=0,
    )
