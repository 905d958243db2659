"""The CIFAR networks of "Improved Gradient based Adversarial Attacks for Quantized Networks".

Gupta & Ajanthan (AAAI 2022) attack ResNet-18 and VGG-16 at three precisions:

- ``"ref"``: full precision;
- ``"wq"`` (BNN-WQ): every weight binary, the first convolution and the last dense
  layer included, activations full precision (ReLU); trained with one of `METHODS`
  (BC, GD-tanh, MD-tanh-S, see `tfbnn.quantizers`);
- ``"waq"`` (BNN-WAQ): weights and activations binary: every layer but the first takes
  the sign of its input (clipped straight-through estimator, Larq's ``ste_sign``), the
  first layer's weights are binary too, latent weights are clipped to [-1, 1]
  (BinaryNet, Hubara et al. 2016).

Architectures, read from the authors' released code (``md-bnn``'s ``models/ResNet.py``
and ``models/VGG.py``) and checked against the paper:

- `resnet18`: conv3x3(64) -> BN -> act, four stages of two BasicBlocks at 64/128/256/512
  channels (conv-BN-act-conv-BN, plus the shortcut, then act; a 1x1 conv + BN shortcut
  where the shape changes), global average pooling, dense 10. Convolutions without
  bias, the dense layer with one. 11.17 M parameters at full width.
- `vgg16`: 13 x [conv3x3 (bias) -> BN -> act] with the configuration `VGG16_CONFIG`
  (``"M"`` a 2x2 max-pool), then dense 512 -> BN -> act -> dense 512 -> BN -> act ->
  dense 10.
- In ``"ref"`` and ``"wq"`` networks every batch norm has no learned scale or offset,
  as in the authors' code; ``"waq"`` networks keep BinaryNet's affine batch norm,
  BinaryNet's batch norm after the output layer included.

The authors' BNN-WAQ models were not these: they were BinaryNet's CIFAR networks, a
3-stage ResNet of two BasicBlocks per stage at 80/160/320 channels (`binarynet_resnet`)
and a VGG-like net of 6 convolutions (384-384-M-768-768-M-1536-512-M in the released
code) and dense 1024-1024-10 (`binarynet_vgg`). tfbnn offers both: the paper's names at ``precision="waq"``, and
the networks the authors actually ran.

Every network normalizes its input inside the model (per-channel CIFAR-10 mean and
standard deviation, the authors' constants), so attacks work on [0, 1] pixels and
eps = 8/255 means 8 grey levels. ``width`` multiplies every layer's channels (the CPU
scale: ``width=0.125`` or ``0.25``); the full-width networks are ``width=1``.

Departures from the authors' code, each stated: BC keeps its latent weights in
[-1, 1] (Larq's ``weight_clip``, as BinaryConnect does); Keras's default initializers
(Glorot uniform, the authors' Xavier uniform); binary layers have no bias in
``"wq"`` convolutions (as the authors' ResNet) and a float bias where the authors have
one.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import larq as lq
import tensorflow as tf
import tf_keras as keras

from tfbnn import checks
from tfbnn.quantizers import TanhSign

__all__ = [
    "CIFAR10_MEAN", "CIFAR10_STD", "METHODS", "PRECISIONS", "VGG16_CONFIG", "binarynet_resnet",
    "binarynet_vgg", "resnet18", "vgg16",
]

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)
"""Per-channel normalization of the authors' code (``md-bnn``)."""

PRECISIONS = ("ref", "wq", "waq")
METHODS = ("bc", "gd_tanh", "md_tanh_s")
"""BNN-WQ weight binarization: BinaryConnect, GD-tanh, MD-tanh-S (mirror descent, stable)."""

VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M")
BINARYNET_VGG_CONFIG = (384, 384, "M", 768, 768, "M", 1536, 512, "M")


