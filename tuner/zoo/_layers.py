"""Small Keras layers the models start with: uint8 in, resized and scaled for the network.

Registered as serializable so an exported ``.keras`` model reloads without custom code.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["ImageInput"]

_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="tuner")
class ImageInput(keras.layers.Layer):
    """Cast uint8 pixels, resize them to the network's input size and scale them.

    Running this inside the model puts resizing and preprocessing on the accelerator, so
    the input pipeline ships uint8 at source size (4x fewer bytes than float32).

    Args:
        size: Square input size of the network.
        preprocessing: ``tf``, ``caffe``, ``unit`` or ``none`` (see ``tuner.zoo.Preprocessing``).
    """

    def __init__(self, size: int, preprocessing: str, **kwargs):
        super().__init__(**kwargs)
        if preprocessing not in ("tf", "caffe", "unit", "none"):
            raise ValueError(f"preprocessing must be tf, caffe, unit or none, got {preprocessing!r}")
        self.size = int(size)
        self.preprocessing = preprocessing

    def call(self, images):
        x = ops.cast(images, self.compute_dtype)
        if x.shape[1] != self.size or x.shape[2] != self.size:
            x = ops.image.resize(x, (self.size, self.size), interpolation="bilinear")
        if self.preprocessing == "tf":
            x = x / 127.5 - 1.0
        elif self.preprocessing == "unit":
            x = x / 255.0
        elif self.preprocessing == "caffe":
            x = ops.flip(x, axis=-1) - ops.convert_to_tensor(_CAFFE_MEAN_BGR, dtype=self.compute_dtype)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "size": self.size, "preprocessing": self.preprocessing}
