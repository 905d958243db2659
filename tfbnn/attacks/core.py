"""The core every attack is built from: threat models, the opening, the worst case, margins.

- A threat model per norm (`LinfBall`, `L2Ball`; `ball(norm)`): its uniform random
  `start`, its steepest-ascent `step` and its `project`\\ion, after foolbox 3's one object
  per norm. Attacks never branch on the norm themselves.
- `prepare`: the opening every attack shares (a callable model, targets for targeted
  attacks, ``x`` as float32 inside the clip range, labels that fit, the probability
  warning, the model's own predictions as default labels).
- `Candidate` and `keep_worst`: per example, the worst case over restarts (the first
  adversarial point, else the highest objective).
- `true_logit`, `max_other_logit`, `margin`: the logit differences CW, APGD's DLR and
  Square are written in.
- `loss_gradient`, the objective's input gradient (averaged over draws for an `EOT`
  model), and `compiled`, the per-model cache of traced attacks.

Argument names follow CleverHans 4 (``model_fn, x, eps, eps_iter, nb_iter, norm,
clip_min, clip_max, y, targeted``) everywhere.
"""

from __future__ import annotations

import collections
import inspect
import itertools
import weakref
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfbnn import checks

__all__ = [
    "Ball", "Batch", "Candidate", "L2Ball", "LinfBall", "ParametrizedLoss", "ball", "broadcast_eps",
    "clip_to_range", "compiled", "default_loss", "draw_seed", "is_adversarial", "keep_worst",
    "loss_gradient", "loss_params", "madry_step", "margin", "max_other_logit", "per_example",
    "predicted_labels", "prepare", "score", "true_logit", "uniform_noise",
]


# --------------------------------------------------------------------------- threat models


def per_example(v: tf.Tensor, rank: int) -> tf.Tensor:
    """A ``(batch,)`` vector reshaped to broadcast against a rank-``rank`` batch."""
    return tf.reshape(v, [-1] + [1] * (rank - 1))


def _flat_norm(v: tf.Tensor) -> tf.Tensor:
    axes = list(range(1, v.shape.rank))
    return tf.sqrt(tf.maximum(tf.reduce_sum(tf.square(v), axes, keepdims=True), 1e-24))


def _uniform(shape, low, high, dtype, seed):
    if seed is None:
        return tf.random.uniform(shape, low, high, dtype=dtype)
    return tf.random.stateless_uniform(shape, seed=[seed, 0], minval=low, maxval=high, dtype=dtype)


def _normal(shape, dtype, seed):
    if seed is None:
        return tf.random.normal(shape, dtype=dtype)
    return tf.random.stateless_normal(shape, seed=[seed, 1], dtype=dtype)


def uniform_noise(x: tf.Tensor, low: float, high: float, seed=None) -> tf.Tensor:
    """Uniform noise shaped like ``x``; deterministic for an int ``seed`` (stateless)."""
    return _uniform(tf.shape(x), low, high, x.dtype, seed)


class Ball:
    """A threat model: the eps-ball of one norm around each input.

    ``seed`` arguments are ``None`` (stateful random ops) or an int scalar (or int
    tensor): the draws are then stateless, uniforms from the key ``[seed, 0]`` and
    normals from ``[seed, 1]``, so the same seed gives the same start.
    """

    norm: float
    name: str

    def start(self, x: tf.Tensor, eps, seed=None) -> tf.Tensor:
        """A uniform random perturbation inside the eps-ball around 0."""
        raise NotImplementedError

    def step(self, grad: tf.Tensor, size) -> tf.Tensor:
        """The step of length ``size`` that maximises ``<step, grad>``."""
        raise NotImplementedError

    def project(self, delta: tf.Tensor, eps) -> tf.Tensor:
        """The perturbation ``delta`` projected onto the eps-ball."""
        raise NotImplementedError


class LinfBall(Ball):
    """The L-infinity ball: a box of half-width eps."""

    norm, name = np.inf, "linf"

    def start(self, x, eps, seed=None):
        return _uniform(tf.shape(x), -1.0, 1.0, x.dtype, seed) * eps

    def step(self, grad, size):
        return size * tf.sign(grad)

    def project(self, delta, eps):
        return tf.clip_by_value(delta, -eps, eps)


