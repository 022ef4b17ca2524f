"""From-scratch architectures of the reference documents, written for Keras 3.

Facts (layer sizes, strides, auxiliary heads, loss weights) come from the references; the
parameter counts they give are checked in the tests: LeNet-5 61,706 (32x32x1, 10 classes),
AlexNet 62,383,848 (227x227, 1000 classes), Inception v1 10,334,030 (224x224, 10 classes,
auxiliary heads included). VGG16, InceptionV3 and ResNet50 from scratch are the Keras
applications with their own classifier (registered in ``_pretrained``).
Importing this module registers the specs; it does not import TensorFlow.
"""

from __future__ import annotations

from tuner.zoo._registry import ModelSpec, register_model

__all__: list[str] = []


def lenet5(input_shape: tuple[int, int, int], num_classes: int):
    """LeNet-5: C1 6@5x5 tanh, S2 avg-pool, C3 16@5x5, S4 avg-pool, C5 120@5x5, F6 84, softmax."""
    import keras
    from keras import layers

    inputs = keras.Input(input_shape)
    x = layers.Conv2D(6, 5, activation="tanh", name="c1")(inputs)
    x = layers.AveragePooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation="tanh", name="c3")(x)
    x = layers.AveragePooling2D(2, name="s4")(x)
    x = layers.Conv2D(120, 5, activation="tanh", name="c5")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(84, activation="tanh", name="f6")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="lenet5")


def alexnet(input_shape: tuple[int, int, int], num_classes: int):
    """AlexNet, the tutorial variant with batch normalization and L2 0.0005 on conv2-5."""
    import keras
    from keras import layers, regularizers

    def conv(x, filters, kernel, strides=1, padding="same", l2=True, name=""):
        reg = regularizers.L2(0.0005) if l2 else None
        x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, kernel_regularizer=reg, name=name)(x)
        return layers.Activation("relu", name=f"{name}_relu")(x)

    inputs = keras.Input(input_shape)
    x = conv(inputs, 96, 11, strides=4, padding="valid", l2=False, name="conv1")
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = layers.BatchNormalization(name="bn1")(x)
    x = conv(x, 256, 5, name="conv2")
    x = layers.MaxPooling2D(3, strides=2, padding="valid", name="pool2")(x)
    x = layers.BatchNormalization(name="bn2")(x)
    x = conv(x, 384, 3, name="conv3")
    x = layers.BatchNormalization(name="bn3")(x)
    x = conv(x, 384, 3, name="conv4")
    x = layers.BatchNormalization(name="bn4")(x)
    x = conv(x, 256, 3, name="conv5")
    x = layers.BatchNormalization(name="bn5")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="valid", name="pool5")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(4096, activation="relu", name="fc6")(x)
    x = layers.Dropout(0.5, name="drop6")(x)
    x = layers.Dense(4096, activation="relu", name="fc7")(x)
    x = layers.Dropout(0.5, name="drop7")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="alexnet")


