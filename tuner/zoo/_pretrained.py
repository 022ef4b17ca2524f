"""Keras applications with ImageNet weights, and where their blocks end (by layer name).

Block boundaries are layer *names* that Keras gives explicitly, never indices: indices moved
between Keras versions (the study's 280/249/229/... are Keras-2 indices of InceptionV3).
Importing this module registers the specs; it does not import TensorFlow.
"""

from __future__ import annotations

from typing import Any

from tuner.zoo._registry import ModelSpec, register_model

__all__: list[str] = []


def _app(name: str):
    import keras

    return getattr(keras.applications, name)


def _backbone(app_name: str, **extra: Any):
    def build(input_shape: tuple[int, int, int], weights: str | None, name: str = "backbone"):
        return _app(app_name)(include_top=False, weights=weights, input_shape=input_shape, name=name, **extra)

    build.__qualname__ = f"backbone[{app_name}]"
    return build


def _keras_scratch(app_name: str, **extra: Any):
    """The application with its own classifier, randomly initialised (how the study trained
    InceptionV3 and ResNet50 from scratch)."""

    def build(input_shape: tuple[int, int, int], num_classes: int):
        import keras

        # The softmax is a separate float32 layer so it stays float32 under mixed precision.
        net = _app(app_name)(include_top=True, weights=None, input_shape=input_shape, classes=num_classes, classifier_activation=None, **extra)
        outputs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(net.output)
        return keras.Model(net.input, outputs, name=net.name)

    build.__qualname__ = f"scratch[{app_name}]"
    return build


_INCEPTION_V3_BLOCKS = tuple(f"mixed{i}" for i in range(11))
_RESNET50_BLOCKS = tuple(f"conv{stage}_block{b}_out" for stage, n in ((2, 3), (3, 4), (4, 6), (5, 3)) for b in range(1, n + 1))
_VGG16_BLOCKS = tuple(f"block{i}_pool" for i in range(1, 6))
# MobileNetV2: 17 inverted-residual blocks (a residual one ends at its add), then the last 1x1 conv.
_MOBILENET_V2_RESIDUAL = {2, 4, 5, 7, 8, 9, 11, 12, 14, 15}
_MOBILENET_V2_BLOCKS = (
    ("expanded_conv_project_BN",) + tuple(f"block_{i}_add" if i in _MOBILENET_V2_RESIDUAL else f"block_{i}_project_BN" for i in range(1, 17)) + ("out_relu",)
)
# EfficientNetB0: 16 MBConv blocks (a residual one ends at its add), then the top conv.
_EFFICIENTNET_B0_BLOCKS = tuple(
    f"block{s}{c}_add" if c != "a" else f"block{s}{c}_project_bn"
    for s, count in ((1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4), (7, 1))
    for c in "abcd"[:count]
) + ("top_activation",)

register_model(
    ModelSpec(
        name="inception_v3",
        description="InceptionV3 (the study's model): 11 inception blocks mixed0..mixed10",
        scratch=_keras_scratch("InceptionV3"),
        backbone=_backbone("InceptionV3"),
        pretrained=True,
        min_input_size=75,
        default_input_size=299,
        preprocessing="tf",
        block_boundaries=_INCEPTION_V3_BLOCKS,
    )
)
register_model(
    ModelSpec(
        name="resnet50",
        description="ResNet50: 16 residual blocks conv2_block1..conv5_block3",
        scratch=_keras_scratch("ResNet50"),
        backbone=_backbone("ResNet50"),
        pretrained=True,
        min_input_size=32,
        default_input_size=224,
        preprocessing="caffe",
        block_boundaries=_RESNET50_BLOCKS,
    )
)
register_model(
    ModelSpec(
        name="vgg16",
        description="VGG16: 5 conv blocks block1..block5 (from scratch: the full 138M-parameter net)",
        scratch=_keras_scratch("VGG16"),
        backbone=_backbone("VGG16"),
        pretrained=True,
        min_input_size=32,
        default_input_size=224,
        preprocessing="caffe",
        block_boundaries=_VGG16_BLOCKS,
    )
)
register_model(
    ModelSpec(
        name="mobilenet_v2",
        description="MobileNetV2 (alpha 1.0): 17 inverted-residual blocks + final conv; small GPUs, CPU demo",
        scratch=_keras_scratch("MobileNetV2"),
        backbone=_backbone("MobileNetV2"),
        pretrained=True,
        min_input_size=32,
        default_input_size=224,
        preprocessing="tf",
        block_boundaries=_MOBILENET_V2_BLOCKS,
    )
)
register_model(
    ModelSpec(
        name="efficientnet_b0",
        description="EfficientNetB0: 16 MBConv blocks + top conv; rescales inside the model",
        scratch=_keras_scratch("EfficientNetB0"),
        backbone=_backbone("EfficientNetB0"),
        pretrained=True,
        min_input_size=32,
        default_input_size=224,
        preprocessing="none",
        block_boundaries=_EFFICIENTNET_B0_BLOCKS,
    )
)