class L2Ball(Ball):
    """The joint L2 ball of each whole input."""

    norm, name = 2, "l2"

    def start(self, x, eps, seed=None):
        shape = tf.shape(x)
        direction = _normal(shape, x.dtype, seed)
        direction = direction / _flat_norm(direction)
        dims = tf.cast(tf.reduce_prod(shape[1:]), x.dtype)
        radius = _uniform(shape[:1], 0.0, 1.0, x.dtype, seed) ** (1.0 / dims)
        return direction * per_example(radius, x.shape.rank) * eps

    def step(self, grad, size):
        return size * grad / _flat_norm(grad)

    def project(self, delta, eps):
        return delta * tf.minimum(1.0, eps / _flat_norm(delta))


_BALLS = {np.inf: LinfBall(), 2: L2Ball()}


def ball(norm) -> Ball:
    """The threat model of ``norm`` (``np.inf``/``"linf"`` or ``2``)."""
    return _BALLS[checks.check_norm(norm)]


def clip_to_range(x: tf.Tensor, clip_min, clip_max) -> tf.Tensor:
    """``x`` clipped into ``[clip_min, clip_max]`` (unchanged when there is no range)."""
    if clip_min is None:
        return x
    return tf.clip_by_value(x, clip_min, clip_max)


def broadcast_eps(eps, x: tf.Tensor) -> tf.Tensor:
    """``eps`` as a tensor broadcastable against ``x``: scalar, or one value per example."""
    eps = tf.cast(eps, x.dtype)
    if eps.shape.rank == 1:
        eps = per_example(eps, x.shape.rank)
    return eps


def madry_step(eps, nb_iter: int):
    """Madry et al.'s step size for ``nb_iter`` PGD steps: ``2.5 * eps / nb_iter``."""
    return 2.5 * eps / nb_iter


# --------------------------------------------------------------------------- the opening


class Batch(NamedTuple):
    """What `prepare` hands an attack: float32 inputs and the labels (or targets)."""

    x: tf.Tensor
    y: object


def prepare(model_fn: Callable, x, y, targeted: bool, clip_min=None, clip_max=None, *,
            num_classes: int | None = None, count_classes: bool = False,
            warn: bool = True, predict: bool = True) -> Batch:
    """The checks every attack opens with, and its inputs as it needs them.

    ``model_fn`` must be callable and a targeted attack needs ``y``; ``x`` becomes a
    float32 tensor, checked finite and inside the clip range (when concrete); given
    labels are checked against the batch (and against ``num_classes``, or the model's
    output width when ``count_classes``: one forward pass on one input); ``warn``
    checks the outputs for probabilities (one forward pass on up to 8 inputs); and
    missing labels become the model's own predictions when ``predict`` (no label
    leaking). Each forward pass is made only when asked for, so a stochastic model's
    random draws are spent exactly as each attack documents.
    """
    checks.check_callable(model_fn)
    if targeted and y is None:
        raise ValueError("A targeted attack needs the target labels y.")
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    checks.check_inputs(x, clip_min, clip_max)
    if y is not None:
        if count_classes and num_classes is None and tf.executing_eagerly():
            num_classes = int(model_fn(x[:1]).shape[-1])
        checks.check_labels(y, x.shape[0], num_classes)
    if warn:
        checks.warn_if_probabilities(model_fn, x)
    if y is None and predict:
        y = predicted_labels(model_fn, x)
    return Batch(x, y)


def draw_seed(seed) -> int:
    """``seed`` checked (an int >= 0), or a fresh one when None."""
    checks.check_seed(seed)
    return int(np.random.default_rng().integers(0, 2**31 - 1)) if seed is None else int(seed)


def predicted_labels(model_fn: Callable, x: tf.Tensor) -> tf.Tensor:
    """The model's own predictions, the default labels (no label leaking)."""
    return tf.argmax(model_fn(x), axis=-1)


# --------------------------------------------------------------------------- objectives


