"""The Carlini-Wagner L2 attack (Carlini & Wagner, 2017), targeted and untargeted.

CW-L2 minimises ``||x' - x||_2^2 + c * f(x')`` over ``x' = box(tanh(w))`` (the change of
variables keeps ``x'`` inside ``[clip_min, clip_max]`` without clipping), with Adam on
``w`` and the margin loss ``f`` on the logits ``Z`` (the paper's f6)::

    targeted, target t:    f = max(max_{i != t} Z_i - Z_t, -confidence)
    untargeted, label y:   f = max(Z_y - max_{i != y} Z_i, -confidence)

A binary search over ``c``, per example, looks for the smallest ``c`` that still
succeeds, and every example keeps its smallest-L2 success over all steps. The first
paper ("Attacking Binarized Neural Networks", section 3.1.2, Table 3, Figure 2) ran the
*targeted* attack from CleverHans for 100 to 1,000 iterations.

# Why tfbnn does not use CleverHans 4's ``carlini_wagner_l2``

CleverHans 4.0.0's ``cleverhans.tf2.attacks.carlini_wagner_l2`` has bugs that change
the numbers it reports (tests/test_cw.py demonstrates each):

1. **The ``targeted`` argument is ignored** (CleverHans issue 1228).
   ``CarliniWagnerL2.__init__`` sets ``self.targeted = y is not None``, so the mode
   follows whether labels were given, not what was asked: an *untargeted* call that
   passes the true labels (``y=labels, targeted=False``) runs a *targeted* attack
   towards those labels. The clean input already "reaches" that target at iteration
   0, so the attack returns the inputs unchanged (up to the 1e-6 of the tanh
   transform) and reports every example as robust. A targeted call with ``y`` runs
   targeted, and an untargeted call without ``y`` runs untargeted on the model's
   predictions, which is the one mode where the semantics are right.
2. **The trade-off constant has the shape of the input, not of the batch.**
   ``const = tf.ones(shape) * initial_const`` is ``(batch, 28, 28, 1)`` and the loss
   computes ``reduce_sum(const * loss_1)`` with ``loss_1`` of shape ``(batch,)``,
   which broadcasts to ``(batch, 28, 28, batch)`` and sums to
   ``sum(const) * sum(loss_1)``: every example's margin term is weighted by the sum
   of the constant over all examples and pixels, ``batch * 784 * c`` on MNIST instead
   of ``c``. The binary-search update mixes the ``(batch,)`` bounds with this
   constant, which becomes ``(batch, 28, 28, batch)``; its last axis then acts as the
   example axis, so each example keeps its own search, but every constant keeps the
   factor ``batch * 784``. The attack's strength and L2 therefore depend on the batch
   size: with ``abort_early=False`` a batch of B at ``initial_const=c`` gives what
   batches of one give at ``B * c``, and what tfbnn gives at ``B * 784 * c``. With
   more than one channel the product does not broadcast at all unless the batch size
   is 1 or equals the number of channels (RGB images fail at batch sizes but 1 and 3).
3. **The binary search never lowers the constant.** The update tests ``best_score``
   (the best over *all* steps so far) instead of the current step's, so once an
   example has succeeded every later step counts as a success; and the final
   ``const * 10`` is applied to every example not bisected in the failure branch,
   successes included. After a first success at ``c`` (lower bound ``l``) the
   constant goes to ``5 * (l + c)`` and stays there: extra binary-search steps rerun
   at a larger constant instead of looking for a smaller one.

Smaller points: the success check subtracts ``confidence`` from *every* logit (which
leaves the argmax unchanged, so ``confidence`` is ignored when deciding success and
the examples returned need not have the requested margin), early abort uses the whole
batch's loss (coupling the examples of a batch), every call retraces its
``tf.function``, and a ``batch_size`` smaller than the input fails with Keras 2's
Adam (each chunk makes a new ``tf.Variable`` that the optimizer, built for the first
chunk, rejects with a ``KeyError``).

With a batch of one, ``abort_early=False`` and one binary-search step, CleverHans's
iterates match tfbnn's at ``initial_const`` times 784 (tests/test_cw.py checks this).

tfbnn's implementation follows Carlini & Wagner's reference code: per-example
constants and binary search (x10 until the first success, then bisection), the f6
margin with ``confidence`` applied to the label's logit only, Adam (Keras's update,
state reset at each binary-search step), and the best L2 per example among the
successful iterates. It differs in two respects, both per-example refinements:
early abort is decided per example (an example whose loss has not dropped by 0.01 %
over ``max_iterations // 10`` iterations stops moving, as CW's batch-wide test does for
a batch of one), and the iterations stop as soon as every example has stopped. The
iterations of one binary-search step run in a ``tf.while_loop`` inside one cached
``tf.function``, vectorised over the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfbnn import checks
from tfbnn.attacks import core
from tfbnn.batching import batch_slices

# Adam's constants, as in Keras (and CleverHans 4, which uses Keras's Adam).
_BETA_1 = 0.9
_BETA_2 = 0.999
_EPSILON = 1e-7
# Carlini & Wagner shrink the inputs by this factor before arctanh, so that inputs on
# the box's faces map to finite w.
_TANH_SHRINK = 0.999999
_NO_BOUND = 1e10


def carlini_wagner_l2(
    model_fn: Callable,
    x,
    y=None,
    targeted: bool = False,
    clip_min: float = 0.0,
    clip_max: float = 1.0,
    binary_search_steps: int = 5,
    max_iterations: int = 1000,
    learning_rate: float = 5e-3,
    initial_const: float = 1e-2,
    confidence: float = 0.0,
    abort_early: bool = True,
    batch_size: int | None = None,
    return_details: bool = False,
):
    """Carlini-Wagner L2: the smallest-L2 adversarial example found by Adam per example.

    Defaults are CleverHans 4's (and the first paper's CleverHans 2's). Adam moves ``w``
    by about ``learning_rate`` per iteration in tanh space, and pixels on the box's faces
    (MNIST's black background) start at ``|w| ~ 7.25`` where ``tanh`` is flat, so with
    the default ``learning_rate`` short runs change little: use ~1,000 iterations, or a
    larger ``learning_rate`` (e.g. 0.1) for short runs.

    # Arguments
        model_fn: callable mapping a batch of inputs to logits (a Keras model, a
            SavedModel callable from `tfbnn.export.load_saved_model`, any function).
        x: batch of inputs inside ``[clip_min, clip_max]``.
        y: for a targeted attack, the target classes (required); otherwise the labels
            to move away from, ``None`` for the model's own predictions.
        targeted: reach ``y`` (True) or leave it (False).
        clip_min, clip_max: the input box, ``clip_min < clip_max``.
        binary_search_steps: steps of the per-example search over the constant ``c``
            (>= 1); with 10 or more the last step reruns at the best known upper bound.
        max_iterations: Adam steps per binary-search step (>= 1).
        learning_rate: Adam's learning rate (> 0).
        initial_const: starting value of ``c`` (> 0).
        confidence: the margin ``kappa`` (>= 0) by which the target's logit must win
            (targeted) or the label's logit must lose (untargeted) to count as success.
        abort_early: stop an example once its loss stalls (see the module docstring).
        batch_size: attack this many examples at a time (``None``: the whole batch).
        return_details: also return the per-example L2 distance and success flags.

    # Returns
        The adversarial batch (a float32 tensor shaped like ``x``); examples for which
        no success was found are returned unchanged. With ``return_details=True``,
        ``(x_adv, l2, success)``: the L2 distance of each returned example to ``x``
        (0 where it failed) and whether it is adversarial with the given confidence.

    # Raises
        ValueError: for bad argument values, a targeted attack without ``y``, labels
            of the wrong shape or range, or inputs outside the box.

    # References
        - Carlini, Wagner. Towards Evaluating the Robustness of Neural Networks.
          IEEE S&P 2017.
        - Galloway, Taylor, Moussa. Attacking Binarized Neural Networks. ICLR 2018,
          section 3.1.2.
    """
    checks.check_box(clip_min, clip_max, "carlini_wagner_l2")
    checks.check_int("binary_search_steps", binary_search_steps, 1)
    checks.check_int("max_iterations", max_iterations, 1)
    checks.check_number("learning_rate", learning_rate, positive=True)
    checks.check_number("initial_const", initial_const, positive=True)
    checks.check_number("confidence", confidence, minimum=0)
    checks.check_int("batch_size", batch_size, 1, allow_none=True)
    if not isinstance(targeted, (bool, np.bool_)):
        raise ValueError(f"targeted must be True or False, got {targeted!r}.")
    if targeted and y is None:
        raise ValueError("A targeted attack needs the target classes y (targeted=True, y=None).")
    checks.check_callable(model_fn)
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    num_classes = int(model_fn(x[:1]).shape[-1])
    # Default labels are the predictions of each chunk (below), not of the whole batch.
    x, y = core.prepare(model_fn, x, y, targeted, clip_min, clip_max, num_classes=num_classes,
                        predict=False)

    config = CWConfig(bool(targeted), float(confidence), float(learning_rate),
                      int(max_iterations), bool(abort_early), float(clip_min), float(clip_max),
                      num_classes)
    if tf.executing_eagerly():
        compiled = core.compiled(_cw_search_step, model_fn, config)

        def search(*tensors):
            return compiled(*tensors, ())
    else:
        search = _cw_search_step(model_fn, config)

    n = x.shape[0]
    if batch_size is None or n is None or n <= batch_size:
        chunks = [(x, y)]
    else:
        chunks = [(x[part], None if y is None else y[part])
                  for part in batch_slices(n, batch_size)]
    results = [
        _attack_batch(search, model_fn, chunk_x, chunk_y, binary_search_steps, initial_const,
                      clip_min, clip_max)
        for chunk_x, chunk_y in chunks
    ]
    x_adv = tf.concat([r[0] for r in results], 0) if len(results) > 1 else results[0][0]
    if not return_details:
        return x_adv
    l2 = tf.concat([r[1] for r in results], 0)
    success = tf.concat([r[2] for r in results], 0)
    return x_adv, l2, success


def _attack_batch(search, model_fn, x, y, binary_search_steps, initial_const, clip_min, clip_max):
    """The binary search over the constant for one batch; returns (x_adv, l2, success)."""
    if y is None:
        labels = core.predicted_labels(model_fn, x)
    else:
        labels = tf.convert_to_tensor(y)
    labels = tf.cast(labels, tf.int64)
    batch = tf.shape(x)[:1]
    # Clip: inputs up to 1e-6 outside the box pass `tfbnn.checks.check_inputs`, and arctanh of
    # anything at or beyond +-1 is inf or NaN, which would silently fail the attack.
    unit = tf.clip_by_value((x - clip_min) / (clip_max - clip_min), 0.0, 1.0)
    w_x = tf.atanh((2.0 * unit - 1.0) * _TANH_SHRINK)
    lower = tf.zeros(batch)
    upper = tf.fill(batch, _NO_BOUND)
    const = tf.fill(batch, float(initial_const))
    best_l2 = tf.fill(batch, np.inf)
    best_adv = x
    for step in range(binary_search_steps):
        if binary_search_steps >= 10 and step == binary_search_steps - 1:
            const = upper  # Carlini & Wagner's "repeat": one last run at the upper bound
        best_l2, best_adv, found = search(x, w_x, labels, const, best_l2, best_adv)
        upper = tf.where(found, tf.minimum(upper, const), upper)
        lower = tf.where(found, lower, tf.maximum(lower, const))
        const = tf.where(
            upper < _NO_BOUND / 10, (lower + upper) / 2.0, tf.where(found, const, const * 10.0)
        )
    success = tf.math.is_finite(best_l2)
    l2 = tf.where(success, tf.sqrt(best_l2), tf.zeros_like(best_l2))
    return tf.stop_gradient(best_adv), l2, success


def _margin(logits, labels, onehot, targeted, confidence):
    """f6 of Carlini & Wagner and the matching success test, per example."""
    label_logit = core.true_logit(logits, labels)
    other = core.max_other_logit(logits, labels)
    if targeted:
        f = tf.maximum(other - label_logit, -confidence)
        success = tf.argmax(logits - confidence * onehot, -1) == tf.argmax(onehot, -1)
    else:
        f = tf.maximum(label_logit - other, -confidence)
        success = tf.argmax(logits + confidence * onehot, -1) != tf.argmax(onehot, -1)
    return f, success


class CWConfig(NamedTuple):
    """What one traced binary-search step depends on besides its tensors."""

    targeted: bool
    confidence: float
    learning_rate: float
    max_iterations: int
    abort_early: bool
    clip_min: float
    clip_max: float
    num_classes: int


def _cw_search_step(model_fn, c: CWConfig):
    """One binary-search step as a function of tensors (for `core.compiled`).

    Runs up to ``max_iterations`` Adam steps from ``w = 0`` at constants ``const``,
    folding every successful iterate with a smaller L2 into ``(best_l2, best_adv)``
    (squared L2, infinite where none yet). Returns the updated pair and whether each
    example succeeded during this step.
    """
    targeted, confidence, learning_rate = c.targeted, c.confidence, c.learning_rate
    max_iterations, abort_early, clip_min = c.max_iterations, c.abort_early, c.clip_min
    num_classes = c.num_classes
    check_every = max(max_iterations // 10, 1)
    scale = (c.clip_max - clip_min) / 2.0

    def to_box(w):
        return clip_min + (tf.tanh(w) + 1.0) * scale

    def step(x, w_x, labels, const, best_l2, best_adv):
        onehot = tf.one_hot(labels, num_classes, dtype=x.dtype)
        axes = list(range(1, x.shape.rank))
        expand = [-1] + [1] * (x.shape.rank - 1)

        def body(i, w, m, v, active, prev, best_l2, best_adv, found):
            with tf.GradientTape() as tape:
                tape.watch(w)
                x_new = to_box(w_x + w)
                logits = model_fn(x_new)
                l2 = tf.reduce_sum(tf.square(x_new - x), axes)
                f, success = _margin(logits, labels, onehot, targeted, confidence)
                loss = l2 + const * f
                # The sum must be taken under the tape: a target computed outside it
                # is not connected to w and its gradient is None.
                total = tf.reduce_sum(loss)
            grad = tape.gradient(total, w)
            success = tf.logical_and(success, active)
            better = tf.logical_and(success, l2 < best_l2)
            best_l2 = tf.where(better, l2, best_l2)
            best_adv = tf.where(tf.reshape(better, expand), x_new, best_adv)
            found = tf.logical_or(found, success)
            if abort_early:
                check = tf.logical_and(i % check_every == 0, i > 0)
                stalled = tf.logical_and(check, loss > prev * 0.9999)
                active = tf.logical_and(active, tf.logical_not(stalled))
                prev = tf.where(i % check_every == 0, loss, prev)
            t = tf.cast(i + 1, x.dtype)
            m_new = m + (grad - m) * (1.0 - _BETA_1)
            v_new = v + (tf.square(grad) - v) * (1.0 - _BETA_2)
            alpha = learning_rate * tf.sqrt(1.0 - _BETA_2**t) / (1.0 - _BETA_1**t)
            w_new = w - alpha * m_new / (tf.sqrt(v_new) + _EPSILON)
            moving = tf.reshape(active, expand)
            w = tf.where(moving, w_new, w)
            m = tf.where(moving, m_new, m)
            v = tf.where(moving, v_new, v)
            return i + 1, w, m, v, active, prev, best_l2, best_adv, found

        batch = tf.shape(x)[:1]
        zeros = tf.zeros_like(x)
        state = (
            tf.constant(0), zeros, zeros, zeros, tf.ones(batch, tf.bool),
            tf.fill(batch, np.float32(np.inf)), best_l2, best_adv, tf.zeros(batch, tf.bool),
        )
        state = tf.while_loop(
            lambda i, *s: tf.logical_and(i < max_iterations, tf.reduce_any(s[3])), body, state
        )
        return state[-3], state[-2], state[-1]

    return step
