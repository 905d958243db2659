"""The exact integer network inside a Keras/Larq BNN: `extract` and `IntegerNetwork`.

A supported model is a chain ``[InputQuantizer] -> (binary layer -> post-ops)* ``
where a binary layer is a Larq ``QuantDense`` or ``QuantConv2D`` whose quantized kernel
is ``+-alpha`` per output channel, or ternary ``{-alpha, 0, +alpha}`` (e.g. Larq's
``SteTern``, Jia & Rinard's sparse weights: a zero weight drops its term), every binary layer after the first binarizes its input
with a sign quantizer, and the post-ops between two binary layers (and after the last)
are batch normalization, ``Flatten``, ``Reshape`` and ``Dropout``.

`extract` reads each binary layer as integer weights in {-1, 0, +1} and each neuron as a
function of its integer pre-activation ``s = sum_i w_i a_i``:

- a hidden neuron outputs ``+1`` iff ``direction * s >= threshold`` (integers). The
  threshold is found by evaluating Keras's *own* operations (bias add, the batch
  normalizations, the next layer's sign quantizer) on every candidate integer ``s`` by
  bisection, so float32 rounding and ``sign(0)`` are exactly Keras's: nothing is folded
  by hand, and a negative batch-norm scale simply flips ``direction``.
- an output neuron's logit is tabulated for every ``s`` in its range, again with
  Keras's own operations; the verifier compares classes through the ranks of those
  float32 values, which reproduces Keras's ``argmax`` exactly, ties included (the
  first of tied classes wins).

The integer sums are exact in float32 because every input is an integer (the grey
levels of `tfbnn.models.InputQuantizer`, then +-1) and every weight is +-1, as long as
they stay below 2^24 (zero weights add exact zeros). A per-channel kernel scale ``alpha`` (e.g. Larq's
``magnitude_aware_sign``) is folded in as the float32 product ``alpha * s``: exact when
``alpha`` is a power of two; otherwise Keras's float32 sum of ``+-alpha`` terms can
differ from ``alpha * s`` in the last bit, and only the self-check on random grid inputs
and the replay of every counterexample stand guard.

`extract` ends with that self-check: the integer network's logits must equal the Keras
model's, bit for bit, on random points of the grid (and on any inputs given).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import larq as lq
import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfbnn.models.verifiable import InputQuantizer, quantize_to_levels

__all__ = ["BinaryLayer", "ExtractionError", "IntegerNetwork", "UnsupportedModelError",
           "extract"]

_SHAPE_OPS = (keras.layers.Flatten, keras.layers.Reshape, keras.layers.Dropout)
_POST_OPS = (keras.layers.BatchNormalization,) + _SHAPE_OPS
_LINEAR = (lq.layers.QuantDense, lq.layers.QuantConv2D)
_EXACT_SUM = 2 ** 24

SUPPORTED = (
    "a chain of layers: InputLayer; tfbnn.models.InputQuantizer (before the first binary "
    "layer); Larq QuantDense / QuantConv2D with a sign or ternary kernel quantizer (weights "
    "+-1 or {-1, 0, +1}, or those times alpha per output channel), no activation, the first one reading the quantized "
    "levels (input_quantizer=None) and every later one a sign input_quantizer; "
    "BatchNormalization, Flatten, Reshape and Dropout between and after them"
)


class UnsupportedModelError(ValueError):
    """The model is outside what `tfbnn.verify` verifies exactly; the message names the
    first layer that is not supported and why."""


class ExtractionError(RuntimeError):
    """The extracted integer network disagrees with the Keras model: a bug."""


@dataclass(frozen=True)
class BinaryLayer:
    """One binary layer of the integer network.

    Every output neuron ``j`` (flattened row-major, as Keras's ``Flatten``) reads the
    flat input through ``fan_index[j]`` (``n_in`` stands for a padding position, whose
    value is ``pad_value``) with weights ``fan_weight[j]`` in {-1, 0, +1}:
    ``s_j = sum_k fan_weight[j, k] * a[fan_index[j, k]]``.

    Hidden layers: neuron ``j`` is ``+1`` iff ``direction[j] * s_j >= threshold[j]``.
    Output layer: the logit of class ``j`` is ``logit_table[j, s_j + offset]`` and its
    rank among all tabulated values ``rank_table[j, s_j + offset]``.
    """

    name: str
    kind: str
    fan_index: np.ndarray
    fan_weight: np.ndarray
    n_in: int
    pad_value: int
    output_shape: tuple
    direction: np.ndarray | None = None
    threshold: np.ndarray | None = None
    logit_table: np.ndarray | None = None
    rank_table: np.ndarray | None = None
    offset: int = 0

    @property
    def n_out(self) -> int:
        return self.fan_index.shape[0]

    @property
    def is_output(self) -> bool:
        return self.logit_table is not None

    def preactivation(self, a: np.ndarray) -> np.ndarray:
        """Integer pre-activations ``s`` of a batch of flat integer inputs ``a``."""
        a = np.asarray(a, np.int64)
        ext = np.concatenate([a, np.full((len(a), 1), self.pad_value, np.int64)], axis=1)
        return np.einsum("njk,jk->nj", ext[:, self.fan_index], self.fan_weight.astype(np.int64))

    def bounds(self, a_lo: np.ndarray, a_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interval bounds of ``s`` over the box ``a_lo <= a <= a_hi`` (flat, one example)."""
        lo = np.append(np.asarray(a_lo, np.int64), self.pad_value)[self.fan_index]
        hi = np.append(np.asarray(a_hi, np.int64), self.pad_value)[self.fan_index]
        w = self.fan_weight.astype(np.int64)
        return (np.where(w > 0, w * lo, w * hi).sum(1), np.where(w > 0, w * hi, w * lo).sum(1))

    def activate(self, s: np.ndarray) -> np.ndarray:
        """+-1 outputs of a hidden layer from its pre-activations."""
        return np.where(self.direction * s >= self.threshold, 1, -1)


@dataclass
class IntegerNetwork:
    """The exact integer form of a supported Keras BNN (see `extract`).

    # Arguments
        model: the Keras model it was read from (counterexamples are replayed on it).
        quantizer: its `InputQuantizer` layer.
        input_shape: shape of one model input.
        layers: the binary layers, the last one the output layer.
    """

    model: keras.Model
    quantizer: InputQuantizer
    input_shape: tuple
    layers: list[BinaryLayer] = field(default_factory=list)

    @property
    def levels(self) -> int:
        return self.quantizer.levels

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def num_classes(self) -> int:
        return self.layers[-1].n_out

    def describe(self) -> str:
        parts = [f"{self.n_inputs} inputs (levels 0..{self.levels})"]
        parts += [f"{layer.name} ({layer.kind}, {layer.n_out})" for layer in self.layers]
        return " -> ".join(parts)

    def forward(self, levels: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Hidden +-1 activations of every layer and the output pre-activations, for a
        batch of flat integer levels ``(n, n_inputs)``."""
        a = np.asarray(levels, np.int64).reshape(len(levels), -1)
        hidden = []
        for layer in self.layers[:-1]:
            a = layer.activate(layer.preactivation(a))
            hidden.append(a)
        return hidden, self.layers[-1].preactivation(a)

    def logits(self, levels: np.ndarray) -> np.ndarray:
        """Logits (float32, equal to Keras's bit for bit) of a batch of levels."""
        out = self.layers[-1]
        _, s = self.forward(levels)
        return out.logit_table[np.arange(out.n_out), s + out.offset]

    def predict(self, levels: np.ndarray) -> np.ndarray:
        """Classes of a batch of levels: Keras's ``argmax`` (first of tied maxima)."""
        out = self.layers[-1]
        _, s = self.forward(levels)
        return out.rank_table[np.arange(out.n_out), s + out.offset].argmax(-1)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Flat integer levels of float inputs, by the model's own quantizer."""
        x = np.asarray(x, np.float32)
        q = quantize_to_levels(tf.constant(x), self.levels).numpy()
        return q.reshape(len(x), -1).astype(np.int64)

    def domain(self, x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
        """Per pixel, the smallest and largest level the model can see from the ball.

        The ball is ``[max(x - eps, 0), min(x + eps, 1)]`` computed in float32, as the
        attacks project; the model's quantizer is monotone, so the levels it produces
        from the ball are every integer between the levels of the two ends. For ``x`` on
        the grid and ``255 eps`` an integer this is exactly the grid points ``k / 255``
        with ``|k / 255 - x| <= eps``; when ``255 eps`` is a half-integer (eps = 0.1 is
        25.5 levels) an end of the ball rounds half to even and may reach one level more
        on a side, which an attack on the continuous ball reaches too, so it is included.
        """
        low, high = ball(x, eps)
        return self.quantize(low), self.quantize(high)

    def to_input(self, levels: np.ndarray, x: np.ndarray, eps: float) -> np.ndarray:
        """A float32 input in the ball of ``x`` that the model quantizes to ``levels``.

        Each pixel is ``k / levels`` when that grid point lies in the ball, else the end
        of the ball that quantizes to ``k``.
        """
        levels = np.asarray(levels, np.int64).reshape(len(levels), -1)
        low, high = ball(x, eps)
        low, high = low.reshape(len(levels), -1), high.reshape(len(levels), -1)
        grid = levels.astype(np.float32) / np.float32(self.levels)
        point = np.where(grid < low, low, np.where(grid > high, high, grid))
        point = point.reshape((len(levels),) + tuple(self.input_shape))
        if not np.array_equal(self.quantize(point), levels):
            raise ExtractionError("A level vector has no input in the ball that quantizes to "
                                  "it: the verifier's domain is wrong; this is a bug.")
        return point


def ball(x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The ends of the L-inf ball intersected with [0, 1], in float32."""
    x = np.asarray(x, np.float32)
    e = np.float32(eps)
    return np.maximum(x - e, np.float32(0)), np.minimum(x + e, np.float32(1))


# --------------------------------------------------------------------------- extraction


def _refuse(layer, reason: str) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"tfbnn.verify cannot verify this model exactly: layer {layer.name!r} "
        f"({type(layer).__name__}) {reason}. Supported: {SUPPORTED}; "
        "tfbnn.models.binary_mlp and tfbnn.models.conv_small build such models.")


def _chain(model) -> list:
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a Keras model (tf_keras), got {model!r}.")
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedModelError(
            f"tfbnn.verify needs a model with one input and one output, got "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs.")
    previous = None
    for layer in layers:
        if isinstance(layer, keras.Model):
            raise _refuse(layer, "is a nested model; build the network as one flat chain")
        nodes = layer.inbound_nodes
        inbound = nodes[0].inbound_layers if len(nodes) == 1 else None
        inbound = inbound if isinstance(inbound, (list, tuple)) else [inbound]
        if len(nodes) != 1 or len(inbound) != 1 or (
                previous is not None and inbound[0] is not previous):
            raise _refuse(layer, "is not part of a single chain (it has several inputs, is "
                                 "shared, or branches off)")
        previous = layer
    return layers


def _sign_quantizer(layer, quantizer) -> None:
    if quantizer is None:
        raise _refuse(layer, "reads real-valued inputs (input_quantizer=None): every binary "
                             "layer after the first must binarize its inputs with a sign "
                             "(e.g. input_quantizer='ste_sign')")
    probe = tf.constant([-3.0, -1.0, -0.5, -1e-7, 0.0, 1e-7, 0.5, 1.0, 3.0])
    out = np.asarray(quantizer(probe))
    if not (np.all(np.isin(out, (-1.0, 1.0))) and np.all(np.diff(out) >= 0)
            and out[0] == -1 and out[-1] == 1):
        raise _refuse(layer, f"has input_quantizer {type(quantizer).__name__}, which is not a "
                             "sign (outputs other than -1 and +1, or not monotone)")


def _binary_kernel(layer) -> tuple[np.ndarray, np.ndarray]:
    """Signs (int8, 0 for a zero weight) and per-output-channel scale (float32) of a
    layer's quantized kernel: binary ``+-alpha`` or ternary ``{-alpha, 0, +alpha}``."""
    if layer.kernel_quantizer is None:
        raise _refuse(layer, "has full-precision weights (kernel_quantizer=None); every layer, "
                             "the first included, must have binary weights")
    latent = getattr(layer.kernel, "latent_variable", layer.kernel)
    kernel = np.asarray(layer.kernel_quantizer(tf.convert_to_tensor(latent)), np.float32)
    flat = kernel.reshape(-1, kernel.shape[-1])
    alpha = np.abs(flat).max(0)
    if not np.all(np.isfinite(alpha)):
        raise _refuse(layer, "has non-finite quantized weights")
    if not np.all((flat == 0) | (np.abs(flat) == alpha)):
        raise _refuse(layer, f"has kernel quantizer {type(layer.kernel_quantizer).__name__} "
                             "whose outputs are not +-alpha (or 0) per output channel")
    # a channel of zeros only: its sum is 0 whatever alpha, which Keras computes as 0 too
    alpha = np.where(alpha == 0, np.float32(1), alpha)
    return np.sign(kernel).astype(np.int8), alpha.astype(np.float32)


def _check_linear(layer) -> None:
    activation = keras.activations.serialize(layer.activation)
    if activation not in ("linear", None):
        raise _refuse(layer, f"has activation {activation!r}; put batch normalization and "
                             "the next layer's sign input quantizer after it instead")
    if isinstance(layer, lq.layers.QuantConv2D):
        if layer.data_format != "channels_last":
            raise _refuse(layer, "uses channels_first; only channels_last is supported")
        if tuple(layer.dilation_rate) != (1, 1) or getattr(layer, "groups", 1) != 1:
            raise _refuse(layer, "uses dilation or groups")
        if layer.padding not in ("valid", "same"):
            raise _refuse(layer, f"uses padding {layer.padding!r}")
        pad = layer.pad_values
        if tf.is_tensor(pad) or float(pad) != int(pad):
            raise _refuse(layer, f"pads with {pad!r}; pad values must be integers")
    elif len(layer.input_shape) != 2:
        raise _refuse(layer, f"is a dense layer on inputs of shape {layer.input_shape[1:]}; "
                             "flatten them first")


def _fan(layer, signs: np.ndarray, n_in: int) -> tuple[np.ndarray, np.ndarray, tuple]:
    if isinstance(layer, lq.layers.QuantDense):
        n_out = signs.shape[1]
        index = np.broadcast_to(np.arange(n_in, dtype=np.int32), (n_out, n_in)).copy()
        return index, np.ascontiguousarray(signs.T), (n_out,)
    h, w, c = layer.input_shape[1:]
    kh, kw, _, c_out = signs.shape
    sh, sw = layer.strides
    if layer.padding == "valid":
        oh, ow, top, left = (h - kh) // sh + 1, (w - kw) // sw + 1, 0, 0
    else:
        oh, ow = -(-h // sh), -(-w // sw)
        top = max((oh - 1) * sh + kh - h, 0) // 2
        left = max((ow - 1) * sw + kw - w, 0) // 2
    oy, ox, ky, kx, ci = np.meshgrid(np.arange(oh), np.arange(ow), np.arange(kh),
                                     np.arange(kw), np.arange(c), indexing="ij")
    iy, ix = oy * sh - top + ky, ox * sw - left + kx
    inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    flat = np.where(inside, (iy * w + ix) * c + ci, n_in).reshape(oh * ow, kh * kw * c)
    index = np.repeat(flat, c_out, axis=0).astype(np.int32)  # neuron (oy, ox, co) row-major
    weight = np.tile(signs.reshape(kh * kw * c, c_out).T, (oh * ow, 1))
    return index, np.ascontiguousarray(weight), (oh, ow, c_out)


def _post(layer, alpha, posts, shape):
    """Keras's own operations from the integer sums ``s`` (n, *shape) to the values the
    next layer (or the output) sees, flattened."""
    bias = None if not layer.use_bias else layer.bias

    def run(s: np.ndarray) -> np.ndarray:
        t = tf.constant(np.asarray(s, np.float32).reshape((-1,) + shape) * alpha)
        if bias is not None:
            t = tf.nn.bias_add(t, bias)
        for op in posts:
            t = op(t, training=False)
        return np.asarray(t).reshape(len(s), -1)

    return run


def _thresholds(run, quantizer, s_lo, s_hi):
    """Bisection, per neuron, of the monotone +-1 function ``quantizer(run(s))``."""

    def signs(s):
        return np.asarray(quantizer(tf.constant(run(s[None].astype(np.float32))))).reshape(-1)

    f_lo, f_hi = signs(s_lo), signs(s_hi)
    rising, falling = (f_lo < 0) & (f_hi > 0), (f_lo > 0) & (f_hi < 0)
    a, b = s_lo.copy(), s_hi.copy()  # rising: f(a) = -1, f(b) = +1; falling: the reverse
    while np.any((b - a > 1) & (rising | falling)):
        m = (a + b) // 2
        f_m = signs(m)
        move_b = np.where(rising, f_m > 0, f_m < 0) & (b - a > 1)
        move_a = ~move_b & (b - a > 1)
        b, a = np.where(move_b, m, b), np.where(move_a, m, a)
    direction = np.where(falling, -1, 1).astype(np.int8)
    threshold = np.where(rising, b, np.where(falling, -a, np.where(f_lo > 0, s_lo, s_hi + 1)))
    return direction, threshold.astype(np.int64)


def _finish(layer, alpha, posts, fan, quantizer, n_in, pad, a_lo, a_hi) -> BinaryLayer:
    index, weight, out_shape = fan
    draft = BinaryLayer(layer.name, "conv" if len(out_shape) == 3 else "dense", index, weight,
                        n_in, pad, out_shape)
    s_lo, s_hi = draft.bounds(a_lo, a_hi)
    if max(np.abs(s_lo).max(), np.abs(s_hi).max()) >= _EXACT_SUM:
        raise _refuse(layer, "has sums beyond 2^24, which float32 does not hold exactly")
    run = _post(layer, alpha, posts, out_shape)
    if quantizer is not None:
        direction, threshold = _thresholds(run, quantizer, s_lo, s_hi)
        return replace(draft, direction=direction, threshold=threshold)
    offset = int(max(-s_lo.min(), s_hi.max()))
    grid = np.arange(-offset, offset + 1, dtype=np.int64)
    table = run(np.broadcast_to(grid[:, None], (len(grid), draft.n_out))).T.astype(np.float32)
    if table.shape[0] != draft.n_out:
        raise _refuse(posts[-1] if posts else layer, "changes the number of outputs")
    if not np.all(np.isfinite(table)):
        raise _refuse(layer, "produces non-finite logits")
    values = np.unique(table)
    ranks = np.searchsorted(values, table).astype(np.int64)
    return replace(draft, logit_table=table, rank_table=ranks, offset=offset)


def extract(model: keras.Model, *, check_inputs: np.ndarray | None = None,
            n_check: int = 256, seed: int = 0) -> IntegerNetwork:
    """Read a supported Keras/Larq BNN as an exact integer network, or refuse it.

    # Arguments
        model: the Keras model (see the module docstring for what is supported).
        check_inputs: inputs in [0, 1] (model input shape) added to the self-check.
        n_check: random grid inputs of the self-check (half uniform levels, half near
            the inputs given or near mid-grey).
        seed: seed of those random inputs.

    # Returns
        The `IntegerNetwork`.

    # Raises
        UnsupportedModelError: naming the first layer outside the supported set.
        ExtractionError: the integer network's logits differ from Keras's on a check
            input (a bug).
    """
    layers = _chain(model)
    quantizer, pending, network_layers = None, None, []
    n_in = None
    a_lo = a_hi = None
    for layer in layers:
        if isinstance(layer, InputQuantizer):
            if quantizer is not None or pending is not None:
                raise _refuse(layer, "is not the first quantizer before the first binary layer")
            quantizer = layer
        elif isinstance(layer, _LINEAR):
            if quantizer is None:
                raise _refuse(layer, "is the first binary layer but its inputs are not on the "
                                     "8-bit grid: add tfbnn.models.InputQuantizer before it")
            _check_linear(layer)
            signs, alpha = _binary_kernel(layer)
            layer_in = int(np.prod(layer.input_shape[1:]))
            if pending is None:
                if layer.input_quantizer is not None:
                    raise _refuse(layer, "binarizes the quantized pixel levels with an "
                                         "input_quantizer; the first binary layer must read "
                                         "the levels (input_quantizer=None)")
                n_in = layer_in
                a_lo, a_hi = np.zeros(n_in, np.int64), np.full(n_in, quantizer.levels, np.int64)
            else:
                _sign_quantizer(layer, layer.input_quantizer)
                prev, prev_alpha, posts, fan, pad = pending
                done = _finish(prev, prev_alpha, posts, fan, layer.input_quantizer,
                               n_in, pad, a_lo, a_hi)
                network_layers.append(done)
                n_in = done.n_out
                if n_in != layer_in:
                    raise _refuse(layer, f"expects {layer_in} inputs but the layer before "
                                         f"gives {n_in}")
                a_lo, a_hi = np.full(n_in, -1, np.int64), np.ones(n_in, np.int64)
            pad = int(getattr(layer, "pad_values", 0))
            pending = (layer, alpha, [], _fan(layer, signs, n_in), pad)
        elif isinstance(layer, _POST_OPS):
            if pending is not None:
                pending[2].append(layer)
            elif isinstance(layer, keras.layers.BatchNormalization):
                raise _refuse(layer, "comes before the first binary layer; normalize after it")
        else:
            raise _refuse(layer, "is not a supported layer")
    if pending is None:
        raise UnsupportedModelError(f"tfbnn.verify found no binary layer in model "
                                    f"{model.name!r}. Supported: {SUPPORTED}.")
    prev, prev_alpha, posts, fan, pad = pending
    network_layers.append(_finish(prev, prev_alpha, posts, fan, None, n_in, pad,
                                  a_lo, a_hi))
    if len(model.output_shape) != 2 or model.output_shape[-1] != network_layers[-1].n_out:
        raise _refuse(layers[-1], f"leaves outputs of shape {model.output_shape[1:]}; the model "
                                  "must end in one vector of logits")
    network = IntegerNetwork(model, quantizer, tuple(model.input_shape[1:]), network_layers)
    _self_check(network, check_inputs, n_check, seed)
    return network


def _self_check(network: IntegerNetwork, check_inputs, n_check: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape, levels = network.input_shape, network.levels
    uniform = rng.integers(0, levels + 1, (n_check - n_check // 2,) + shape)
    if check_inputs is not None and len(check_inputs):
        base = network.quantize(np.asarray(check_inputs, np.float32)).reshape(
            (-1,) + shape)[rng.integers(0, len(check_inputs), n_check // 2)]
    else:
        base = np.full((n_check // 2,) + shape, levels // 2)
    near = np.clip(base + rng.integers(-8, 9, base.shape), 0, levels)
    grid = np.concatenate([uniform, near]).astype(np.float32) / np.float32(levels)
    if check_inputs is not None:
        grid = np.concatenate([grid, np.asarray(check_inputs, np.float32).reshape((-1,) + shape)])
    keras_logits = np.asarray(network.model(tf.constant(grid), training=False))
    levels_in = network.quantize(grid)
    ours = network.logits(levels_in)
    if not np.array_equal(ours, keras_logits):
        bad = np.flatnonzero(np.any(ours != keras_logits, axis=1))
        raise ExtractionError(
            f"The integer network of {network.model.name!r} differs from the Keras model on "
            f"{len(bad)} of {len(grid)} check inputs (first: input {bad[0]}, largest logit "
            f"difference {np.abs(ours - keras_logits).max():g}); this is a bug in "
            "tfbnn.verify.extract, please report it with the model.")
