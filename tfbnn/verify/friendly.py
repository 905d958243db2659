"""Verification-friendly training: networks that the exact verifier answers faster.

A dense BNN trained the usual way is slow to verify: many hidden neurons sit close to
their thresholds, so over an eps-ball interval bounds decide few of them and CP-SAT
must branch on the rest. Jia & Rinard (NeurIPS 2020) train for verifiability; tfbnn
offers the two ingredients the issue names, both usable with ``model.fit``:

- **Ternary (sparse) weights**: ``tfbnn.models.binary_mlp(..., weights="ternary")``
  (and ``conv_small``) quantize the kernels with Larq's ``SteTern`` (``0`` where the
  latent ``|w| <= ternary_threshold``, else ``sign(w)``, straight-through gradient). A
  zero weight drops its term from the neuron's sum, so the interval bounds of a
  first-layer neuron shrink with the number of its non-zero weights and the CP-SAT
  constraints get sparser. `tfbnn.verify.extract` reads ternary layers exactly.
- **A margin penalty** (`MarginTrainer`): a hinge that pushes each hidden neuron's
  integer sum ``s`` away from its threshold ``t`` (batch norm folded in) until interval
  bounds decide the neuron over the ball: by ``eps * levels * ||w||_1`` in the first
  layer, ``2 * flip * ||w||_1`` in later ones (see `MarginTrainer`). It does not depend
  on the batch norm's scale (which cannot change a sign), so it cannot be met by
  inflating it; the cross-entropy keeps the neurons informative. This is the ReLU
  stability penalty of Xiao et al. transposed to sign neurons, with the interval
  radius of the first layer exact and that of later layers a chosen flip fraction.

`stability` measures what both aim at: the fraction of hidden neurons that interval
bounds decide over the ball (the exact encoding leaves them out of the search).

```python
from tfbnn import models, training
from tfbnn.verify import friendly

model = models.binary_mlp((100, 100), weights="ternary")
trainer = friendly.MarginTrainer(model, weight=0.1, eps=0.1, flip=0.1)
training.compile_model(trainer)
trainer.fit(x_train, y_train, epochs=5)
model.save("friendly.keras")            # an ordinary supported BNN: tfbnn certify reads it
```

# References
    - Jia, Rinard. Efficient Exact Verification of Binarized Neural Networks. NeurIPS
      2020 (ternary weights, training for verification speed).
    - Xiao et al. Training for Faster Adversarial Robustness Verification via Inducing
      ReLU Stability. ICLR 2019 (the stability penalty, for ReLU networks).
"""

from __future__ import annotations

import larq as lq
import numpy as np
import tensorflow as tf
import tf_keras as keras

__all__ = ["MarginTrainer", "hidden_batch_norms", "sparsity", "stability"]

_SHAPE_OPS = (keras.layers.Flatten, keras.layers.Reshape, keras.layers.Dropout)
_LINEAR = (lq.layers.QuantDense, lq.layers.QuantConv2D)