class _Layers:
    """The layers of one precision: convolutions, dense layers, batch norm, activation."""

    def __init__(self, precision: str, method: str | None):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS} (full precision, binary "
                             f"weights, binary weights and activations), got {precision!r}.")
        if precision == "wq" and method not in METHODS:
            raise ValueError(f"method must be one of {METHODS} for precision 'wq', got "
                             f"{method!r}.")
        if precision != "wq" and method is not None:
            raise ValueError(f"method chooses how BNN-WQ weights are binarized; precision "
                             f"{precision!r} takes method=None, got {method!r}.")
        self.precision, self.method = precision, method
        self.first = True

    def _kernel(self) -> dict:
        if self.precision == "waq" or self.method == "bc":
            return {"kernel_quantizer": lq.quantizers.SteSign(clip_value=1.0),
                    "kernel_constraint": "weight_clip"}
        mode = {"gd_tanh": "gd", "md_tanh_s": "md"}[self.method]
        return {"kernel_quantizer": TanhSign(mode), "kernel_constraint": None}

    def _inputs(self) -> dict:
        binary = self.precision == "waq" and not self.first
        self.first = False
        return {"input_quantizer": lq.quantizers.SteSign(clip_value=1.0) if binary else None}

    def conv(self, filters: int, kernel: int, strides: int = 1, use_bias: bool = False):
        common = dict(strides=strides, padding="same", use_bias=use_bias)
        if self.precision == "ref":
            self.first = False
            return keras.layers.Conv2D(filters, kernel, **common)
        with self._unclipped():
            return lq.layers.QuantConv2D(filters, kernel, **common, **self._inputs(),
                                         **self._kernel())

    def dense(self, units: int, use_bias: bool = True):
        if self.precision == "ref":
            self.first = False
            return keras.layers.Dense(units, use_bias=use_bias)
        with self._unclipped():
            return lq.layers.QuantDense(units, use_bias=use_bias, **self._inputs(),
                                        **self._kernel())

    def _unclipped(self):
        """Larq warns of "starved weights" for every binary quantizer without a weight clip.
        The tanh methods are unclipped by design (the authors' code) and their gradient is
        not zeroed for |w| > 1, so that warning is silenced for their layers only."""
        if self.method not in ("gd_tanh", "md_tanh_s"):
            return contextlib.nullcontext()
        return _without_log("larq.layers_base", "starved weights")

    def norm(self):
        affine = self.precision == "waq"
        return keras.layers.BatchNormalization(center=affine, scale=affine)

    def logits(self, x, num_classes: int):
        """The output layer. BinaryNet ends with a batch norm after its binary dense layer
        (Hubara et al.; Larq's BinaryNet likewise): the logits of sign inputs times +-1
        weights are integers of spread ~sqrt(fan-in), which saturate the softmax and stall
        training without it (a width-0.25 ResNet-18 BNN-WAQ without it stayed at 16 %
        training accuracy for 10 epochs)."""
        logits = self.dense(num_classes)(x)
        return self.norm()(logits) if self.precision == "waq" else logits

    def act(self):
        """ReLU in full-precision activations; BinaryNet's hard tanh before a sign."""
        if self.precision == "waq":
            return keras.layers.Activation(hard_tanh)
        return keras.layers.ReLU()


@contextlib.contextmanager
def _without_log(logger: str, text: str):
    """Drop the records of ``logger`` that contain ``text`` while the block runs."""
    log = logging.getLogger(logger)
    dropped = logging.Filter()
    dropped.filter = lambda record: text not in record.getMessage()
    log.addFilter(dropped)
    try:
        yield
    finally:
        log.removeFilter(dropped)


@keras.utils.register_keras_serializable(package="tfbnn")
def hard_tanh(x):
    """BinaryNet's activation before a sign: x clipped to [-1, 1]. Registered with Keras, so
    a saved BNN-WAQ loads back (an unregistered function did not: "Unknown activation
    function")."""
    return tf.clip_by_value(x, -1.0, 1.0)


def _channels(base: int, width: float) -> int:
    return max(1, int(round(base * width)))


def _check(width, num_classes, input_shape) -> tuple:
    checks.check_number("width", width, positive=True)
    checks.check_int("num_classes", num_classes, 2)
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise ValueError(f"input_shape must be (height, width, channels) of positive ints, "
                         f"got {input_shape!r}; CIFAR is (32, 32, 3).")
    return shape


def _normalized_input(shape):
    inputs = keras.Input(shape)
    mean = CIFAR10_MEAN if shape[-1] == 3 else (0.5,) * shape[-1]
    std = CIFAR10_STD if shape[-1] == 3 else (0.25,) * shape[-1]
    x = keras.layers.Normalization(mean=list(mean), variance=[s * s for s in std],
                                   name="normalize")(inputs)
    return inputs, x


