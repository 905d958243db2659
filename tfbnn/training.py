"""Training through ``model.fit``: the paper's defaults and adversarial training.

Clean training is plain Keras (`compile_model` sets the paper's optimizer and loss).
Adversarial training wraps a model in `AdversarialTrainer`, whose ``train_step``
crafts adversarial examples on the fly with a pluggable *adversary*, a callable
``adversary(model_fn, x) -> x_adv``. Because it is an ordinary ``train_step``
override, callbacks, checkpoints, progress bars and TensorBoard keep working.

Two adversaries reproduce the first paper:

- `KurakinFGSM`: FGSM with a per-example eps drawn from a truncated normal
  (Kurakin et al., 2017), crafted on the model's own predictions (no label leaking),
  mixed half and half with the clean loss;
- `MadryPGD`: L-inf PGD with a random start (Madry et al., 2018), eps 0.3, step 0.01,
  40 (or 20) iterations, trained on adversarial examples only.

Both switch on for the last ``last_epochs`` epochs (the paper: the last 5 of 15).

# Example
    ```python
    model = tfbnn.models.cleverhans_cnn("B", k1=64)
    trainer = tfbnn.training.AdversarialTrainer(model, KurakinFGSM(eps_max=0.3), last_epochs=5)
    tfbnn.training.compile_model(trainer)
    trainer.fit(x_train, y_train, epochs=15, batch_size=128)
    model.save("b_plus.keras")   # the inner model, as trained
    ```
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfbnn import checks
from tfbnn.attacks import fast_gradient_method, projected_gradient_descent
from tfbnn.batching import batch_slices
from tfbnn.quantizers import TanhSign

__all__ = [
    "AdversarialTrainer",
    "BetaAnnealing",
    "CIFAR_PGD",
    "KurakinFGSM",
    "MadryPGD",
    "Recipe",
    "cifar_recipe",
    "compile_model",
    "finalize_binary",
    "kurakin_eps",
    "recalibrate_batch_norm",
    "tanh_quantizers",
]

PAPER_DEFAULTS = {"optimizer": "adam", "learning_rate": 1e-3, "batch_size": 128, "epochs": 15}
"""Training set-up of the first paper (section 3, Table 6 caption)."""


def compile_model(
    model: keras.Model,
    learning_rate: float = PAPER_DEFAULTS["learning_rate"],
    *,
    optimizer: keras.optimizers.Optimizer | None = None,
    **compile_kwargs,
) -> keras.Model:
    """Compile ``model`` for logits and integer labels: Adam(1e-3), cross-entropy, accuracy.

    Returns the model, compiled in place.
    """
    if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}.")
    model.compile(
        optimizer=optimizer or keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        **compile_kwargs,
    )
    return model


def kurakin_eps(batch_size, eps_max: float, seed: int | None = None) -> tf.Tensor:
    """Per-example eps for Kurakin et al.'s FGSM adversarial training.

    On the 0-255 pixel scale, eps ~ |N(0, sigma)| truncated at 2 sigma, with
    ``sigma = ceil(eps_max * 255 / 2)`` as the first paper sets it; returned in [0, 1]
    input units (the original code mixed the two scales) and capped at ``eps_max``.

    # Arguments
        batch_size: number of values to draw (an int or a scalar tensor).
        eps_max: the largest eps in input units, in (0, 1].
        seed: op-level seed.

    # Returns
        A float32 tensor of shape ``(batch_size,)``.

    # References
        - Kurakin, Goodfellow, Bengio. Adversarial Machine Learning at Scale. ICLR 2017.
        - Galloway et al. Attacking Binarized Neural Networks. ICLR 2018, section 3.1.1.
    """
    _check_eps_max(eps_max)
    sigma = math.ceil(eps_max * 255 / 2)
    draws = tf.random.truncated_normal([batch_size], stddev=float(sigma), seed=seed)
    return tf.minimum(tf.abs(draws) / 255.0, eps_max)


def _check_eps_max(eps_max) -> None:
    if isinstance(eps_max, bool) or not isinstance(eps_max, (int, float)) or not 0 < eps_max <= 1:
        raise ValueError(
            f"eps must be in (0, 1] for inputs scaled to [0, 1], got {eps_max!r}; "
            "an eps on the 0-255 scale must be divided by 255."
        )


class KurakinFGSM:
    """FGSM adversary with Kurakin et al.'s per-example eps (the paper's "+" models).

    # Arguments
        eps_max: the largest eps in [0, 1] input units (the paper: 0.3).
        random_eps: sample eps per example (`kurakin_eps`); ``False`` uses ``eps_max``
            for every example ("FGSM with fixed eps").
        clip_min, clip_max: input range.
        seed: op-level seed of the eps sampler.
    """

    adv_weight = 0.5

    def __init__(
        self,
        eps_max: float = 0.3,
        *,
        random_eps: bool = True,
        clip_min: float = 0.0,
        clip_max: float = 1.0,
        seed: int | None = None,
    ):
        _check_eps_max(eps_max)
        self.eps_max = eps_max
        self.random_eps = random_eps
        self.clip_min, self.clip_max = clip_min, clip_max
        self.seed = seed

    def __call__(self, model_fn: Callable, x: tf.Tensor) -> tf.Tensor:
        eps = kurakin_eps(tf.shape(x)[0], self.eps_max, self.seed) if self.random_eps else self.eps_max
        return fast_gradient_method(
            model_fn, x, eps, np.inf, clip_min=self.clip_min, clip_max=self.clip_max
        )

    def get_config(self) -> dict:
        return {
            "eps_max": self.eps_max,
            "random_eps": self.random_eps,
            "clip_min": self.clip_min,
            "clip_max": self.clip_max,
            "seed": self.seed,
        }


class MadryPGD:
    """L-inf PGD adversary with a random start (the paper's "+*" models).

    # Arguments
        eps: L-inf radius (0.3 for MNIST).
        eps_iter: step size (0.01).
        nb_iter: iterations (the paper: 40, or 20 in Table 6).
        clip_min, clip_max: input range.
        seed: op-level seed of the random start.
    """

    adv_weight = 1.0

    def __init__(
        self,
        eps: float = 0.3,
        eps_iter: float = 0.01,
        nb_iter: int = 40,
        *,
        clip_min: float = 0.0,
        clip_max: float = 1.0,
        seed: int | None = None,
    ):
        _check_eps_max(eps)
        if not (isinstance(eps_iter, (int, float)) and 0 < eps_iter <= eps):
            raise ValueError(f"eps_iter must be in (0, eps={eps}], got {eps_iter!r}.")
        if isinstance(nb_iter, bool) or not isinstance(nb_iter, int) or nb_iter < 1:
            raise ValueError(f"nb_iter must be a positive int, got {nb_iter!r}.")
        self.eps, self.eps_iter, self.nb_iter = eps, eps_iter, nb_iter
        self.clip_min, self.clip_max = clip_min, clip_max
        self.seed = seed

    def __call__(self, model_fn: Callable, x: tf.Tensor) -> tf.Tensor:
        return projected_gradient_descent(
            model_fn,
            x,
            self.eps,
            self.eps_iter,
            self.nb_iter,
            np.inf,
            clip_min=self.clip_min,
            clip_max=self.clip_max,
            rand_init=True,
            seed=self.seed,
        )

    def get_config(self) -> dict:
        return {
            "eps": self.eps,
            "eps_iter": self.eps_iter,
            "nb_iter": self.nb_iter,
            "clip_min": self.clip_min,
            "clip_max": self.clip_max,
            "seed": self.seed,
        }


COLLAPSE_MAJORITY = 0.95
"""An adversarial epoch whose trained-on predictions fall in one class this often..."""
COLLAPSE_LOSS = 0.9
"""...with a loss at least this fraction of ln(classes) (chance) is reported as collapsed."""


class _AdversarialSchedule(keras.callbacks.Callback):
    """Switch the trainer's adversary on for the last ``last_epochs`` epochs of a fit,
    and warn when an adversarial epoch ends collapsed to one class."""

    def __init__(self, trainer: AdversarialTrainer):
        super().__init__()
        self._trainer = trainer

    def on_epoch_begin(self, epoch, logs=None):
        last = self._trainer.last_epochs
        active = last is None or epoch >= self.params["epochs"] - last
        self._trainer.adversarial_active.assign(active)
        if self._trainer.predicted_counts is not None:
            self._trainer.predicted_counts.assign(tf.zeros_like(self._trainer.predicted_counts))

    def on_epoch_end(self, epoch, logs=None):
        trainer, counts = self._trainer, self._trainer.predicted_counts
        if counts is None or not bool(trainer.adversarial_active) or "loss" not in (logs or {}):
            return
        counts = counts.numpy()
        total = counts.sum()
        if total == 0:
            return
        majority, chance = counts.max() / total, math.log(len(counts))
        if majority >= COLLAPSE_MAJORITY and logs["loss"] >= COLLAPSE_LOSS * chance:
            trainer.collapsed_epochs.append(epoch)
            warnings.warn(
                f"Adversarial training collapsed in epoch {epoch + 1}: the model predicted "
                f"class {int(counts.argmax())} for {100 * majority:.1f} % of the examples it "
                f"trained on, at loss {logs['loss']:.3f} (chance: ln {len(counts)} = "
                f"{chance:.3f}). A strong adversary switched on abruptly can do this; mix "
                "in the clean loss (adv_weight=0.5), lower the learning rate, or start "
                "with a smaller eps.",
                RuntimeWarning,
                stacklevel=2,
            )


def _num_classes(model) -> int | None:
    """The model's number of output classes, when its output shape says so."""
    try:
        shape = model.output_shape
    except (AttributeError, RuntimeError, ValueError):
        return None
    classes = shape[-1] if isinstance(shape, tuple) else None
    return classes if isinstance(classes, int) and classes > 1 else None


class AdversarialTrainer(keras.Model):
    """Wrap a logits model so that ``fit`` trains it adversarially.

    Each training batch is attacked with ``adversary(model_fn, x)``, where
    ``model_fn`` runs the wrapped model in inference mode and labels default to its
    own predictions. The loss is ``(1 - w) * L(clean) + w * L(adversarial)`` with
    ``w = adv_weight`` (defaults to the adversary's ``adv_weight``: 0.5 for
    `KurakinFGSM`, 1.0 for `MadryPGD`), computed on one batch holding both halves.
    Before the last ``last_epochs`` epochs the loss is the clean loss alone.

    Metrics: the compiled metrics see the batch that was trained on; ``adv_accuracy``
    reports accuracy on the adversarial examples (0 while the adversary is off).

    Collapse: an adversarial epoch after which at least 95 % of the trained-on
    predictions fell in one class, at a loss near chance (ln of the number of
    classes), raises a ``RuntimeWarning`` saying what to change, and its index is
    appended to ``collapsed_epochs``.

    The weights are the wrapped model's: save ``trainer.model`` to keep the trained
    network, or use ``ModelCheckpoint(..., save_weights_only=True)`` on the trainer.

    Under a ``tf.distribute`` strategy (create the trainer in ``strategy.scope()``, or
    use `tfbnn.distribute.fit`), each replica attacks its own share of the global batch
    inside ``train_step``; the schedule switch is assigned on every replica and the
    prediction counts are summed over them (docs/distributed.md).

    # Arguments
        model: a Keras model mapping inputs to logits.
        adversary: callable ``(model_fn, x) -> x_adv``, e.g. `KurakinFGSM` or `MadryPGD`.
        last_epochs: train adversarially for the last this many epochs of each
            ``fit`` (``None``: all epochs).
        adv_weight: weight of the adversarial loss, in (0, 1].
    """

    def __init__(
        self,
        model: keras.Model,
        adversary: Callable,
        *,
        last_epochs: int | None = None,
        adv_weight: float | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not callable(adversary):
            raise TypeError(
                f"adversary must be a callable (model_fn, x) -> x_adv, got {adversary!r}."
            )
        if last_epochs is not None and (
            isinstance(last_epochs, bool) or not isinstance(last_epochs, int) or last_epochs < 0
        ):
            raise ValueError(f"last_epochs must be an int >= 0 or None, got {last_epochs!r}.")
        adv_weight = getattr(adversary, "adv_weight", 0.5) if adv_weight is None else adv_weight
        if not 0 < adv_weight <= 1:
            raise ValueError(f"adv_weight must be in (0, 1], got {adv_weight!r}.")
        self.model = model
        self.adversary = adversary
        self.last_epochs = last_epochs
        self.adv_weight = float(adv_weight)
        self.adversarial_active = tf.Variable(last_epochs is None, trainable=False, name="active")
        self.adv_accuracy = keras.metrics.SparseCategoricalAccuracy(name="adv_accuracy")
        self.collapsed_epochs: list[int] = []
        classes = _num_classes(model)
        # Summed over replicas when read: under a tf.distribute strategy each replica
        # counts the predictions of its own share of the batch.
        self.predicted_counts = (
            None if classes is None else
            tf.Variable(tf.zeros([classes]), trainable=False, name="predicted_counts",
                        synchronization=tf.VariableSynchronization.ON_READ,
                        aggregation=tf.VariableAggregation.SUM))

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    @property
    def metrics(self):
        return super().metrics + [self.adv_accuracy]

    def _model_fn(self, x):
        return self.model(x, training=False)

    def _batch(self, x, y, sample_weight):
        """The batch to train on: clean, or clean and adversarial halves with weights."""
        ones = tf.ones(tf.shape(y)[:1], tf.float32)
        weights = ones if sample_weight is None else tf.cast(sample_weight, tf.float32)

        def adversarial():
            x_adv = tf.stop_gradient(self.adversary(self._model_fn, x))
            self.adv_accuracy.update_state(y, self._model_fn(x_adv))
            if self.adv_weight == 1.0:
                return x_adv, y, weights
            w = self.adv_weight
            return (
                tf.concat([x, x_adv], 0),
                tf.concat([y, y], 0),
                tf.concat([2.0 * (1.0 - w) * weights, 2.0 * w * weights], 0),
            )

        def clean():
            return x, y, weights

        return tf.cond(self.adversarial_active, adversarial, clean)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x_in, y_in, w_in = self._batch(x, y, sample_weight)
        with tf.GradientTape() as tape:
            y_pred = self.model(x_in, training=True)
            loss = self.compute_loss(x_in, y_in, y_pred, w_in)
        self.optimizer.minimize(loss, self.model.trainable_variables, tape=tape)
        if self.predicted_counts is not None:
            classes = self.predicted_counts.shape[0]
            predicted = tf.cast(tf.argmax(y_pred, -1), tf.int32)
            self.predicted_counts.assign_add(tf.math.bincount(
                predicted, minlength=classes, maxlength=classes, dtype=tf.float32))
        return self.compute_metrics(x_in, y_in, y_pred, w_in)

    def fit(self, *args, callbacks=None, **kwargs):
        """``keras.Model.fit``, with the adversarial schedule added to the callbacks."""
        callbacks = list(callbacks or []) + [_AdversarialSchedule(self)]
        return super().fit(*args, callbacks=callbacks, **kwargs)


# --------------------------------------------------------------------------- tanh binarizers


def tanh_quantizers(model: keras.Model) -> list:
    """Every `tfbnn.quantizers.TanhSign` of ``model`` (kernel quantizers of its layers)."""
    return [quantizer for _, quantizer in _tanh_layers(model)]


def _tanh_layers(model: keras.Model) -> list:
    """``(layer, quantizer)`` for every layer of ``model`` with a `TanhSign` kernel quantizer."""
    return [(layer, layer.kernel_quantizer) for layer in _all_layers(model)
            if isinstance(getattr(layer, "kernel_quantizer", None), TanhSign)]


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


class BetaAnnealing(keras.callbacks.Callback):
    """Anneal the ``beta`` of every `TanhSign` in the model: ``start * factor ** (t // every)``
    at iteration ``t``.

    The iteration is the optimizer's, so a fit resumed from a checkpoint continues the
    schedule where it stopped; ``beta`` is assigned from the callback (cross-replica
    context), so under a ``tf.distribute`` strategy every replica sees the same value.
    The authors' schedules (Ajanthan et al., ``md-bnn``): ResNet-18 ``factor=1.02,
    every=200`` (about 2e4 after 100,000 iterations), VGG-16 ``factor=1.2, every=2000``
    (about 1e4). `reaching` scales a schedule to fewer iterations with the same end.

    # Arguments
        start: ``beta`` at iteration 0 (the authors: 1).
        factor: multiplier applied every ``every`` iterations (> 1).
        every: iterations between multiplications (>= 1).
    """

    def __init__(self, start: float = 1.0, factor: float = 1.02, every: int = 200):
        super().__init__()
        self.start = checks.check_number("start", start, positive=True)
        self.factor = checks.check_number("factor", factor, positive=True)
        self.every = checks.check_int("every", every, 1)
        self.history: list[float] = []

    @classmethod
    def reaching(cls, final: float, iterations: int, every: int, start: float = 1.0):
        """The schedule that multiplies ``beta`` every ``every`` iterations and reaches
        ``final`` at the last of ``iterations`` training iterations (iteration
        ``iterations - 1``, counted from 0), e.g. the authors' 2e4 in a CPU-sized run."""
        checks.check_int("iterations", iterations, 1)
        checks.check_int("every", every, 1)
        steps = max((iterations - 1) // every, 1)
        return cls(start, (final / start) ** (1.0 / steps), every)

    def beta_at(self, iteration: int) -> float:
        """The schedule's ``beta`` at ``iteration``."""
        return self.start * self.factor ** (int(iteration) // self.every)

    def _assign(self):
        beta = self.beta_at(int(self.model.optimizer.iterations.numpy()))
        for quantizer in self._quantizers:
            quantizer.beta.assign(beta)
        return beta

    def on_train_begin(self, logs=None):
        self._quantizers = tanh_quantizers(self.model)
        if not self._quantizers:
            raise ValueError("BetaAnnealing needs a model with TanhSign kernel quantizers; "
                             "this one has none.")
        self._assign()

    def on_train_batch_begin(self, batch, logs=None):
        iteration = int(self.model.optimizer.iterations.numpy())
        if iteration % self.every == 0:
            self._assign()

    def on_epoch_end(self, epoch, logs=None):
        beta = float(self._quantizers[0].beta.numpy())
        self.history.append(beta)
        if logs is not None:
            logs["beta"] = beta


def recalibrate_batch_norm(model: keras.Model, x, batch_size: int = 256) -> int:
    """Recompute every batch-norm layer's moving mean and variance on ``x``.

    Runs ``model`` in training mode over ``x`` batch by batch with each layer's momentum
    set so that the moving statistics become the average of the batches' statistics
    (the weights do not change), then restores the momenta. Returns the number of
    batch-norm layers recalibrated.
    """
    norms = [layer for layer in _all_layers(model)
             if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    try:
        for count, part in enumerate(batch_slices(len(x), batch_size)):
            for layer in norms:
                layer.momentum = count / (count + 1.0)  # running average of batch stats
            model(tf.constant(x[part]), training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
    return len(norms)


def finalize_binary(model: keras.Model, x_calibration=None, batch_size: int = 256,
                    tolerance: float = 1e-3) -> dict:
    """Make a model trained with `TanhSign` quantizers the network of weights +-1 it stands for.

    Every latent kernel ``w`` behind a `TanhSign` becomes ``sign(w)`` (``sign(0) = +1``)
    and its ``beta`` at least 1e4, so ``tanh(beta * sign(w))`` is exactly ``sign(w)`` in
    float32; the network evaluated and exported is then the signed one.

    Batch-norm statistics measured with ``tanh(beta w)`` describe another network when
    training ended with a small ``beta``. When the largest ``|tanh(beta w) - sign(w)|``
    exceeds ``tolerance`` and ``x_calibration`` is given, they are recomputed with the
    signed weights (`recalibrate_batch_norm`); pass images distributed as the training
    batches were (augmented the same way), since statistics of other images change the
    network too. Below ``tolerance`` the signed network is the trained one and its
    statistics already belong to it: they are kept (``"recalibrated": False``).

    # Returns
        ``{"final_beta": beta at the end of training, "mismatch": the largest
        |tanh(beta w) - sign(w)| over the kernels before signing (one weight near 0 makes it
        about 1), "changed_fraction": the share of weights that signing moved by more than
        ``tolerance``, "recalibrated": whether
        the statistics were recomputed, "batch_norm_layers": how many were}``.
    """
    checks.check_number("tolerance", tolerance, minimum=0.0)
    layers = _tanh_layers(model)
    if not layers:
        raise ValueError("finalize_binary needs a model with TanhSign kernel quantizers; this "
                         "one has none.")
    final_beta = float(layers[0][1].beta.numpy())
    mismatch, changed, total = 0.0, 0, 0
    for layer, quantizer in layers:
        latent = tf.convert_to_tensor(layer.kernel.latent_variable)
        signed = tf.where(latent >= 0, tf.ones_like(latent), -tf.ones_like(latent))
        soft = tf.tanh(tf.cast(quantizer.beta, latent.dtype) * latent)
        gap = tf.abs(soft - signed)
        mismatch = max(mismatch, float(tf.reduce_max(gap)))
        changed += int(tf.math.count_nonzero(gap > tolerance))
        total += int(tf.size(gap))
        layer.kernel.latent_variable.assign(signed)
        quantizer.beta.assign(max(float(quantizer.beta.numpy()), 1e4))
    recalibrate = x_calibration is not None and mismatch > tolerance
    calibrated = recalibrate_batch_norm(
        model, np.asarray(x_calibration, np.float32), batch_size) if recalibrate else 0
    return {"final_beta": final_beta, "mismatch": mismatch,
            "changed_fraction": changed / max(total, 1), "recalibrated": bool(recalibrate),
            "batch_norm_layers": calibrated}


# --------------------------------------------------------------------------- CIFAR recipes


AUTHORS_ITERATIONS = 100_000
"""Training iterations of the authors' CIFAR runs (``md-bnn``), at batch 128."""

_AUTHORS = {
    # learning-rate factor every 30,000 iterations; beta x factor every `every` iterations
    "resnet": {"decay": 0.3, "decay_every": 30_000, "beta_factor": 1.02, "beta_every": 200},
    "vgg": {"decay": 0.2, "decay_every": 30_000, "beta_factor": 1.2, "beta_every": 2_000},
}
ARCHITECTURES = ("resnet18", "vgg16", "binarynet_resnet", "binarynet_vgg")

CIFAR_PGD = {"eps": 8 / 255, "eps_iter": 2 / 255, "nb_iter": 7}
"""Madry et al.'s CIFAR-10 adversarial training, as the paper's Tables 4, 5 and 14 use it:
L-inf eps 8/255, step 2/255, 7 iterations (``MadryPGD(**CIFAR_PGD)``)."""


class Recipe(NamedTuple):
    """How to train one CIFAR network the authors' way, scaled to ``iterations``.

    ``learning_rate`` is the schedule to give Adam, ``beta`` the `BetaAnnealing` callback
    of the tanh methods (``None`` for the others), ``authors`` the unscaled values.
    """

    learning_rate: keras.optimizers.schedules.LearningRateSchedule
    beta: BetaAnnealing | None
    iterations: int
    batch_size: int
    authors: dict

    def optimizer(self) -> keras.optimizers.Optimizer:
        """A fresh Adam with the recipe's learning-rate schedule."""
        return keras.optimizers.Adam(self.learning_rate)

    def callbacks(self) -> list:
        """The callbacks ``fit`` needs (the beta schedule, when there is one)."""
        return [] if self.beta is None else [self.beta]


def cifar_recipe(
    architecture: str,
    method: str | None = None,
    *,
    iterations: int = AUTHORS_ITERATIONS,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
) -> Recipe:
    """The authors' CIFAR training recipe (Ajanthan et al.'s ``md-bnn``), scaled to
    ``iterations``.

    Adam at ``learning_rate`` (1e-3), batch 128, the learning rate multiplied by 0.3
    (ResNets) or 0.2 (VGGs) every 30,000 of 100,000 iterations; for ``gd_tanh`` and
    ``md_tanh_s``, ``beta`` from 1, multiplied by 1.02 every 200 iterations (ResNets, about
    2e4 at the end) or by 1.2 every 2,000 (VGGs, about 9.1e3). With other ``iterations``
    every interval scales in proportion (at least 1 iteration) and the beta factor is
    chosen so that beta reaches ``factor ** (100,000 / every)`` (1.02^500, 1.2^50) at the
    last iteration (`BetaAnnealing.reaching`). Augmentation (random crop with 4 pixels of
    padding, horizontal flip) is `tfbnn.data.training_dataset`'s.

    # Arguments
        architecture: one of ``ARCHITECTURES`` (the BinaryNet nets take their family's
            schedule).
        method: the BNN-WQ method (``"bc"``, ``"gd_tanh"``, ``"md_tanh_s"``) or ``None``.
        iterations: training iterations (the authors: 100,000).
        batch_size: the batch size the iterations count (the authors: 128).
        learning_rate: Adam's initial learning rate.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture={architecture!r} is not one of {ARCHITECTURES}.")
    if method not in (None, "bc", "gd_tanh", "md_tanh_s"):
        raise ValueError(f"method={method!r} is not one of None, 'bc', 'gd_tanh', 'md_tanh_s'.")
    iterations = checks.check_int("iterations", iterations, 1)
    batch_size = checks.check_int("batch_size", batch_size, 1)
    learning_rate = checks.check_number("learning_rate", learning_rate, positive=True)
    authors = dict(_AUTHORS["vgg" if "vgg" in architecture else "resnet"])
    authors["beta_final"] = authors["beta_factor"] ** (AUTHORS_ITERATIONS // authors["beta_every"])
    scale = iterations / AUTHORS_ITERATIONS
    schedule = keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=max(1, round(authors["decay_every"] * scale)),
        decay_rate=authors["decay"], staircase=True)
    beta = None
    if method in ("gd_tanh", "md_tanh_s") and iterations == AUTHORS_ITERATIONS:
        beta = BetaAnnealing(1.0, authors["beta_factor"], authors["beta_every"])
    elif method in ("gd_tanh", "md_tanh_s"):
        every = max(1, round(authors["beta_every"] * scale))
        beta = BetaAnnealing.reaching(authors["beta_final"], iterations, every)
    return Recipe(schedule, beta, iterations, batch_size, authors)
