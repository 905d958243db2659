"""Binarized networks that `tfbnn.verify` can verify exactly.

Every network here has the shape the exact verifier needs (Jia & Rinard's EEV networks,
NeurIPS 2020; their ternary weights with ``weights="ternary"``):

- `InputQuantizer` first: [0, 1] pixels become integer grey levels ``round(255 x)``, so
  every input the network sees is a point of the 8-bit grid and the first layer computes
  with exact integers;
- binary weights (``sign(w)``) in every layer, the first included; the first layer reads
  the integer levels, the others the signs of the batch-normalized pre-activations of
  the layer before (Larq ``input_quantizer``);
- batch normalization after every binary layer; the last one is the per-class affine map
  that turns the output layer's integer sums into logits.

So each hidden neuron is ``sign(BN(sum_i w_i a_i))`` with integer ``a_i`` and ``w_i`` in
{-1, +1} ({-1, 0, +1} with ``weights="ternary"``): an integer threshold on an integer sum, which `tfbnn.verify.extract` reads off
exactly. The networks train with ``model.fit`` (straight-through estimators everywhere;
the input quantizer passes ``255 * dy`` inside [0, 1]).

- `binary_mlp`: an MLP, by default Khalil et al.'s 5 x 100 (Gupta & Ajanthan's Figure 2
  network, binarized throughout).
- `conv_small`: EEV's "conv-small": conv 16 4x4/2, conv 32 4x4/2, fc 100, fc 10.

# References
    - Jia, Rinard. Efficient Exact Verification of Binarized Neural Networks. NeurIPS
      2020 (input quantization, conv-small).
    - Khalil, Gupta, Dilkina. Combinatorial Attacks on Binarized Neural Networks. ICLR
      2019 (2x100 .. 5x100 binary MLPs).
    - Narodytska et al. Verifying Properties of Binarized Deep Neural Networks. AAAI 2018.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import larq as lq
import tensorflow as tf
import tf_keras as keras

from tfbnn.quantizers import PassThroughSign

__all__ = ["BUILDERS", "GRID_LEVELS", "InputQuantizer", "binary_mlp", "conv_small",
           "quantize_to_levels"]

GRID_LEVELS = 255
"""The 8-bit grid: pixel values k / 255, k = 0 .. 255."""


def quantize_to_levels(x: tf.Tensor, levels: int = GRID_LEVELS) -> tf.Tensor:
    """``round(levels * clip(x, 0, 1))`` (half to even), with a straight-through gradient.

    Forward: the integer grey level of each pixel, as a float tensor holding exact
    integers 0 .. ``levels``. Backward: ``levels * dy`` where ``0 <= x <= 1`` and 0
    elsewhere (the derivative of ``levels * clip(x, 0, 1)``), so gradient attacks see
    through the rounding.
    """
    x = tf.convert_to_tensor(x)

    @tf.custom_gradient
    def _call(x):
        scale = tf.cast(levels, x.dtype)

        def grad(dy):
            inside = tf.logical_and(x >= 0, x <= 1)
            return tf.where(inside, dy * scale, tf.zeros_like(dy))

        return tf.round(scale * tf.clip_by_value(x, 0.0, 1.0)), grad

    return _call(x)


@keras.utils.register_keras_serializable(package="tfbnn")
class InputQuantizer(keras.layers.Layer):
    """Map [0, 1] inputs onto the integer grey levels ``round(levels * x)``.

    The output is the level ``k`` itself, not ``k / levels``: with integer inputs and
    weights of +-1, the first layer's sums are exact in float32 (up to 2^24), which is
    what makes the Keras model and `tfbnn.verify`'s integer network agree exactly. The
    factor ``1 / levels`` is absorbed by the batch normalization that follows.

    # Arguments
        levels: the largest level (255: the 8-bit grid).
    """

    def __init__(self, levels: int = GRID_LEVELS, **kwargs):
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
            raise ValueError(f"levels must be an int >= 1, got {levels!r}.")
        super().__init__(**kwargs)
        self.levels = levels

    def call(self, inputs):
        return quantize_to_levels(inputs, self.levels)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "levels": self.levels}


ESTIMATORS = ("ste_sign", "passthrough")
WEIGHTS = ("binary", "ternary")


def _sign(estimator: str):
    return PassThroughSign() if estimator == "passthrough" else lq.quantizers.SteSign()


def _check_units(name: str, values) -> tuple[int, ...]:
    values = tuple(values) if isinstance(values, Sequence) else None
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                             for v in values):
        raise ValueError(f"{name} must be a non-empty sequence of positive ints, got "
                         f"{values!r}; e.g. (100,) * 5.")
    return values


def _check_weights(weights, ternary_threshold) -> None:
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}.")
    if (isinstance(ternary_threshold, bool) or not isinstance(ternary_threshold, (int, float))
            or not 0 < ternary_threshold < 1):
        raise ValueError(f"ternary_threshold must be a number in (0, 1) (latent weights are "
                         f"clipped to [-1, 1]), got {ternary_threshold!r}; e.g. 0.05.")


def _kernel_quantizer(estimator: str, weights: str, ternary_threshold: float):
    if weights == "ternary":  # Larq's: 0 where |w| <= threshold, straight-through gradient
        return lq.quantizers.SteTern(threshold_value=ternary_threshold)
    return _sign(estimator)


def _check_common(input_shape, num_classes, estimator) -> tuple[int, ...]:
    shape = tuple(input_shape) if isinstance(input_shape, Sequence) else None
    if not shape or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                            for d in shape):
        raise ValueError(f"input_shape must hold positive ints, got {input_shape!r}; for "
                         "MNIST use (28, 28, 1).")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}.")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}.")
    return shape


def _binary(kind: str, width, estimator: str, first: bool, name: str, weights="binary",
            ternary_threshold=0.05, **kwargs):
    layer = lq.layers.QuantDense if kind == "dense" else lq.layers.QuantConv2D
    return layer(width, input_quantizer=None if first else _sign(estimator),
                 kernel_quantizer=_kernel_quantizer(estimator, weights, ternary_threshold),
                 kernel_constraint="weight_clip", use_bias=False, name=name, **kwargs)


def _batch_norm(name: str):
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3, name=name)


def binary_mlp(
    hidden: Sequence[int] = (100,) * 5,
    *,
    input_shape: Sequence[int] = (28, 28, 1),
    num_classes: int = 10,
    estimator: str = "ste_sign",
    name: str | None = None,
    weights: str = "binary",
    ternary_threshold: float = 0.05,
) -> keras.Model:
    """A binary MLP that `tfbnn.verify` verifies exactly.

    ``InputQuantizer -> Flatten -> [QuantDense(sign W) -> BN] * len(hidden) ->
    QuantDense(num_classes, sign W) -> BN``; every layer after the first binarizes its
    input with a sign.

    # Arguments
        hidden: units per hidden layer (default: 5 x 100, Khalil et al.'s largest MLP).
        input_shape: shape of one input, values in [0, 1].
        num_classes: number of logits.
        estimator: ``"ste_sign"`` (Larq's, default) or ``"passthrough"`` (the first
            paper's) straight-through estimator for the signs.
        name: model name; default ``"binary_mlp_<w>x<depth>"``.
        weights: ``"binary"`` (``sign(w)``) or ``"ternary"``: Larq's ``SteTern``, ``0``
            where the latent ``|w| <= ternary_threshold``, else ``sign(w)``, with a
            straight-through gradient. Zero weights drop their terms from the exact
            verifier's constraints (Jia & Rinard's sparse weights; see
            `tfbnn.verify.friendly`).
        ternary_threshold: that threshold on the latent weights (clipped to [-1, 1]).

    # Returns
        An uncompiled ``keras.Model`` mapping [0, 1] inputs to logits.
    """
    hidden = _check_units("hidden", hidden)
    shape = _check_common(input_shape, num_classes, estimator)
    _check_weights(weights, ternary_threshold)
    quantized = {"weights": weights, "ternary_threshold": ternary_threshold}
    inputs = keras.Input(shape=shape, name="image")
    x = InputQuantizer(name="quantize_input")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(hidden, start=1):
        x = _binary("dense", units, estimator, i == 1, f"dense{i}", **quantized)(x)
        x = _batch_norm(f"bn{i}")(x)
    x = _binary("dense", num_classes, estimator, False, "logits_dense", **quantized)(x)
    logits = _batch_norm("logits")(x)
    widths = sorted(set(hidden))
    default = (f"binary_mlp_{hidden[0]}x{len(hidden)}" if len(widths) == 1
               else "binary_mlp_" + "-".join(map(str, hidden)))
    return keras.Model(inputs, logits, name=name or default)


def conv_small(
    *,
    input_shape: Sequence[int] = (28, 28, 1),
    num_classes: int = 10,
    filters: Sequence[int] = (16, 32),
    dense: int = 100,
    estimator: str = "ste_sign",
    name: str = "conv_small",
    weights: str = "binary",
    ternary_threshold: float = 0.05,
) -> keras.Model:
    """EEV's "conv-small", binary in every layer: conv 16 4x4/2, conv 32 4x4/2 (valid
    padding), fc 100, fc ``num_classes``, each followed by batch normalization.

    On MNIST the shapes are 28x28x1 -> 13x13x16 -> 5x5x32 -> 100 -> 10.

    # Arguments
        input_shape: shape of one image, values in [0, 1].
        num_classes: number of logits.
        filters: filters of the two convolutions.
        dense: units of the hidden dense layer.
        estimator: as in `binary_mlp`.
        name: model name.
        weights, ternary_threshold: binary or ternary weights, as in `binary_mlp`.

    # References
        - Jia, Rinard. NeurIPS 2020, "conv-small" (Wong et al.'s small network).
    """
    filters = _check_units("filters", filters)
    if len(filters) != 2:
        raise ValueError(f"filters must hold two ints (conv-small has two convolutions), "
                         f"got {filters!r}.")
    _check_units("dense", (dense,))
    shape = _check_common(input_shape, num_classes, estimator)
    _check_weights(weights, ternary_threshold)
    quantized = {"weights": weights, "ternary_threshold": ternary_threshold}
    if len(shape) != 3 or min(shape[:2]) < 10:
        raise ValueError(f"input_shape must be (height, width, channels) with height and "
                         f"width >= 10 for two 4x4/2 convolutions, got {input_shape!r}.")
    inputs = keras.Input(shape=shape, name="image")
    x = InputQuantizer(name="quantize_input")(inputs)
    for i, f in enumerate(filters, start=1):
        x = _binary("conv", f, estimator, i == 1, f"conv{i}", kernel_size=4, strides=2,
                    padding="valid", **quantized)(x)
        x = _batch_norm(f"bn{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = _binary("dense", dense, estimator, False, "dense3", **quantized)(x)
    x = _batch_norm("bn3")(x)
    x = _binary("dense", num_classes, estimator, False, "logits_dense", **quantized)(x)
    logits = _batch_norm("logits")(x)
    return keras.Model(inputs, logits, name=name)


BUILDERS: dict[str, Callable[..., keras.Model]] = {
    "binary_mlp": binary_mlp,
    "conv_small": conv_small,
}
"""The verifiable builders by name, for `tfbnn.models.build_model`."""
