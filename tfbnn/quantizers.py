"""Quantizers for the BNNs of "Attacking Binarized Neural Networks".

Each quantizer is a pure function with a ``tf.custom_gradient`` plus a thin Larq
quantizer class (registered with Keras, serializable, with ``precision = 1``), so it
plugs into any Larq quantized layer as ``input_quantizer`` or ``kernel_quantizer``.

Two straight-through estimators (STE) of the sign's gradient are on offer, and they
do not train the same networks:

- Larq's ``ste_sign`` passes the upstream gradient only where ``|x| <= 1`` and zeroes it
  elsewhere (Hubara et al., 2016).
- ``passthrough_sign`` (this module) passes the upstream gradient everywhere, clipped
  elementwise to ``[-1, 1]``: the estimator of the first paper's released code. It is
  tfbnn's default for the paper's models.

``stochastic_sign`` samples each weight's sign from a Bernoulli distribution whose
probability is the hard sigmoid of the latent weight (Courbariaux et al., 2015), at
train *and* test time, as the first paper's "S" models do.

The weight binarizers of the second paper's BNN-WQ networks (Gupta & Ajanthan, 2022,
trained as in Ajanthan et al., "Mirror Descent View for Neural Network Quantization",
AISTATS 2021):

- BC (BinaryConnect): ``sign(w)`` forward, the gradient passed straight through where
  ``|w| <= 1`` and zeroed elsewhere: exactly Larq's ``ste_sign`` (``SteSign(clip_value=1)``),
  which tfbnn uses as is (`binary_connect` names it).
- GD-tanh: ``tanh(beta * w)`` forward, its true gradient ``beta (1 - tanh^2(beta w))``
  backward (`TanhSign` with ``mode="gd"``).
- MD-tanh-S: ``tanh(beta * w)`` forward, the gradient with respect to ``tanh(beta w)``
  applied to ``w`` unchanged (mirror descent's "stable" form; ``mode="md"``).

``beta`` is a non-trainable weight of each `TanhSign`, annealed upward during training by
`tfbnn.training.BetaAnnealing`; `tfbnn.training.finalize_binary` then replaces the latent
weights by their signs, so the network evaluated and exported has weights of exactly +-1.
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf
import tensorflow_probability as tfp

__all__ = [
    "TANH_MODES",
    "PassThroughSign",
    "StochasticSign",
    "TanhSign",
    "binary_connect",
    "hard_sigmoid",
    "passthrough_sign",
    "sign",
    "stochastic_sign",
]


def sign(x: tf.Tensor) -> tf.Tensor:
    """Sign with ``sign(0) = +1``, so that the output is always ``-1`` or ``+1``."""
    return tf.where(x >= 0, tf.ones_like(x), -tf.ones_like(x))


def hard_sigmoid(x: tf.Tensor) -> tf.Tensor:
    """``clip((x + 1) / 2, 0, 1)``, the hard sigmoid of Courbariaux et al. (2015)."""
    return tf.clip_by_value((x + 1.0) / 2.0, 0.0, 1.0)


def passthrough_sign(x: tf.Tensor, grad_clip: float | None = 1.0) -> tf.Tensor:
    """Binarize to ±1 and pass the upstream gradient straight through, clipped.

    Forward: ``sign(x)`` with ``sign(0) = +1``. Backward: ``clip(dy, -grad_clip,
    grad_clip)`` everywhere, whatever ``|x|`` is; ``grad_clip=None`` passes ``dy``
    unchanged. Unlike Larq's ``ste_sign``, the gradient does not vanish where
    ``|x| > 1``, which is what the first paper's released code did.

    # Arguments
        x: tensor to binarize.
        grad_clip: elementwise bound on the gradient passed back, or ``None``.

    # Returns
        A tensor of the same shape and dtype as ``x`` holding ``-1`` and ``+1``.
    """

    @tf.custom_gradient
    def _call(x):
        def grad(dy):
            if grad_clip is None:
                return dy
            return tf.clip_by_value(dy, -grad_clip, grad_clip)

        return sign(x), grad

    return _call(tf.convert_to_tensor(x))


def stochastic_sign(x: tf.Tensor, seed: int | None = None) -> tf.Tensor:
    """Sample ``2 * Bernoulli(hard_sigmoid(x)) - 1`` with a straight-through gradient.

    Each call draws a fresh sample (in eager mode and inside a ``tf.function`` alike);
    with ``tf.random.set_seed`` and a fixed ``seed`` the sequence of samples is
    reproducible. The gradient is that of the expected output,
    ``d E[q(x)] / dx = d clip(x, -1, 1) / dx = 1{|x| <= 1}``, times the upstream
    gradient, so training moves the latent weights. (The first paper's released code
    built the Bernoulli sample outside the gradient path, so its latent weights never
    received a gradient; tfbnn fixes that and tests it.)

    # Arguments
        x: latent (real-valued) weights.
        seed: op-level seed for the Bernoulli sampler.

    # Returns
        A tensor of the same shape and dtype as ``x`` holding ``-1`` and ``+1``.

    # References
        - Courbariaux, Bengio, David. BinaryConnect (2015), eq. 3.
        - Galloway, Taylor, Moussa. Attacking Binarized Neural Networks (2018), sec. 3.
    """

    @tf.custom_gradient
    def _call(x):
        probs = hard_sigmoid(x)
        bits = tfp.distributions.Bernoulli(probs=probs, dtype=x.dtype).sample(seed=seed)

        def grad(dy):
            return tf.where(tf.abs(x) <= 1.0, dy, tf.zeros_like(dy))

        return 2.0 * bits - 1.0, grad

    return _call(tf.convert_to_tensor(x))


@lq.utils.register_alias("passthrough_sign")
@lq.utils.register_keras_custom_object
class PassThroughSign(lq.quantizers.Quantizer):
    """Larq quantizer for `passthrough_sign`: ±1 forward, clipped identity backward.

    # Arguments
        grad_clip: elementwise bound on the gradient passed back, or ``None``.

    # Example
        ```python
        layer = lq.layers.QuantConv2D(
            32, 3, input_quantizer="passthrough_sign", kernel_quantizer="passthrough_sign"
        )
        ```
    """

    precision = 1

    def __init__(self, grad_clip: float | None = 1.0, **kwargs):
        if grad_clip is not None and not grad_clip > 0:
            raise ValueError(f"grad_clip must be positive or None, got {grad_clip!r}.")
        self.grad_clip = grad_clip
        super().__init__(**kwargs)

    def call(self, inputs):
        return passthrough_sign(inputs, grad_clip=self.grad_clip)

    def get_config(self):
        return {**super().get_config(), "grad_clip": self.grad_clip}


@lq.utils.register_alias("stochastic_sign")
@lq.utils.register_keras_custom_object
class StochasticSign(lq.quantizers.Quantizer):
    """Larq quantizer for `stochastic_sign`: a fresh Bernoulli sign per forward pass.

    Used as a ``kernel_quantizer``, the layer's weights are resampled at every call,
    in training and at test time, and stay stochastic after SavedModel export.

    # Arguments
        seed: op-level seed of the sampler (see ``tf.random.set_seed``).
    """

    precision = 1

    def __init__(self, seed: int | None = None, **kwargs):
        if seed is not None and not isinstance(seed, int):
            raise TypeError(f"seed must be an int or None, got {seed!r}.")
        self.seed = seed
        super().__init__(**kwargs)

    def call(self, inputs):
        return stochastic_sign(inputs, seed=self.seed)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def binary_connect(w: tf.Tensor) -> tf.Tensor:
    """BinaryConnect's binarizer: ``sign(w)`` (``sign(0) = +1``) forward, the upstream
    gradient where ``|w| <= 1`` and zero elsewhere. Larq's ``ste_sign`` with clip value 1.

    # References
        - Courbariaux, Bengio, David. BinaryConnect (2015).
    """
    return lq.quantizers.ste_sign(w, clip_value=1.0)


TANH_MODES = ("gd", "md")
"""`TanhSign` modes: ``"gd"`` (GD-tanh: the gradient through tanh) and ``"md"``
(MD-tanh-S: the gradient with respect to tanh(beta w) applied to w unchanged)."""


@lq.utils.register_alias("tanh_sign")
@lq.utils.register_keras_custom_object
class TanhSign(lq.quantizers.Quantizer):
    """``tanh(beta * w)``, a binarizer that becomes ``sign(w)`` as ``beta`` grows.

    ``beta`` is a non-trainable weight of the quantizer (so checkpoints and ``.keras``
    files keep it and a resumed ``fit`` continues from it), set by
    `tfbnn.training.BetaAnnealing` during training.

    # Arguments
        mode: ``"gd"`` (GD-tanh: backward through tanh, ``beta (1 - tanh^2(beta w))``) or
            ``"md"`` (MD-tanh-S: backward ``dL/dw = dL/dtanh(beta w)``).
        beta: the starting ``beta`` (the authors: 1).

    # References
        - Ajanthan, Gupta, Torr, Hartley, Dokania. Mirror Descent View for Neural Network
          Quantization. AISTATS 2021 (tanh mirror map; the "S" = stable form).
        - Gupta, Ajanthan. AAAI 2022, BNN-WQ networks (their Tables 1-5).
    """

    precision = 1

    def __init__(self, mode: str = "md", beta: float = 1.0, **kwargs):
        if mode not in TANH_MODES:
            raise ValueError(f"mode must be one of {TANH_MODES} ('gd': GD-tanh, 'md': "
                             f"MD-tanh-S), got {mode!r}.")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
            raise ValueError(f"beta must be a number > 0, got {beta!r}.")
        self.mode = mode
        self.initial_beta = float(beta)
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.beta = self.add_weight(
            name="beta", shape=(), trainable=False,
            initializer=tf.keras.initializers.Constant(self.initial_beta))
        super().build(input_shape)

    def call(self, inputs):
        beta = tf.cast(self.beta, inputs.dtype)
        if self.mode == "gd":
            return tf.tanh(beta * inputs)
        return _tanh_straight_through(inputs, beta)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "beta": self.initial_beta}


@tf.custom_gradient
def _tanh_straight_through(w, beta):
    def grad(dy):
        return dy, tf.zeros_like(beta)

    return tf.tanh(beta * w), grad

