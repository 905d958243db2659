"""The substitute black-box attack of Papernot et al. (2017), as the first paper ran it.

The attacker sees the defended model (the *oracle*) only through the labels it
assigns. It trains a *substitute* on a small set of inputs labelled by the oracle,
grows that set by Jacobian-based dataset augmentation, and crafts adversarial
examples on the substitute, hoping that they *transfer* to the oracle.

Galloway et al. (section 3.2, Table 4) ran CleverHans 2.0.0's ``mnist_blackbox``
tutorial; tfbnn's defaults are its settings:

- the substitute is `tfbnn.models.substitute_mlp` (two hidden layers of 200 ReLUs);
- its initial training set is 150 test images held out from the evaluation;
- ``rounds = 6`` substitute rounds ``rho = 0..5``, each training the substitute for
  ``epochs = 10`` epochs (Adam, learning rate 1e-3, batches of 128, a fresh optimizer
  every round as CleverHans's ``train`` created one per call), each but the last
  followed by one Jacobian augmentation, so the set doubles five times
  (150 -> 4,800 inputs, 4,650 of them synthetic);
- the augmentation step is ``lambda = 0.1`` with a periodically changing sign
  (below);
- the attack is FGSM with ``eps = 0.3`` on the substitute, using the substitute's own
  predictions as labels, and the result is the oracle's accuracy on the crafted
  test images ("transfer accuracy").

**Jacobian augmentation.** Every input ``x`` of the current set, labelled ``O(x)`` by
the oracle, gives a new input ``clip(x + lambda_rho * sign(d F_O(x)(x) / dx))`` where
``F`` is the substitute's *softmax output* (CleverHans 2's substitute ended in a
softmax layer, and Papernot et al.'s ``J_F``). The new half is labelled by the oracle,
and only it: the oracle answers ``len(x_initial) * (2**(rounds - 1) - 1)`` queries
besides the initial ``len(x_initial)``.

**Sign of lambda.** Papernot et al.'s periodic step size is
``lambda_rho = lambda * (-1)**floor(rho / tau)``. CleverHans's tutorial instead uses
``-lambda`` for ``rho < 3`` and ``+lambda`` after (``lmbda_coef = 2 * int(int(rho / 3)
!= 0) - 1``). tfbnn uses ``lambda_rho = -lambda * (-1)**floor(rho / tau)`` with
``tau = lmbda_period = 3``: the same schedule as CleverHans for up to 7 rounds
(``-, -, -, +, +`` for the paper's 6 rounds) and Papernot's alternation beyond;
``lmbda_period=None`` uses ``+lambda`` throughout (the original, non-periodic
augmentation). The steps used are reported in ``info["lambdas"]``.

**Differences from CleverHans 2.0.0.** Synthetic inputs are clipped to the valid
input range (CleverHans queried the oracle with unclipped ones; pass
``clip_min=None, clip_max=None`` for that); CleverHans's training loop wrapped its
last batch around to keep batches full, tfbnn's last batch of an epoch is smaller.

The oracle is any callable: a Keras model, a SavedModel callable from
`tfbnn.export.load_saved_model`, a function returning integer labels, a wrapper
around a remote service. Only ``argmax`` of its output is used (or the output itself
when it returns labels), it is called on float32 batches without a gradient tape,
and its answers are turned into numpy labels at once.

# References
    - Papernot, McDaniel, Goodfellow, Jha, Celik, Swami. Practical Black-Box Attacks
      against Machine Learning. AsiaCCS 2017.
    - Galloway, Taylor, Moussa. Attacking Binarized Neural Networks. ICLR 2018,
      section 3.2, Tables 4 and 5.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfbnn import checks
from tfbnn.attacks import core
from tfbnn.batching import batch_slices, map_batches
from tfbnn.attacks.fgsm import fast_gradient_method

__all__ = [
    "SubstituteAttackResult",
    "jacobian_augmentation",
    "oracle_labels",
    "substitute_blackbox_attack",
    "train_substitute",
]

_EVAL_BATCH = 512


# ----------------------------------------------------------------------------- checks


def _check_oracle(oracle) -> None:
    if not callable(oracle):
        raise TypeError(
            f"oracle must be callable (a batch of inputs -> logits or labels), got {oracle!r}."
        )


def _as_inputs(name: str, x, clip_min, clip_max, feature_shape=None) -> np.ndarray:
    """``x`` as a float32 numpy batch, checked: rank >= 2, not empty, finite, in range."""
    try:
        array = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a numeric array of inputs, got {type(x).__name__}.") from error
    if array.ndim < 2 or array.shape[0] == 0:
        raise ValueError(
            f"{name} must be a non-empty batch of shape (n, features...), e.g. (150, 28, 28, 1), "
            f"got shape {array.shape}."
        )
    if feature_shape is not None and array.shape[1:] != tuple(feature_shape):
        raise ValueError(
            f"{name} has inputs of shape {array.shape[1:]}, but the other inputs (or the "
            f"substitute) have shape {tuple(feature_shape)}."
        )
    try:
        checks.check_inputs(array, clip_min, clip_max)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    return array


# ----------------------------------------------------------------------------- oracle


def oracle_labels(oracle: Callable, x, num_classes: int | None = None,
                  batch_size: int = _EVAL_BATCH) -> tuple[np.ndarray, int | None]:
    """The oracle's labels for ``x``, asked batch by batch; only labels are kept.

    The oracle may return logits or probabilities ``(n, classes)`` (their argmax is
    used) or integer labels ``(n,)``.

    # Returns
        ``(labels, width)``: int64 labels and the width of the oracle's output (its
        number of classes), ``None`` when it returned labels.

    # Raises
        ValueError: when the oracle's answers have the wrong shape, are not integer
            labels, or fall outside ``[0, num_classes)``.
    """
    x = np.asarray(x, dtype=np.float32)
    labels, width = [], None
    for part in batch_slices(len(x), batch_size):
        chunk = x[part]
        answer = np.asarray(oracle(tf.constant(chunk)))
        if answer.ndim == 2 and answer.shape == (len(chunk), answer.shape[1]) and answer.shape[1] >= 2:
            width = int(answer.shape[1])
            labels.append(np.argmax(answer, axis=1))
        elif answer.shape == (len(chunk),):
            numeric = np.issubdtype(answer.dtype, np.number) and not np.iscomplexobj(answer)
            if not numeric or not np.all(np.isfinite(answer)) or not np.array_equal(answer, np.round(answer)):
                raise ValueError(
                    "The oracle returned a vector that is not integer class labels; return "
                    "labels of shape (n,) or logits/probabilities of shape (n, classes)."
                )
            labels.append(answer.astype(np.int64))
        else:
            raise ValueError(
                f"The oracle answered a batch of {len(chunk)} inputs with shape {answer.shape}; "
                "it must return labels of shape (n,) or logits/probabilities of shape "
                "(n, classes) with classes >= 2."
            )
    labels = np.concatenate(labels).astype(np.int64)
    limit = num_classes if num_classes is not None else width
    if labels.size and (labels.min() < 0 or (limit is not None and labels.max() >= limit)):
        raise ValueError(
            f"The oracle returned labels in [{labels.min()}, {labels.max()}], outside "
            f"[0, {limit if limit is not None else 'num_classes'}); check num_classes."
        )
    return labels, width


class _CountingOracle:
    """Count the oracle's calls and the inputs it labels."""

    def __init__(self, oracle):
        self.oracle = oracle
        self.calls = 0
        self.queries = 0

    def __call__(self, x):
        self.calls += 1
        self.queries += int(x.shape[0])
        return self.oracle(x)