# Inception v1 modules: (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection).
_GOOGLENET = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def inception_v1(input_shape: tuple[int, int, int], num_classes: int):
    """GoogLeNet with its two auxiliary classifiers (after 4a and 4d).

    Outputs ``[main, aux1, aux2]``; train with loss weights 1 / 0.3 / 0.3 and score the main
    output. The auxiliary heads' average pool (5x5, stride 3, valid) needs a 5x5 map after
    4a, so the smallest input is 65 px.
    """
    import keras
    from keras import layers

    relu = {"activation": "relu", "padding": "same"}

    def module(x, name):
        f1, f3r, f3, f5r, f5, fp = _GOOGLENET[name]
        a = layers.Conv2D(f1, 1, name=f"inception_{name}_1x1", **relu)(x)
        b = layers.Conv2D(f3r, 1, name=f"inception_{name}_3x3_reduce", **relu)(x)
        b = layers.Conv2D(f3, 3, name=f"inception_{name}_3x3", **relu)(b)
        c = layers.Conv2D(f5r, 1, name=f"inception_{name}_5x5_reduce", **relu)(x)
        c = layers.Conv2D(f5, 5, name=f"inception_{name}_5x5", **relu)(c)
        d = layers.MaxPooling2D(3, strides=1, padding="same", name=f"inception_{name}_pool")(x)
        d = layers.Conv2D(fp, 1, name=f"inception_{name}_pool_proj", **relu)(d)
        return layers.Concatenate(axis=-1, name=f"inception_{name}")([a, b, c, d])

    def aux(x, k):
        y = layers.AveragePooling2D(5, strides=3, name=f"aux{k}_pool")(x)
        y = layers.Conv2D(128, 1, name=f"aux{k}_conv", **relu)(y)
        y = layers.Flatten(name=f"aux{k}_flatten")(y)
        y = layers.Dense(1024, activation="relu", name=f"aux{k}_fc")(y)
        y = layers.Dropout(0.7, name=f"aux{k}_dropout")(y)
        return layers.Dense(num_classes, activation="softmax", dtype="float32", name=f"aux{k}_output")(y)

    inputs = keras.Input(input_shape)
    x = layers.Conv2D(64, 7, strides=2, name="conv1_7x7", **relu)(inputs)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    x = layers.Conv2D(64, 1, name="conv2_reduce", **relu)(x)
    x = layers.Conv2D(192, 3, name="conv2_3x3", **relu)(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
    x = module(x, "3a")
    x = module(x, "3b")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool3")(x)
    x = module(x, "4a")
    aux1 = aux(x, 1)
    x = module(x, "4b")
    x = module(x, "4c")
    x = module(x, "4d")
    aux2 = aux(x, 2)
    x = module(x, "4e")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool4")(x)
    x = module(x, "5a")
    x = module(x, "5b")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(0.4, name="dropout")(x)
    main = layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, [main, aux1, aux2], name="inception_v1")


# SimpleNet (Hasanpour et al. 2016, the 13-layer CIFAR design): filters per 3x3 conv,
# "M" a 2x2 max-pool, (filters, 1) a 1x1 conv.
_SIMPLENET = (64, 128, 128, 128, "M", 128, 128, 256, "M", 256, 256, "M", 512, "M", (2048, 1), (256, 1), "M", 256)


def simplenet(input_shape: tuple[int, int, int], num_classes: int):
    """SimpleNet: 13 conv layers with batch norm and ReLU, global max pool, one dense layer."""
    import keras
    from keras import layers

    inputs = keras.Input(input_shape)
    x = inputs
    conv_index = 0
    for item in _SIMPLENET:
        if item == "M":
            x = layers.MaxPooling2D(2, name=f"pool{conv_index}")(x)
            x = layers.Dropout(0.1, name=f"drop{conv_index}")(x)
            continue
        filters, kernel = item if isinstance(item, tuple) else (item, 3)
        conv_index += 1
        x = layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=f"conv{conv_index}")(x)
        x = layers.BatchNormalization(momentum=0.95, epsilon=1e-5, name=f"bn{conv_index}")(x)
        x = layers.Activation("relu", name=f"relu{conv_index}")(x)
    x = layers.GlobalMaxPooling2D(name="global_pool")(x)
    x = layers.Dropout(0.1, name="drop_final")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="simplenet")


register_model(
    ModelSpec(
        name="lenet5",
        description="LeNet-5 (tanh, average pooling): 61,706 parameters on 32x32x1, 10 classes",
        scratch=lenet5,
        min_input_size=32,
        default_input_size=32,
        preprocessing="unit",
    )
)
register_model(
    ModelSpec(
        name="alexnet",
        description="AlexNet, tutorial variant with batch norm: 62,383,848 parameters at 227x227, 1000 classes",
        scratch=alexnet,
        min_input_size=67,
        default_input_size=227,
        preprocessing="unit",
    )
)
register_model(
    ModelSpec(
        name="inception_v1",
        description="GoogLeNet with two auxiliary heads (loss weights 1/0.3/0.3), scored on the main head",
        scratch=inception_v1,
        min_input_size=65,
        default_input_size=224,
        preprocessing="unit",
        aux_loss_weights=(0.3, 0.3),
    )
)
register_model(
    ModelSpec(
        name="simplenet",
        description="SimpleNet (13 conv layers, the study's third from-scratch model)",
        scratch=simplenet,
        min_input_size=32,
        default_input_size=32,
        preprocessing="unit",
    )
)