def _resnet(stages, channels, layers: _Layers, num_classes, shape, name) -> keras.Model:
    inputs, x = _normalized_input(shape)
    x = layers.act()(layers.norm()(layers.conv(channels[0], 3)(x)))
    in_channels = channels[0]
    for stage, (blocks, out_channels) in enumerate(zip(stages, channels)):
        for block in range(blocks):
            strides = 2 if stage > 0 and block == 0 else 1
            shortcut = x
            y = layers.act()(layers.norm()(layers.conv(out_channels, 3, strides)(x)))
            y = layers.norm()(layers.conv(out_channels, 3)(y))
            if strides != 1 or in_channels != out_channels:
                shortcut = layers.norm()(layers.conv(out_channels, 1, strides)(x))
            x = layers.act()(keras.layers.Add()([y, shortcut]))
            in_channels = out_channels
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.logits(x, num_classes), name=name)


def resnet18(precision: str = "ref", method: str | None = None, *, width: float = 1.0,
             blocks: tuple = (2, 2, 2, 2), num_classes: int = 10,
             input_shape=(32, 32, 3)) -> keras.Model:
    """ResNet-18 for CIFAR at ``precision`` (see the module docstring); logits out.

    # Arguments
        precision: ``"ref"``, ``"wq"`` or ``"waq"``.
        method: for ``"wq"``, one of `METHODS`; None otherwise.
        width: channel multiplier (1 = 64/128/256/512).
        blocks: BasicBlocks per stage (the depth choice; ResNet-18 is ``(2, 2, 2, 2)``).
    """
    shape = _check(width, num_classes, input_shape)
    if len(blocks) != 4 or not all(isinstance(b, int) and b >= 1 for b in blocks):
        raise ValueError(f"blocks must be four ints >= 1 (BasicBlocks per stage), got {blocks!r}.")
    channels = [_channels(c, width) for c in (64, 128, 256, 512)]
    return _resnet(blocks, channels, _Layers(precision, method), num_classes, shape,
                   f"resnet18_{precision}" + (f"_{method}" if method else ""))


def binarynet_resnet(*, width: float = 1.0, num_classes: int = 10,
                     input_shape=(32, 32, 3)) -> keras.Model:
    """BinaryNet's CIFAR ResNet (the authors' BNN-WAQ ResNet): 3 stages of 2 BasicBlocks
    at 80/160/320 channels, binary weights and activations."""
    shape = _check(width, num_classes, input_shape)
    channels = [_channels(c, width) for c in (80, 160, 320)]
    return _resnet((2, 2, 2), channels, _Layers("waq", None), num_classes, shape,
                   "binarynet_resnet")


def _vgg(config, dense_units, layers: _Layers, num_classes, shape, name) -> keras.Model:
    inputs, x = _normalized_input(shape)
    for item in config:
        if item == "M":
            x = keras.layers.MaxPooling2D(2)(x)
        else:
            x = layers.act()(layers.norm()(layers.conv(item, 3, use_bias=True)(x)))
    x = keras.layers.Flatten()(x)
    for units in dense_units:
        x = layers.act()(layers.norm()(layers.dense(units)(x)))
    return keras.Model(inputs, layers.logits(x, num_classes), name=name)


def vgg16(precision: str = "ref", method: str | None = None, *, width: float = 1.0,
          num_classes: int = 10, input_shape=(32, 32, 3)) -> keras.Model:
    """VGG-16 for CIFAR at ``precision``: `VGG16_CONFIG`, then dense 512-512-classes."""
    shape = _check(width, num_classes, input_shape)
    config = [item if item == "M" else _channels(item, width) for item in VGG16_CONFIG]
    units = [_channels(512, width)] * 2
    return _vgg(config, units, _Layers(precision, method), num_classes, shape,
                f"vgg16_{precision}" + (f"_{method}" if method else ""))


def binarynet_vgg(*, width: float = 1.0, num_classes: int = 10,
                  input_shape=(32, 32, 3)) -> keras.Model:
    """The VGG-like BinaryNet of the authors' BNN-WAQ experiments: 6 convolutions
    (`BINARYNET_VGG_CONFIG`) and dense 1024-1024-classes, binary weights and activations."""
    shape = _check(width, num_classes, input_shape)
    config = [item if item == "M" else _channels(item, width) for item in BINARYNET_VGG_CONFIG]
    units = [_channels(1024, width)] * 2
    return _vgg(config, units, _Layers("waq", None), num_classes, shape, "binarynet_vgg")


BUILDERS: dict[str, Callable[..., keras.Model]] = {
    "resnet18": resnet18, "vgg16": vgg16, "binarynet_resnet": binarynet_resnet,
    "binarynet_vgg": binarynet_vgg,
}
"""The CIFAR builders by name, for `tfbnn.models.build_model`."""