def default_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per-example softmax cross-entropy on integer labels."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def true_logit(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """``z_y`` per example."""
    return tf.gather(logits, tf.cast(labels, tf.int32), axis=-1, batch_dims=1)


def max_other_logit(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """``max_{i != y} z_i`` per example."""
    mask = tf.equal(tf.range(tf.shape(logits)[-1]), tf.cast(labels, tf.int32)[:, None])
    lowest = tf.fill(tf.shape(logits), tf.constant(-np.inf, logits.dtype))
    return tf.reduce_max(tf.where(mask, lowest, logits), axis=-1)


def margin(labels, logits) -> tf.Tensor:
    """``max_{i != y} z_i - z_y`` per example: positive exactly when misclassified."""
    logits = tf.convert_to_tensor(logits)
    return max_other_logit(logits, labels) - true_logit(logits, labels)


def is_adversarial(logits: tf.Tensor, y: tf.Tensor, targeted: bool) -> tf.Tensor:
    """Per-example success: prediction differs from ``y`` (or equals the target)."""
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int64)
    hit = tf.equal(predicted, tf.cast(y, tf.int64))
    return hit if targeted else tf.logical_not(hit)


def loss_gradient(model_fn: Callable, loss_fn: Callable, x: tf.Tensor, y: tf.Tensor,
                  targeted: bool) -> tuple[tf.Tensor, tf.Tensor]:
    """Gradient of the attack objective with respect to ``x``, and the per-example loss.

    The objective is ``loss_fn(y, model_fn(x))``, negated for targeted attacks so that
    ascending it moves towards the target. For an `EOT` model the objective is the
    loss averaged over the model's random draws, so the gradient is the average of the
    draws' gradients (expectation over transformation).
    """
    with tf.GradientTape() as tape:
        tape.watch(x)
        draws = getattr(model_fn, "eot_draws", None)
        if draws is None:
            loss = loss_fn(y, model_fn(x))
        else:
            loss = tf.add_n([loss_fn(y, model_fn.draw(x)) for _ in range(draws)]) / draws
        if targeted:
            loss = -loss
    return tape.gradient(loss, x), loss


# --------------------------------------------------------------------------- worst case


class Candidate(NamedTuple):
    """Per example: a point, whether it is adversarial, and the objective it reaches
    (higher is better for the attacker)."""

    x: tf.Tensor
    success: tf.Tensor
    objective: tf.Tensor


def score(model_fn: Callable, loss_fn: Callable, x_adv, y, targeted: bool) -> Candidate:
    """``x_adv`` as a `Candidate`: success and objective (the loss, negated when targeted)."""
    logits = model_fn(x_adv)
    loss = loss_fn(y, logits)
    return Candidate(x_adv, is_adversarial(logits, y, targeted), -loss if targeted else loss)


def keep_worst(best: Candidate, new: Candidate) -> Candidate:
    """Per example, the worse case for the model of ``best`` and ``new``.

    An adversarial ``best`` is kept (the first success wins); otherwise ``new`` replaces
    it when ``new`` is adversarial or reaches a higher objective.
    """
    take = tf.logical_and(tf.logical_not(best.success),
                          tf.logical_or(new.success, new.objective > best.objective))
    return Candidate(
        tf.where(per_example(take, best.x.shape.rank), new.x, best.x),
        tf.logical_or(best.success, new.success),
        tf.where(take, new.objective, best.objective))


# --------------------------------------------------------------------------- compiling


class ParametrizedLoss:
    """A loss with tensor parameters, e.g. a per-example temperature.

    ``ParametrizedLoss(fn, *params)(labels, logits) == fn(labels, logits, *params)``.
    Attacks that compile themselves (see `compiled`) pass ``params`` into the compiled
    function as inputs, so a new temperature reuses the traced graph instead of
    tracing a new one. ``key`` identifies ``fn`` across instances (default: ``fn``).
    """

    def __init__(self, fn: Callable, *params, key=None):
        self.fn = fn
        self.params = tuple(tf.convert_to_tensor(p) for p in params)
        self.key = fn if key is None else key

    def __call__(self, labels, logits):
        return self.fn(labels, logits, *self.params)

    def with_params(self, params) -> "ParametrizedLoss":
        return ParametrizedLoss(self.fn, *params, key=self.key)


def loss_params(loss_fn: Callable | None) -> tuple:
    """The tensors `compiled` passes for ``loss_fn`` (empty for a plain loss)."""
    return loss_fn.params if isinstance(loss_fn, ParametrizedLoss) else ()


_COMPILED_MAX = 32
_COMPILED: collections.OrderedDict = collections.OrderedDict()
_TOKENS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_NEXT_TOKEN = itertools.count()


def compiled(build: Callable, model_fn: Callable, config, loss_fn: Callable | None = None
             ) -> Callable:
    """A cached ``tf.function`` of ``build(model_fn, config[, loss_fn])`` for one model.

    Attacks called eagerly run through this: a compiled PGD is about twice as fast as
    an eager one on CPU, and the cache means a model is traced once per configuration,
    not once per call (CleverHans 4's module-level ``tf.function`` retraces whenever
    it meets a new model). ``build`` returns a function of tensors, and is given
    ``loss_fn`` only when there is one; the compiled function takes those tensors and,
    last, the parameters of a `ParametrizedLoss` (`loss_params`, ``()`` otherwise).
    ``config`` is the attack's frozen, hashable configuration (a `typing.NamedTuple`).

    The cache holds the `_COMPILED_MAX` most recently used entries (least recently used
    out first). It refers to models weakly where Python allows it, so it never keeps a
    model alive; a model is known by a token of its own, never reused for another.

    A stochastic model's random ops keep their state inside a traced graph, so its
    draws depend on whether a graph is reused or traced anew: seed such models (or
    average over draws) before comparing numbers across runs.
    """
    loss_key = loss_fn.key if isinstance(loss_fn, ParametrizedLoss) else loss_fn
    identity, model_ref = _identity(model_fn)
    key = (build, identity, loss_key, config)
    try:
        function = _COMPILED.pop(key)
    except (KeyError, TypeError):  # TypeError: an unhashable model_fn or config value
        function = None
    if function is None:
        def run(*tensors):
            *inputs, params = tensors
            if loss_fn is None:
                return build(model_ref(), config)(*inputs)
            loss = loss_fn.with_params(params) if isinstance(loss_fn, ParametrizedLoss) else loss_fn
            return build(model_ref(), config, loss)(*inputs)

        function = _batch_polymorphic(tf.function(run, reduce_retracing=True))
    try:
        _COMPILED[key] = function
        while len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    except TypeError:
        pass
    return function


BATCH_POLYMORPHIC = True
"""Trace compiled attacks for any batch size (`_batch_polymorphic`); False restores
TensorFlow's behaviour (a trace per new size until ``reduce_retracing`` relaxes it), for
benchmarks/evaluate_scaling.py's before/after comparison."""