# ----------------------------------------------------------------------------- augmentation


def jacobian_augmentation(substitute: Callable, x, y, lmbda: float, clip_min=0.0, clip_max=1.0,
                          batch_size: int = _EVAL_BATCH) -> np.ndarray:
    """Papernot et al.'s Jacobian-based augmentation: the new points only.

    ``clip(x + lmbda * sign(d softmax(substitute(x))[y] / dx))`` for every input, where
    ``y`` are the oracle's labels of ``x``. ``lmbda`` may be negative.

    # Arguments
        substitute: callable mapping inputs to logits.
        x, y: the current substitute training set and the oracle's labels.
        lmbda: the signed step.
        clip_min, clip_max: valid input range, or both ``None`` for no clipping.
        batch_size: inputs per gradient computation.

    # Returns
        A float32 numpy array shaped like ``x``.
    """
    checks.check_clip(clip_min, clip_max)

    @tf.function(reduce_retracing=True)
    def step(x_batch, y_batch):
        with tf.GradientTape() as tape:
            tape.watch(x_batch)
            probs = tf.nn.softmax(substitute(x_batch))
            chosen = tf.gather(probs, y_batch, axis=1, batch_dims=1)
        grad = tape.gradient(chosen, x_batch)
        return core.clip_to_range(x_batch + lmbda * tf.sign(grad), clip_min, clip_max)

    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    out = map_batches(lambda a, b: step(tf.constant(a), tf.constant(b)), x, y,
                      batch_size=batch_size)
    return out.astype(np.float32)