def hidden_batch_norms(model: keras.Model) -> list:
    """The batch normalizations whose outputs a sign reads: each one followed (through
    shape layers only) by a binary layer with an input quantizer."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    found = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        nxt = next((later for later in layers[i + 1:] if not isinstance(later, _SHAPE_OPS)),
                   None)
        if isinstance(nxt, _LINEAR) and nxt.input_quantizer is not None:
            found.append(layer)
    return found


def _linear_before(model: keras.Model, bn):
    layers = model.layers
    for layer in reversed(layers[:layers.index(bn)]):
        if isinstance(layer, _LINEAR):
            return layer
        if not isinstance(layer, _SHAPE_OPS):
            break
    raise ValueError(f"batch normalization {bn.name!r} does not follow a binary layer.")


class MarginTrainer(keras.Model):
    """Wrap a verifiable model so that ``fit`` adds the margin penalty to its loss.

    For every hidden neuron ``j`` (the batch normalizations of `hidden_batch_norms` and
    the binary layer before each) and every example, the distance of its integer sum from
    its threshold per unit of weight, ``d_j = |s_j - t_j| / ||w_j||_1`` (``t_j``: the
    threshold with the batch's statistics folded in, as in training), is compared with
    the distance at which interval bounds decide the neuron:

    - first binary layer (reading grey levels): over the L-inf ball of ``eps`` the sum
      moves by at most ``eps * levels * ||w_j||_1``, so the neuron is stable when
      ``d_j > eps * levels``;
    - later layers (reading +-1): the sum moves by ``2 ||w_j||_1`` times the weighted
      fraction of inputs that flip, so it is stable when ``d_j > 2 * flip`` if at most a
      ``flip`` fraction flips.

    The penalty is ``weight * mean(relu(1 - d_j / target_j))`` (0 for a stable neuron, 1
    at the threshold), in training only. It does not depend on the batch norm's scale
    (which cannot change a sign), and smaller ``||w_j||_1`` (more zero weights of a
    ternary network) raises ``d_j``. The weights are the wrapped model's: save
    ``trainer.model``, an ordinary model without the penalty, which
    `tfbnn.verify.extract` reads.

    # Arguments
        model: a Keras model such as `tfbnn.models.binary_mlp` or `conv_small`.
        weight: the penalty's weight, > 0.
        eps: the L-inf radius (input units) the first layer should be stable over.
        flip: the fraction of a later layer's inputs (by weight) it should withstand
            flipping, in (0, 1].

    # Raises
        ValueError: a bad argument, or a model without hidden batch normalizations before
            signs.
    """

    def __init__(self, model: keras.Model, weight: float = 0.1, eps: float = 0.1,
                 flip: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("weight", weight), ("eps", eps), ("flip", flip)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}; e.g. "
                                 "weight=0.1, eps=0.1, flip=0.1.")
        if flip > 1 or eps > 1:
            raise ValueError(f"eps ({eps!r}) and flip ({flip!r}) must be at most 1.")
        norms = hidden_batch_norms(model)
        if not norms:
            raise ValueError(f"model {model.name!r} has no batch normalization read by a sign "
                             "(BatchNormalization before a binary layer with an "
                             "input_quantizer); build it with tfbnn.models.binary_mlp or "
                             "conv_small.")
        from tfbnn.models.verifiable import InputQuantizer

        quantizer = next((l for l in model.layers if isinstance(l, InputQuantizer)), None)
        levels = quantizer.levels if quantizer is not None else 1
        self.model = model
        self.weight, self.eps, self.flip = float(weight), float(eps), float(flip)
        self.norms = norms
        self.linears = [_linear_before(model, bn) for bn in norms]
        self.targets = [eps * levels if linear.input_quantizer is None else 2 * flip
                        for linear in self.linears]
        self._probe = keras.Model(model.inputs,
                                  [bn.input for bn in norms] + list(model.outputs))
        self.penalty_tracker = keras.metrics.Mean(name="margin_penalty")

    def call(self, inputs, training=None):
        *sums, logits = self._probe(inputs, training=training)
        if training:
            penalty = self.weight * self.penalty(sums)
            self.add_loss(penalty)
            self.penalty_tracker.update_state(penalty)
        return logits

    def penalty(self, sums) -> tf.Tensor:
        """The mean hinge over the hidden neurons, from their integer sums ``s``."""
        terms = []
        for bn, linear, target, s in zip(self.norms, self.linears, self.targets, sums):
            axes = list(range(len(s.shape) - 1))
            mean, var = tf.nn.moments(s, axes)
            sd = tf.sqrt(var + bn.epsilon)
            # the threshold of sign(gamma (s - mean) / sd + beta): t = mean - beta sd / gamma
            gamma = bn.gamma if bn.scale else tf.ones_like(mean)
            gamma = tf.where(tf.abs(gamma) < 1e-6, tf.fill(tf.shape(gamma), 1e-6), gamma)
            beta = bn.beta if bn.center else tf.zeros_like(mean)
            threshold = mean - beta * sd / gamma
            latent = getattr(linear.kernel, "latent_variable", linear.kernel)
            kernel = linear.kernel_quantizer(latent)
            l1 = tf.reduce_sum(tf.abs(tf.reshape(kernel, (-1, kernel.shape[-1]))), 0)
            distance = tf.abs(s - threshold) / tf.maximum(l1, 1.0)
            terms.append(tf.reduce_mean(tf.nn.relu(1.0 - distance / target)))
        return tf.add_n(terms) / len(terms)

    @property
    def metrics(self):
        return super().metrics + [self.penalty_tracker]


def sparsity(model: keras.Model) -> dict:
    """Per binary layer, the fraction of its quantized weights that are zero."""
    out = {}
    for layer in model.layers:
        if isinstance(layer, _LINEAR) and layer.kernel_quantizer is not None:
            latent = getattr(layer.kernel, "latent_variable", layer.kernel)
            kernel = np.asarray(layer.kernel_quantizer(tf.convert_to_tensor(latent)))
            out[layer.name] = float(np.mean(kernel == 0))
    return out


def stability(network, x: np.ndarray, eps: float) -> dict:
    """How many hidden neurons interval bounds decide over the eps-ball, per layer.

    # Arguments
        network: an `IntegerNetwork` (`tfbnn.verify.extract`).
        x: inputs in [0, 1].
        eps: the L-inf radius.

    # Returns
        ``{"decided_fraction": overall, "per_layer": [fraction of each hidden layer]}``,
        means over the examples.
    """
    from tfbnn.verify.bounds import interval_bounds

    lo, hi = network.domain(np.asarray(x, np.float32), eps)
    per_layer = []
    for i in range(len(lo)):
        per_layer.append([float(b.decided.mean()) for b in interval_bounds(network, lo[i], hi[i])
                          if b.a_lo is not None])
    per_layer = np.mean(per_layer, axis=0)
    sizes = [layer.n_out for layer in network.layers[:-1]]
    overall = float(np.dot(per_layer, sizes) / sum(sizes)) if sizes else 1.0
    return {"decided_fraction": overall, "per_layer": per_layer.tolist()}