def _relaxed(t):
    """The spec of ``t`` with its first (batch) dimension unknown."""
    t = tf.convert_to_tensor(t)
    shape = t.shape if t.shape.rank in (None, 0) else tf.TensorShape([None]).concatenate(
        t.shape[1:])
    return tf.TensorSpec(shape, t.dtype)


def _batch_polymorphic(function):
    """Call ``function`` through the graph traced for inputs of any batch size.

    A cascade attacks a different number of examples at every stage and batch; traced
    for each size, every attack retraced (TensorFlow's "triggered tf.function retracing"
    warnings) until ``reduce_retracing`` relaxed the shapes at the second size. Here the
    first call already traces for an unknown first dimension, so an attack is traced once
    per configuration, whatever the batch sizes.
    """
    def call(*tensors):
        if not BATCH_POLYMORPHIC:
            return function(*tensors)
        tensors = tf.nest.map_structure(tf.convert_to_tensor, tensors)
        specs = tf.nest.map_structure(_relaxed, tensors)
        return function.get_concrete_function(*specs)(*tensors)

    call.function = function
    return call


def _token(owner) -> int:
    try:
        return _TOKENS[owner]
    except KeyError:
        _TOKENS[owner] = token = next(_NEXT_TOKEN)
        return token


def _identity(model_fn):
    """``(key, ref)``: a hashable key for ``model_fn`` that does not keep it alive and is
    never reused by another object, and a callable returning ``model_fn`` (a weak
    reference where Python allows one)."""
    try:
        if inspect.ismethod(model_fn):
            token = _token(model_fn.__self__)
            return ("method", token, model_fn.__func__), weakref.WeakMethod(model_fn)
        return ("object", _token(model_fn)), weakref.ref(model_fn)
    except TypeError:  # neither weakly referable nor hashable as a weak key
        return model_fn, (lambda: model_fn)