def _lambda(round_index: int, lmbda: float, period: int | None) -> float:
    """Papernot et al.'s ``lambda_rho`` for substitute round ``rho = round_index``."""
    if period is None:
        return float(lmbda)
    return float(-lmbda * (-1) ** (round_index // period))


# ----------------------------------------------------------------------------- training


def _initialise(model: keras.Model, seed: int) -> None:
    """Re-draw the weights of a fresh substitute from seeded initializers.

    Keras's unseeded initializers draw from the global generator; re-drawing with
    seeded copies makes the substitute depend on ``seed`` alone, without touching
    the global random state.
    """
    for index, layer in enumerate(model.layers):
        for attribute in ("kernel", "bias"):
            variable = getattr(layer, attribute, None)
            initializer = getattr(layer, f"{attribute}_initializer", None)
            if variable is None or initializer is None:
                continue
            config = initializer.get_config()
            if "seed" in config:
                config["seed"] = seed * 1009 + 2 * index + (attribute == "bias")
            fresh = initializer.__class__.from_config(config)
            variable.assign(fresh(variable.shape, variable.dtype))


def _fit(model: keras.Model, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int,
         learning_rate: float, rng: np.random.Generator) -> None:
    """Adam on sparse softmax cross-entropy, a fresh optimizer for this call."""
    optimizer = keras.optimizers.Adam(learning_rate)

    @tf.function(reduce_retracing=True)
    def train_step(x_batch, y_batch):
        with tf.GradientTape() as tape:
            logits = model(x_batch, training=True)
            loss = tf.reduce_mean(core.default_loss(y_batch, logits))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    for _ in range(epochs):
        order = rng.permutation(len(x))
        for part in batch_slices(len(x), batch_size):
            index = order[part]
            train_step(tf.constant(x[index]), tf.constant(y[index]))


def _predict(model_fn: Callable, x: np.ndarray) -> np.ndarray:
    return map_batches(lambda chunk: np.argmax(np.asarray(model_fn(tf.constant(chunk))), -1), x,
                       batch_size=_EVAL_BATCH)


def train_substitute(
    oracle: Callable,
    x_initial,
    *,
    rounds: int = 6,
    lmbda: float = 0.1,
    lmbda_period: int | None = 3,
    epochs: int = 10,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    clip_min: float | None = 0.0,
    clip_max: float | None = 1.0,
    num_classes: int | None = None,
    substitute: keras.Model | None = None,
    seed: int = 0,
) -> tuple[keras.Model, dict]:
    """Train a substitute of ``oracle`` from its labels, with Jacobian augmentation.

    See the module docstring for the procedure and its defaults (CleverHans 2.0.0's
    ``mnist_blackbox``, which the first paper ran).

    # Arguments
        oracle: the attacked model, any callable from a float32 batch to logits,
            probabilities or integer labels; only its labels are used.
        x_initial: the attacker's initial inputs (the paper: 150 test images held out
            from the evaluation), shape ``(n, features...)``.
        rounds: substitute training rounds (>= 1); the set doubles ``rounds - 1`` times.
        lmbda: size of the augmentation step (> 0).
        lmbda_period: the period ``tau`` of the step's sign changes (>= 1), or
            ``None`` for a constant ``+lmbda``.
        epochs: substitute training epochs per round (>= 1).
        batch_size: substitute training batch size (>= 1).
        learning_rate: Adam's learning rate (> 0).
        clip_min, clip_max: valid input range; synthetic inputs are clipped to it
            (both ``None``: no clipping, as CleverHans).
        num_classes: number of classes; needed only when the oracle returns labels
            and no ``substitute`` is given (otherwise read from the oracle's output
            width or the substitute).
        substitute: a Keras model mapping inputs to logits, trained in place from its
            current weights; default a fresh `tfbnn.models.substitute_mlp` whose
            weights are drawn from ``seed``.
        seed: seed of the substitute's initial weights and of the batch shuffling.
            For a given seed (and a deterministic oracle) the result is the same on
            every run on CPU (on a GPU, also call
            ``tf.config.experimental.enable_op_determinism()``); the global random
            state is not touched.

    # Returns
        ``(substitute, info)``. ``info`` holds ``sizes`` (training-set size in each
        round), ``lambdas`` (the signed step of each augmentation),
        ``train_agreement`` (the substitute's agreement with the oracle's labels on
        its training set after each round), ``oracle_calls`` and ``oracle_queries``
        (calls made and inputs labelled), and ``x``, ``y`` (the final training set and
        the oracle's labels).

    # Raises
        TypeError: ``oracle`` not callable, ``substitute`` not a Keras model.
        ValueError: bad argument values, inputs of the wrong shape or outside the
            range, oracle answers that are not labels or logits.
    """
    _check_oracle(oracle)
    checks.check_int("rounds", rounds, 1)
    checks.check_number("lmbda", lmbda, positive=True)
    checks.check_int("lmbda_period", lmbda_period, 1, allow_none=True)
    checks.check_int("epochs", epochs, 1)
    checks.check_int("batch_size", batch_size, 1)
    checks.check_number("learning_rate", learning_rate, positive=True)
    checks.check_clip(clip_min, clip_max)
    checks.check_int("num_classes", num_classes, 2, allow_none=True)
    checks.check_int("seed", seed, 0)
    if substitute is not None and not isinstance(substitute, keras.Model):
        raise TypeError(
            f"substitute must be a keras.Model mapping inputs to logits, got "
            f"{type(substitute).__name__}."
        )
    feature_shape = None
    if substitute is not None:
        try:
            feature_shape = tuple(substitute.input_shape[1:])
            width = int(substitute.output_shape[-1])
        except (AttributeError, RuntimeError, TypeError) as error:
            raise ValueError(
                "substitute must be a built Keras model with a known input and output shape "
                "(e.g. a functional model such as tfbnn.models.substitute_mlp())."
            ) from error
        if num_classes is not None and num_classes != width:
            raise ValueError(
                f"num_classes={num_classes} but the substitute has {width} outputs."
            )
        num_classes = width
    x_sub = _as_inputs("x_initial", x_initial, clip_min, clip_max, feature_shape)

    counting = _CountingOracle(oracle)
    y_sub, width = oracle_labels(counting, x_sub, num_classes)
    if num_classes is None:
        if width is None:
            raise ValueError(
                "The oracle returns labels, so the number of classes is unknown; pass "
                "num_classes (e.g. 10 for MNIST) or a substitute model."
            )
        num_classes = width
    if substitute is None:
        from tfbnn.models import substitute_mlp

        substitute = substitute_mlp(x_sub.shape[1:], num_classes)
        _initialise(substitute, seed)

    rng = np.random.default_rng(seed)
    model_fn = lambda t: substitute(t, training=False)  # noqa: E731
    info = {"sizes": [], "lambdas": [], "train_agreement": []}
    for round_index in range(rounds):
        _fit(substitute, x_sub, y_sub, epochs, batch_size, learning_rate, rng)
        info["sizes"].append(len(x_sub))
        info["train_agreement"].append(float(np.mean(_predict(model_fn, x_sub) == y_sub)))
        if round_index == rounds - 1:
            break
        step = _lambda(round_index, lmbda, lmbda_period)
        x_new = jacobian_augmentation(model_fn, x_sub, y_sub, step, clip_min, clip_max)
        y_new, _ = oracle_labels(counting, x_new, num_classes)
        x_sub = np.concatenate([x_sub, x_new])
        y_sub = np.concatenate([y_sub, y_new])
        info["lambdas"].append(step)
    info.update(oracle_calls=counting.calls, oracle_queries=counting.queries, x=x_sub, y=y_sub)
    return substitute, info


# ----------------------------------------------------------------------------- attack


@dataclasses.dataclass(frozen=True)
class SubstituteAttackResult:
    """Outcome of `substitute_blackbox_attack`.

    # Attributes
        substitute: the trained substitute (a Keras model returning logits).
        info: `train_substitute`'s info dictionary.
        x_adv: the adversarial test inputs crafted on the substitute.
        clean_accuracy: the oracle's accuracy on the clean test inputs.
        transfer_accuracy: the oracle's accuracy on ``x_adv`` (Table 4's number).
        agreement: fraction of clean test inputs on which substitute and oracle
            predict the same class.
    """

    substitute: keras.Model
    info: dict
    x_adv: np.ndarray
    clean_accuracy: float
    transfer_accuracy: float
    agreement: float


def substitute_blackbox_attack(
    oracle: Callable,
    x_holdout,
    x_test,
    y_test,
    *,
    eps: float = 0.3,
    clip_min: float | None = 0.0,
    clip_max: float | None = 1.0,
    rounds: int = 6,
    lmbda: float = 0.1,
    lmbda_period: int | None = 3,
    epochs: int = 10,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    num_classes: int | None = None,
    substitute: keras.Model | None = None,
    seed: int = 0,
) -> SubstituteAttackResult:
    """Train a substitute on ``x_holdout``, attack ``x_test`` with FGSM on it, score the oracle.

    The paper's protocol on MNIST: ``x_holdout = x_test[:150]``, then
    ``x_test[150:], y_test[150:]`` for the evaluation. The FGSM labels are the
    substitute's own predictions (as in CleverHans's tutorial; the attacker needs no
    true labels), and ``y_test`` is used only to score the oracle.

    # Arguments
        oracle: the attacked model (see `train_substitute`); only its labels are used.
        x_holdout: the attacker's initial substitute training inputs.
        x_test, y_test: the evaluation inputs and their true labels (integers).
        eps: FGSM's L-inf step on the substitute (the paper: 0.3).
        clip_min, clip_max: valid input range of augmentation and FGSM.
        rounds, lmbda, lmbda_period, epochs, batch_size, learning_rate, num_classes,
            substitute, seed: as in `train_substitute`.

    # Returns
        A `SubstituteAttackResult`.

    # Raises
        TypeError, ValueError: as `train_substitute`, and for mismatched test inputs
            and labels.
    """
    _check_oracle(oracle)
    checks.check_eps("eps", eps, allow_tensor=False)
    checks.check_clip(clip_min, clip_max)
    x_holdout = _as_inputs("x_holdout", x_holdout, clip_min, clip_max)
    x_test = _as_inputs("x_test", x_test, clip_min, clip_max, x_holdout.shape[1:])
    y_test = np.asarray(y_test)
    if y_test.ndim != 1 or len(y_test) != len(x_test) or not np.issubdtype(y_test.dtype, np.integer):
        raise ValueError(
            f"y_test must hold one integer label per test input, shape ({len(x_test)},), got "
            f"shape {y_test.shape} and dtype {y_test.dtype}."
        )
    if y_test.min() < 0:
        raise ValueError(f"y_test holds negative labels (min {y_test.min()}); labels are class indices.")
    substitute, info = train_substitute(
        oracle, x_holdout, rounds=rounds, lmbda=lmbda, lmbda_period=lmbda_period, epochs=epochs,
        batch_size=batch_size, learning_rate=learning_rate, clip_min=clip_min, clip_max=clip_max,
        num_classes=num_classes, substitute=substitute, seed=seed,
    )
    model_fn = lambda t: substitute(t, training=False)  # noqa: E731
    x_adv = map_batches(
        lambda chunk: fast_gradient_method(model_fn, chunk, eps, np.inf, clip_min=clip_min,
                                           clip_max=clip_max), x_test, batch_size=_EVAL_BATCH)
    width = int(substitute.output_shape[-1])
    if y_test.max() >= width:
        raise ValueError(f"y_test holds label {y_test.max()}, but there are only {width} classes.")
    clean, _ = oracle_labels(oracle, x_test, width)
    attacked, _ = oracle_labels(oracle, x_adv, width)
    return SubstituteAttackResult(
        substitute=substitute,
        info=info,
        x_adv=x_adv,
        clean_accuracy=float(np.mean(clean == y_test)),
        transfer_accuracy=float(np.mean(attacked == y_test)),
        agreement=float(np.mean(_predict(model_fn, x_test) == clean)),
    )
