"""The Jacobian-based saliency map attack, JSMA (Papernot et al., 2016), an L0 attack.

CleverHans 4 has no JSMA; the first paper ("Attacking Binarized Neural Networks",
sections 3.1 and 4) ran CleverHans 2's, which this module follows in its choices:

- **Pairs of features.** Every iteration changes the two features ``p, q`` that
  maximise the pair saliency map of Papernot et al.'s Algorithm 3. With ``a`` the
  gradient of the output the attack wants up and ``b`` the summed gradients of the
  outputs it wants down, ``alpha = a_p + a_q`` and ``beta = b_p + b_q``, the pair must
  satisfy ``alpha > 0`` and ``beta < 0`` (signs flipped when ``theta < 0``, i.e. when
  features are decreased) and maximises ``-alpha * beta``. Both features then move by
  ``theta`` and are clipped to ``[clip_min, clip_max]``.
- **Logits by default.** The derivatives are those of the logits (CleverHans's
  choice; Carlini & Wagner's "JSMA-Z"). The first paper attributes part of the binary
  models' JSMA robustness to exactly this choice, so ``use_logits=False`` runs the
  attack on softmax probabilities instead ("JSMA-F"). With probabilities the outputs
  sum to one, so ``beta = -alpha`` and the map reduces to the largest ``alpha``.
- **Targeted or untargeted.** Targeted (the default, as in the paper and CleverHans):
  ``a`` is the target's output, ``b`` the sum of all the others. Untargeted: ``a`` is
  the sum of the outputs of every class but the true one, ``b`` the true class's
  output, i.e. the pair that best raises "any other class" while lowering the true
  one; it succeeds as soon as the prediction leaves ``y``.
- **Search domain.** A feature may be picked while it can still move in the direction
  of ``theta``: it leaves the search domain once it reaches ``clip_max`` (``clip_min``
  when decreasing), as in Papernot et al.'s algorithm. With ``theta = 1`` on
  ``[0, 1]`` images every picked feature saturates at once, so each feature is changed
  at most once, which is what CleverHans's implementation (which drops every picked
  feature) does.
- **Budget.** At most ``floor(gamma * n_features / 2)`` iterations, so at most a
  fraction ``gamma`` of the features changes. An example stops as soon as it reaches
  its goal, when no pair satisfies the sign conditions (CleverHans instead moves
  feature 0 twice, a no-op for the attack), or when fewer than two features remain.

The iterations run in a ``tf.while_loop`` inside one cached ``tf.function``
(`tfbnn.attacks.core.compiled`), vectorised over the batch; examples that reached
their goal stop changing. Every iteration costs one forward and two backward passes
(one for probabilities) plus a ``batch x n_features x n_features`` pair search, so
``batch_size`` bounds the memory: on MNIST each example needs a few 784 x 784
matrices, about 9 MB (measured peak), so the default 32 examples take some 300 MB.

# References
    - Papernot, McDaniel, Jha, Fredrikson, Celik, Swami. The Limitations of Deep
      Learning in Adversarial Settings. IEEE EuroS&P 2016 (Algorithms 1 and 3).
    - Carlini, Wagner. Towards Evaluating the Robustness of Neural Networks.
      IEEE S&P 2017 (JSMA-Z and JSMA-F).
    - Galloway, Taylor, Moussa. Attacking Binarized Neural Networks. ICLR 2018.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfbnn import checks
from tfbnn.attacks import core
from tfbnn.batching import batch_slices


def jacobian_saliency_map_method(
    model_fn: Callable,
    x,
    y=None,
    targeted: bool = True,
    theta: float = 1.0,
    gamma: float = 0.1,
    clip_min: float = 0.0,
    clip_max: float = 1.0,
    use_logits: bool = True,
    seed: int | None = None,
    batch_size: int | None = 32,
    return_details: bool = False,
):
    """JSMA: change pairs of features, picked by a saliency map, until the goal is met.

    # Arguments
        model_fn: callable mapping a batch of inputs to logits (a Keras model, a
            SavedModel callable, any function). Its examples must be independent
            (inference mode): the attack takes gradients of sums over the batch.
        x: batch of inputs inside ``[clip_min, clip_max]``, shape ``(batch, ...)``.
        y: targeted: the target classes, ``None`` to draw for each example a random
            class other than the model's prediction (as CleverHans did). Untargeted:
            the labels to move away from, ``None`` for the model's own predictions.
        targeted: reach ``y`` (True, the default) or leave it (False).
        theta: change applied to a picked feature, in input units; > 0 increases
            features (the paper: +1, pixels set to white), < 0 decreases them.
        gamma: the largest fraction of features that may change, in ``(0, 1]``. The
            attack runs at most ``floor(gamma * n_features / 2)`` iterations.
        clip_min, clip_max: the input box, ``clip_min < clip_max``.
        use_logits: saliency from the logits' derivatives (True, CleverHans) or from
            the softmax probabilities' (False).
        seed: seed of the random targets (targeted attack with ``y=None``); an int
            makes them deterministic.
        batch_size: attack this many examples at a time (memory grows with
            ``batch_size * n_features**2``); ``None``: the whole batch at once.
        return_details: also return per-example results (see Returns).

    # Returns
        The adversarial batch, a float32 tensor shaped like ``x``; examples that
        failed keep their last iterate. With ``return_details=True``, a tuple
        ``(x_adv, success, changed, labels)``: whether each example reached its goal
        (bool), the fraction of its features that changed (float32), and the target
        classes (targeted) or labels (untargeted) the attack used (int64).

    # Raises
        ValueError: for bad argument values, labels of the wrong shape or range,
            inputs outside the box.

    # References
        - Papernot, McDaniel, Jha, Fredrikson, Celik, Swami. The Limitations of Deep
          Learning in Adversarial Settings. IEEE EuroS&P 2016.
    """
    if not callable(model_fn):
        raise TypeError(f"model_fn must be callable (inputs -> logits), got {model_fn!r}.")
    if not isinstance(targeted, (bool, np.bool_)):
        raise ValueError(f"targeted must be True or False, got {targeted!r}.")
    checks.check_number("theta", theta)
    if theta == 0:
        raise ValueError("theta must be nonzero: > 0 increases features, < 0 decreases them; got 0.")
    checks.check_number("gamma", gamma)
    if not 0 < gamma <= 1:
        raise ValueError(
            f"gamma is the largest fraction of features to change and must lie in (0, 1], "
            f"got {gamma!r}."
        )
    checks.check_box(clip_min, clip_max, "jacobian_saliency_map_method")
    if not isinstance(use_logits, (bool, np.bool_)):
        raise ValueError(f"use_logits must be True or False, got {use_logits!r}.")
    checks.check_seed(seed)
    checks.check_int("batch_size", batch_size, 1, allow_none=True)

    x = tf.convert_to_tensor(x, dtype=tf.float32)
    if x.shape.rank is None or x.shape.rank < 2 or None in x.shape[1:]:
        raise ValueError(
            f"x must be a batch of shape (batch, features...) with known feature dimensions, "
            f"got shape {x.shape}."
        )
    checks.check_inputs(x, clip_min, clip_max)
    num_classes = int(model_fn(x[:1]).shape[-1])
    if num_classes < 2:
        raise ValueError(f"model_fn must return one logit per class (>= 2), got {num_classes}.")
    # Default labels, or random targets, come from `_labels` below (a targeted JSMA
    # needs no y), so `prepare` neither demands nor predicts them.
    x, y = core.prepare(model_fn, x, y, False, clip_min, clip_max, num_classes=num_classes,
                        predict=False)

    n_features = int(np.prod(x.shape[1:]))
    max_iters = int(np.floor(n_features * gamma / 2))
    config = JSMAConfig(bool(targeted), float(theta), float(clip_min), float(clip_max),
                        max_iters, bool(use_logits), num_classes)
    if tf.executing_eagerly():
        compiled = core.compiled(_jsma, model_fn, config)

        def attack(x_chunk, y_chunk):
            return compiled(x_chunk, y_chunk, ())
    else:
        attack = _jsma(model_fn, config)

    labels = _labels(model_fn, x, y, targeted, num_classes, seed, batch_size)
    n = x.shape[0]
    if batch_size is None or n is None or n <= batch_size:
        x_adv = attack(x, labels)
    else:
        x_adv = tf.concat([attack(x[part], labels[part]) for part in batch_slices(n, batch_size)],
                          0)
    x_adv = tf.stop_gradient(x_adv)
    if not return_details:
        return x_adv
    success = core.is_adversarial(_predict(model_fn, x_adv, batch_size), labels, targeted)
    axes = list(range(1, x.shape.rank))
    changed = tf.reduce_mean(tf.cast(tf.not_equal(x_adv, x), tf.float32), axes)
    return x_adv, success, changed, labels


def _predict(model_fn, x, batch_size):
    n = x.shape[0]
    if batch_size is None or n is None or n <= batch_size:
        return model_fn(x)
    return tf.concat([model_fn(x[part]) for part in batch_slices(n, batch_size)], 0)


def _labels(model_fn, x, y, targeted, num_classes, seed, batch_size):
    """The classes to reach (targeted) or leave (untargeted), as int64."""
    if y is not None:
        return tf.cast(tf.convert_to_tensor(y), tf.int64)
    predicted = tf.argmax(_predict(model_fn, x, batch_size), -1, output_type=tf.int64)
    if not targeted:
        return predicted
    # A uniform class among the num_classes - 1 others than the prediction.
    shape = tf.shape(predicted)
    if seed is None:
        offset = tf.random.uniform(shape, 1, num_classes, dtype=tf.int64)
    else:
        offset = tf.random.stateless_uniform(shape, [seed, 7], 1, num_classes, dtype=tf.int64)
    return (predicted + offset) % num_classes


class JSMAConfig(NamedTuple):
    """What one traced JSMA depends on besides its tensors."""

    targeted: bool
    theta: float
    clip_min: float
    clip_max: float
    max_iters: int
    use_logits: bool
    num_classes: int


def _jsma(model_fn, c: JSMAConfig):
    """JSMA as a function of tensors ``(x, labels)`` (for `core.compiled`)."""
    targeted, theta, clip_min, clip_max = c.targeted, c.theta, c.clip_min, c.clip_max
    max_iters, use_logits, num_classes = c.max_iters, c.use_logits, c.num_classes
    increase = theta > 0

    def movable(flat):
        return flat < clip_max if increase else flat > clip_min

    def attack(x, labels):
        shape = tf.shape(x)
        n_features = int(np.prod(x.shape[1:]))
        flat0 = tf.reshape(x, [-1, n_features])
        onehot = tf.one_hot(labels, num_classes, dtype=x.dtype)
        index = tf.range(n_features)
        upper = index[:, None] < index[None, :]  # each unordered pair once, no p == q

        def derivatives(flat):
            """Logits, gradient of the label's output, summed gradient of the others'."""
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(flat)
                logits = model_fn(tf.reshape(flat, shape))
                outputs = logits if use_logits else tf.nn.softmax(logits)
                label_out = tf.reduce_sum(outputs * onehot, -1)
                total = tf.reduce_sum(outputs, -1)
            grad_label = tape.gradient(label_out, flat)
            if use_logits:
                grad_other = tape.gradient(total, flat) - grad_label
            else:  # probabilities sum to one
                grad_other = -grad_label
            del tape
            return logits, grad_label, grad_other

        def body(i, flat, domain, active):
            logits, grad_label, grad_other = derivatives(flat)
            done = core.is_adversarial(logits, labels, targeted)
            # a: derivative of what should go up; b: of what should go down.
            a, b = (grad_label, grad_other) if targeted else (grad_other, grad_label)
            if not increase:  # decreasing features: the same map with the signs flipped
                a, b = -a, -b
            alpha = a[:, :, None] + a[:, None, :]
            beta = b[:, :, None] + b[:, None, :]
            valid = (alpha > 0) & (beta < 0) & domain[:, :, None] & domain[:, None, :] & upper
            score = tf.where(valid, -alpha * beta, -1.0)
            best = tf.argmax(tf.reshape(score, [-1, n_features * n_features]), -1,
                             output_type=tf.int32)
            found = tf.reduce_any(valid, [1, 2])
            move = active & tf.logical_not(done) & found
            pair = tf.one_hot(best // n_features, n_features) + tf.one_hot(best % n_features, n_features)
            step = pair * theta * tf.cast(move, x.dtype)[:, None]
            flat = tf.clip_by_value(flat + step, clip_min, clip_max)
            domain = domain & movable(flat)
            enough = tf.reduce_sum(tf.cast(domain, tf.int32), -1) >= 2
            return i + 1, flat, domain, move & enough

        domain0 = movable(flat0)
        active0 = tf.reduce_sum(tf.cast(domain0, tf.int32), -1) >= 2
        _, flat, _, _ = tf.while_loop(
            lambda i, _f, _d, active: tf.logical_and(i < max_iters, tf.reduce_any(active)),
            body,
            (tf.constant(0), flat0, domain0, active0),
        )
        return tf.reshape(flat, shape)

    return attack
