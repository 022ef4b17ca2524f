"""The one registry of architecture names (timm's ``register_model`` / ``list_models``).

A name maps to a frozen :class:`ModelSpec`: how to build the architecture, whether ImageNet
weights exist for it, its minimum and default input sizes, the preprocessing it needs (as
data, not hidden in a builder) and its ordered block-boundary layer names.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tuner.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import keras

__all__ = ["ModelSpec", "Preprocessing", "register_model", "list_models", "get_spec"]

#: How pixels in 0..255 are scaled before the network:
#: ``tf``: to [-1, 1]; ``caffe``: RGB->BGR minus the ImageNet mean; ``unit``: to [0, 1];
#: ``none``: unchanged (the network normalises inside, like Keras' EfficientNet).
Preprocessing = Literal["tf", "caffe", "unit", "none"]

BackboneBuilder = Callable[..., "keras.Model"]
ScratchBuilder = Callable[..., "keras.Model"]


@dataclass(frozen=True)
class ModelSpec:
    """Everything ``tuner`` needs to know about one architecture. Immutable.

    Attributes:
        name: Registry name, e.g. ``"inception_v3"``.
        description: One line for listings.
        scratch: ``scratch(input_shape, num_classes) -> keras.Model``: the complete
            classifier as its reference defines it, randomly initialised.
        backbone: ``backbone(input_shape, weights) -> keras.Model`` without its classifier
            (Keras applications with ``include_top=False``), or ``None`` when the
            architecture has no pretrained form.
        pretrained: ImageNet weights exist for ``backbone``.
        min_input_size: Smallest square input the architecture builds at.
        default_input_size: The input size it was designed for.
        preprocessing: The pixel scaling it expects (see :data:`Preprocessing`).
        block_boundaries: Names of the layers that end each block of ``backbone``, first
            to last. "Unfreeze the last k blocks" trains every layer after boundary n-k.
        aux_loss_weights: Loss weights of auxiliary outputs that ``scratch`` models return
            after the main one (Inception v1: ``(0.3, 0.3)``); accuracy and the objective
            are always taken from the main output.
    """

    name: str
    description: str
    scratch: ScratchBuilder
    backbone: BackboneBuilder | None = None
    pretrained: bool = False
    min_input_size: int = 32
    default_input_size: int = 224
    preprocessing: Preprocessing = "unit"
    block_boundaries: tuple[str, ...] = ()
    aux_loss_weights: tuple[float, ...] = ()

    @property
    def num_blocks(self) -> int:
        """How many blocks ``unfrozen_blocks`` can range over (0 for scratch-only models)."""
        return len(self.block_boundaries) if self.backbone is not None else 0

    def __post_init__(self) -> None:
        if not 1 <= self.min_input_size <= self.default_input_size:
            raise ValueError(f"{self.name}: 1 <= min_input_size <= default_input_size must hold")
        if self.backbone is not None and not self.block_boundaries:
            raise ValueError(f"{self.name}: a backbone needs its block boundaries")


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry; names are unique."""
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def list_models(pretrained: bool | None = None) -> list[str]:
    """Registered names, sorted; ``pretrained=True`` keeps those with ImageNet backbones."""
    return sorted(n for n, s in _REGISTRY.items() if pretrained is None or s.pretrained == pretrained)


def get_spec(name: str) -> ModelSpec:
    """The spec registered under ``name``.

    Raises:
        ConfigError: unknown name; the message quotes it and lists the valid names,
            closest first.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        names = sorted(_REGISTRY)
        close = difflib.get_close_matches(str(name), names, n=max(1, len(names)), cutoff=0.0)
        raise ConfigError(f"unknown architecture {name!r}; valid names: {', '.join(close)}") from None
