"""Peer implementations: DeepFool and Brendel & Bethge from foolbox 3, CLEVER from ART.

Gupta & Ajanthan (AAAI 2022) compare PGD++ against DeepFool and the Brendel & Bethge
attack (BBA) run "with Foolbox's defaults" (Tables 4 and 10), and report CLEVER scores
computed with the Adversarial Robustness Toolbox (Table 11). tfbnn does not rewrite
these: a number labelled "DeepFool (foolbox)" must come from foolbox's code, with
foolbox's defaults, or it is not comparable with the paper's. This module only adapts
the interfaces, so that a tfbnn model goes in unchanged (any callable mapping a batch
of inputs to logits: a Keras model, a SavedModel's signature, a plain function, an
`EOT` wrapper) and the points that come out pass tfbnn's ball and range checks:

- `deepfool` and `brendel_bethge` build a ``foolbox.TensorFlowModel`` from ``model_fn``
  with ``bounds=(clip_min, clip_max)``, run foolbox's minimal-perturbation attack, let
  foolbox clip the perturbation to the eps-ball (``epsilons=eps``), and then project
  once more with tfbnn's own `tfbnn.attacks.core.Ball` and clip to the range, which
  only removes float32 rounding (``x + clip(p)`` can land one ulp outside).
- `clever_scores` wraps ``model_fn`` (its logits times a temperature ``beta``) in an
  ART ``TensorFlowV2Classifier`` and calls ``art.metrics.clever_u`` per example.

Both libraries are optional, pinned in the ``bench`` extra (``pip install -e
".[bench]"``: adversarial-robustness-toolbox==1.20.1, foolbox==3.3.4, and numba, which
foolbox's BBA needs for its trust-region solvers). They are imported when a function
here is called, never at ``import tfbnn``; a missing one raises ``ImportError`` naming
that command.

# Two things found while wrapping

- ART 1.20.1's ``clever_t`` passes the predicted class as a NumPy integer, which
  ``TensorFlowV2Classifier.class_gradient`` does not accept (it takes a Python int or
  a sequence: ``TypeError: 'numpy.int64' object is not iterable``). `clever_scores`
  uses a subclass whose ``class_gradient`` turns a NumPy integer into an int, and
  changes nothing else.
- CLEVER on *logits* does not depend on a temperature that is constant around the
  example: the score is ``g(x0) / L`` with ``g`` a logit difference and ``L`` the
  largest dual norm of its gradient nearby, and both scale with ``beta``. Only a
  ``beta`` applied before a softmax changes the score, so ``output="probabilities"``
  (CLEVER of ``softmax(beta * logits)``) is offered; which of the two the paper's
  Table 11 used is not stated (the authors' public code has no CLEVER script).

# References
    - Moosavi-Dezfooli, Fawzi, Frossard. DeepFool: a simple and accurate method to fool
      deep neural networks. CVPR 2016.
    - Brendel, Rauber, Kuemmerer, Ustyuzhaninov, Bethge. Accurate, reliable and fast
      robustness evaluation. NeurIPS 2019.
    - Weng, Zhang, Chen, Yi, Su, Gao, Hsieh, Daniel. Evaluating the Robustness of Neural
      Networks: An Extreme Value Theory Approach (CLEVER). ICLR 2018.
    - Rauber, Zimmermann, Bethge, Brendel. Foolbox Native. JOSS 2020.
    - Nicolae et al. Adversarial Robustness Toolbox v1.0.0. arXiv:1807.01069.
    - Gupta, Ajanthan. Improved Gradient based Adversarial Attacks for Quantized
      Networks. AAAI 2022, Tables 4, 10, 11 and Appendix C.3.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from tfbnn import checks, temperature
from tfbnn.attacks import core

__all__ = ["ART_VERSION", "BENCH_HINT", "CLEVER_NORMS", "FOOLBOX_VERSION", "OUTPUTS",
           "brendel_bethge", "clever_scores", "deepfool", "require"]

FOOLBOX_VERSION = "3.3.4"
ART_VERSION = "1.20.1"
"""The versions the defaults below were read from (setup.py's ``bench`` extra pins them)."""

BENCH_HINT = 'pip install -e ".[bench]"'
"""How to install the peer libraries: the ``bench`` extra pins all of them."""

CLEVER_NORMS = (1, 2, np.inf)
"""Perturbation norms ART's CLEVER supports; the gradient is measured in the dual norm."""

OUTPUTS = ("logits", "probabilities")
"""What `clever_scores` differentiates: ``beta * logits`` or ``softmax(beta * logits)``."""

_NEEDS = {
    "foolbox": ("foolbox", FOOLBOX_VERSION),
    "numba": ("numba", None),
    "art": ("adversarial-robustness-toolbox", ART_VERSION),
}


# --------------------------------------------------------------------------- imports


def require(module: str, what: str):
    """Import ``module`` (``"foolbox"``, ``"numba"`` or ``"art"``) for ``what``, or raise
    ``ImportError`` naming the ``bench`` extra.

    Evaluation calls this when an attack is requested, before any attack runs, so a
    missing library is reported at once rather than after the first stages. A version
    other than the pinned one gives a warning: the defaults documented here are those
    of the pinned version.
    """
    if module not in _NEEDS:
        raise ValueError(f"module must be one of {sorted(_NEEDS)}, got {module!r}.")
    package, pinned = _NEEDS[module]
    try:
        with warnings.catch_warnings():  # ART warns that PyTorch is missing; not our concern
            warnings.simplefilter("ignore")
            loaded = __import__(module)
    except ImportError as err:
        raise ImportError(
            f"{what} needs {package}, which is not installed: run {BENCH_HINT} (it pins "
            f"the peer libraries: foolbox=={FOOLBOX_VERSION}, "
            f"adversarial-robustness-toolbox=={ART_VERSION}, and numba for foolbox's "
            "Brendel & Bethge attack).") from err
    version = getattr(loaded, "__version__", None)
    if pinned is not None and version != pinned:
        warnings.warn(f"{package} {version} is installed; tfbnn documents {what}'s defaults "
                      f"for {package}=={pinned} ({BENCH_HINT} installs it).", UserWarning,
                      stacklevel=3)
    return loaded


# --------------------------------------------------------------------------- foolbox


def _device() -> str:
    # foolbox's own default calls the deprecated tf.test.is_gpu_available()
    return "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"


def _foolbox_opening(model_fn, x, y, eps, norm, clip_min, clip_max, attack):
    """Checks and inputs shared by the foolbox attacks: ``(norm, x, y)``, with ``x``
    clipped exactly into the bounds (foolbox asserts it) and ``y`` as int64 (foolbox
    compares labels with ``argmax``, which is int64 in TensorFlow)."""
    norm = checks.check_norm(norm)
    checks.check_eps("eps", eps, allow_tensor=False)
    checks.check_box(clip_min, clip_max, attack)
    x, y = core.prepare(model_fn, x, y, False, clip_min, clip_max)
    x = tf.clip_by_value(x, clip_min, clip_max)
    return norm, x, tf.cast(tf.convert_to_tensor(y), tf.int64)


def _foolbox_model(fb, model_fn, clip_min, clip_max):
    return fb.TensorFlowModel(model_fn, bounds=(float(clip_min), float(clip_max)),
                              device=_device())


def _into_ball(x, x_adv, eps, norm, clip_min, clip_max) -> tf.Tensor:
    """``x_adv`` projected on the eps-ball around ``x`` and clipped into the range: a
    no-op up to float32 rounding for points foolbox already clipped."""
    x_adv = tf.convert_to_tensor(x_adv, tf.float32)
    delta = core.ball(norm).project(x_adv - x, tf.cast(eps, tf.float32))
    return core.clip_to_range(x + delta, clip_min, clip_max)


def _still_adversarial(model_fn, starts, y, tries: int = 3) -> np.ndarray:
    """Per example, whether its start is adversarial, judged on exactly the sub-batch
    foolbox will judge it on (it asserts that every start it is given is adversarial).

    The init attack stops right at the boundary, where a logit margin of one ulp can
    flip when the same input is evaluated in a batch of another size (another matrix
    blocking), so the sub-batch of the starts found is checked again, and again after
    dropping any that flipped, until it is stable.
    """
    started = np.ones(len(y), bool)
    for _ in range(tries):
        idx = np.flatnonzero(started)
        if not idx.size:
            break
        hit = np.asarray(tf.argmax(model_fn(tf.gather(starts, idx)), -1)) != y[idx]
        started[idx[~hit]] = False
        if hit.all():
            break
    return started


def deepfool(model_fn: Callable, x, y, eps, norm=np.inf, *, steps: int = 50,
             candidates: int | None = 10, overshoot: float = 0.02, loss: str = "logits",
             clip_min: float = 0.0, clip_max: float = 1.0) -> tf.Tensor:
    """DeepFool, foolbox 3's ``LinfDeepFoolAttack`` / ``L2DeepFoolAttack``, inside the eps-ball.

    DeepFool linearises the logit differences between the top class and the
    ``candidates - 1`` next ones, steps to the nearest linearised boundary (in the dual
    norm of ``norm``), overshoots it by ``overshoot``, and repeats until the example is
    misclassified or ``steps`` run out. It minimises the perturbation, so it has no
    radius of its own: foolbox is called with ``epsilons=eps``, which clips each
    perturbation into the eps-ball, and that clipped point is returned (it may no
    longer fool the model; then it is a point of the ball that did not). On a linear
    classifier the first step lands on the nearest boundary, so DeepFool finds the
    exact minimal perturbation (times ``1 + overshoot``).

    The defaults are foolbox 3.3.4's (``foolbox/attacks/deepfool.py``): ``steps=50``,
    ``candidates=10``, ``overshoot=0.02``, ``loss="logits"`` (the alternative is
    ``"crossentropy"``); foolbox also adds ``1e-4`` to every step's distance "for
    numerical stability". The paper runs DeepFool "with Foolbox's defaults".

    # Arguments
        model_fn: callable mapping a batch of inputs to logits.
        x: batch of inputs inside ``[clip_min, clip_max]``.
        y: labels; an example counts as fooled when its prediction differs from its
            label. ``None`` uses the model's own predictions.
        eps: radius of the ball the result is clipped to, a number >= 0.
        norm: ``np.inf`` (``LinfDeepFoolAttack``) or ``2`` (``L2DeepFoolAttack``).
        steps: most DeepFool iterations, >= 1.
        candidates: how many of the highest-scoring classes are considered (the top one
            included), >= 2, or ``None`` for all.
        overshoot: relative overshoot past the linearised boundary, >= 0.
        loss: ``"logits"`` (logit differences) or ``"crossentropy"``.
        clip_min, clip_max: the valid input range, foolbox's model bounds.

    # Returns
        The adversarial batch, float32, inside the eps-ball around ``x`` and the range.

    # Raises
        ValueError: an unsupported norm, ``eps < 0`` (or not a number), no proper
            ``clip_min < clip_max``, bad ``steps``/``candidates``/``overshoot``/``loss``,
            or inputs outside the range.
        ImportError: foolbox is not installed (install the ``bench`` extra).

    # References
        - Moosavi-Dezfooli, Fawzi, Frossard, CVPR 2016; foolbox 3.3.4's implementation.
    """
    checks.check_int("steps", steps, 1)
    checks.check_int("candidates", candidates, 2, allow_none=True,
                     hint=" It counts the top class too, so 2 is the least that attacks.")
    checks.check_number("overshoot", overshoot, minimum=0.0)
    if loss not in ("logits", "crossentropy"):
        raise ValueError(f"loss must be 'logits' or 'crossentropy' (foolbox's choices), got "
                         f"{loss!r}.")
    norm, x, y = _foolbox_opening(model_fn, x, y, eps, norm, clip_min, clip_max, "deepfool")
    fb = require("foolbox", "deepfool")
    cls = fb.attacks.LinfDeepFoolAttack if norm == np.inf else fb.attacks.L2DeepFoolAttack
    attack = cls(steps=int(steps), candidates=candidates, overshoot=float(overshoot), loss=loss)
    fmodel = _foolbox_model(fb, model_fn, clip_min, clip_max)
    _, clipped, _ = attack(fmodel, x, y, epsilons=float(eps))
    return _into_ball(x, clipped, eps, norm, clip_min, clip_max)


def brendel_bethge(model_fn: Callable, x, y, eps, norm=np.inf, *, steps: int = 1000,
                   init_attack=None, overshoot: float = 1.1, lr: float = 1e-3,
                   lr_decay: float = 0.5, lr_num_decay: int = 20, momentum: float = 0.8,
                   binary_search_steps: int = 10, clip_min: float = 0.0, clip_max: float = 1.0,
                   return_started: bool = False):
    """The Brendel & Bethge attack, foolbox 3's ``LinfinityBrendelBethgeAttack`` /
    ``L2BrendelBethgeAttack``, inside the eps-ball.

    BBA starts from an adversarial point, binary-searches towards ``x`` to the decision
    boundary, then walks along the boundary towards ``x`` by solving a small
    trust-region problem per step (foolbox compiles these solvers with numba). It
    minimises the perturbation: as with `deepfool`, foolbox clips the result into the
    eps-ball (``epsilons=eps``) and that point is returned.

    The starting point: ``init_attack`` (foolbox's default: its
    ``LinearSearchBlendedUniformNoiseAttack()``, which draws up to 1,000 uniform-noise
    images until one is misclassified and then blends it with ``x`` in 1,000 steps).
    tfbnn runs that attack itself, as foolbox would, and keeps the examples where it
    found no adversarial start *clean* (foolbox would stop with an ``AssertionError``
    for the whole batch); a warning says how many, and ``return_started=True`` returns
    the mask. The noise draws come from TensorFlow's global random state (unseeded by
    tfbnn; ``tf.random.set_seed`` beforehand makes them repeat).

    The defaults are foolbox 3.3.4's (``foolbox/attacks/brendel_bethge.py``):
    ``steps=1000`` (it stops early once every example has converged),
    ``overshoot=1.1``, ``lr=1e-3``, ``lr_decay=0.5``, ``lr_num_decay=20``,
    ``momentum=0.8``, ``binary_search_steps=10``, no TensorBoard logging.

    Cost, on tests/test_peers.py's linear model (12 inputs, 4 classes, 8 examples; 2
    shared, busy CPU cores): the first call in a process compiles foolbox's numba
    solvers, 20-30 s for L-inf and 10-20 s for L2; every later call of 1,000 steps took
    4-6 s, about 0.5 ms per example and step spent in the solvers and foolbox's eager
    loop. For a network, every step adds a forward and a backward pass on the batch, so
    1,000 steps cost about what a PGD-1000 does, plus the solvers.

    # Arguments
        model_fn: callable mapping a batch of inputs to logits. It must be deterministic:
            foolbox asserts that the start is still adversarial when it evaluates it
            again.
        x: batch of inputs inside ``[clip_min, clip_max]``.
        y: labels (``None``: the model's predictions).
        eps: radius of the ball the result is clipped to, a number >= 0.
        norm: ``np.inf`` or ``2`` (foolbox's L1 and L0 variants are not wrapped).
        steps: most iterations, >= 1.
        init_attack: a foolbox ``MinimizationAttack`` giving the starting points (its
            ``run(model, inputs, criterion)`` is called), or ``None`` for foolbox's
            default above.
        overshoot, lr, lr_decay, lr_num_decay, momentum, binary_search_steps: foolbox's
            parameters, see its docstring.
        clip_min, clip_max: the valid input range, foolbox's model bounds.
        return_started: also return the per-example mask of examples that had a start.

    # Returns
        The adversarial batch (float32, inside the ball and the range), or
        ``(x_adv, started)`` with ``return_started``.

    # Raises
        ValueError: an unsupported norm, ``eps < 0``, no proper ``clip_min < clip_max``,
            bad counts or rates, or inputs outside the range.
        TypeError: an ``init_attack`` without a ``run`` method.
        ImportError: foolbox or numba is not installed (install the ``bench`` extra).
        RuntimeError: foolbox found a start that is no longer adversarial (a stochastic
            model).

    # References
        - Brendel et al., NeurIPS 2019; foolbox 3.3.4's implementation ("the reference
          implementation of the Brendel & Bethge attack").
    """
    checks.check_int("steps", steps, 1)
    checks.check_int("lr_num_decay", lr_num_decay, 1)
    checks.check_int("binary_search_steps", binary_search_steps, 1)
    checks.check_number("overshoot", overshoot, positive=True)
    checks.check_number("lr", lr, positive=True)
    checks.check_number("lr_decay", lr_decay, positive=True)
    checks.check_fraction("momentum", momentum)
    if init_attack is not None and not callable(getattr(init_attack, "run", None)):
        raise TypeError(f"init_attack must be a foolbox MinimizationAttack (with a run method), "
                        f"e.g. foolbox.attacks.LinearSearchBlendedUniformNoiseAttack(), or None "
                        f"for foolbox's default; got {init_attack!r}.")
    norm, x, y = _foolbox_opening(model_fn, x, y, eps, norm, clip_min, clip_max,
                                  "brendel_bethge")
    fb = require("foolbox", "brendel_bethge")
    require("numba", "brendel_bethge (foolbox compiles its solvers with numba)")
    cls = (fb.attacks.LinfinityBrendelBethgeAttack if norm == np.inf
           else fb.attacks.L2BrendelBethgeAttack)
    with warnings.catch_warnings():  # "the optimizer needs to be compiled": said above
        warnings.simplefilter("ignore", UserWarning)
        attack = cls(init_attack=init_attack, overshoot=float(overshoot), steps=int(steps),
                     lr=float(lr), lr_decay=float(lr_decay), lr_num_decay=int(lr_num_decay),
                     momentum=float(momentum), binary_search_steps=int(binary_search_steps))
    fmodel = _foolbox_model(fb, model_fn, clip_min, clip_max)
    criterion = fb.criteria.Misclassification(y)
    init = fb.attacks.LinearSearchBlendedUniformNoiseAttack() if init_attack is None else (
        init_attack)
    with warnings.catch_warnings():  # its "failed to draw" warning: counted below instead
        warnings.simplefilter("ignore", UserWarning)
        starts = tf.convert_to_tensor(init.run(fmodel, x, criterion))
    started = _still_adversarial(model_fn, starts, y.numpy())
    x_adv = x
    if not started.all():
        warnings.warn(f"brendel_bethge: the init attack found no adversarial starting point "
                      f"for {int((~started).sum())} of {len(started)} examples; they stay "
                      "clean.", UserWarning, stacklevel=2)
    if started.any():
        idx = np.flatnonzero(started)
        try:
            _, clipped, _ = attack(fmodel, tf.gather(x, idx), tf.gather(y, idx),
                                   epsilons=float(eps), starting_points=tf.gather(starts, idx))
        except AssertionError as err:
            raise RuntimeError(
                "foolbox's Brendel & Bethge attack found its starting points no longer "
                "adversarial when it evaluated them again; the model's outputs change from "
                "call to call (a stochastic model?). BBA needs a deterministic model_fn."
            ) from err
        x_adv = tf.tensor_scatter_nd_update(x, idx[:, None], tf.convert_to_tensor(clipped))
    x_adv = _into_ball(x, x_adv, eps, norm, clip_min, clip_max)
    return (x_adv, started) if return_started else x_adv


# --------------------------------------------------------------------------- ART CLEVER


DISTANCE_TOLERANCE = 1e-6
"""A found L-inf distance up to eps + this counts as inside the ball (float32 rounding of
``x + delta``; one pixel step is 1/255 = 3.9e-3)."""


def robust_at(fooled, distance, eps: float, clean=None) -> np.ndarray:
    """Per example, whether it is robust at radius ``eps`` under a minimum-norm attack
    (DeepFool, BBA) run once without a radius: its point was not adversarial
    (``fooled`` False) or lies further than ``eps`` (``distance``, in the norm the
    attack minimized), and, with ``clean``, the example was classified correctly. One
    run thus gives the accuracy at every radius, with no further model call."""
    fooled, distance = np.asarray(fooled, bool), np.asarray(distance, float)
    if fooled.shape != distance.shape:
        raise ValueError(f"fooled has shape {fooled.shape} and distance {distance.shape}; "
                         "give one value of each per example.")
    robust = ~(fooled & (distance <= eps + DISTANCE_TOLERANCE))
    return robust if clean is None else robust & np.asarray(clean, bool)[:len(robust)]


def _check_clever_args(norm, nb_batches, batch_size, radius, output, c_init, pool_factor,
                       seed, rho):
    if norm in ("inf", "linf", "Linf"):
        norm = np.inf
    if isinstance(norm, bool) or norm not in CLEVER_NORMS:
        raise ValueError(f"norm must be one of 1, 2 or np.inf (ART's CLEVER norms; the paper "
                         f"uses 1), got {norm!r}.")
    checks.check_int("nb_batches", nb_batches, 1)
    checks.check_int("batch_size", batch_size, 1)
    checks.check_int("pool_factor", pool_factor, 1)
    checks.check_number("radius", radius, positive=True)
    checks.check_number("c_init", c_init, positive=True)
    checks.check_rho("rho", rho)
    checks.check_seed(seed)
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS} (CLEVER of beta * logits, or of "
                         f"softmax(beta * logits)), got {output!r}.")
    return np.inf if norm == np.inf else int(norm)


def _clever_betas(model_fn, x, beta, rho) -> np.ndarray:
    """One temperature per example: a number, an array, or tfbnn's NJS or HNS beta at
    ``x`` with the predicted class as label (CLEVER scores the predicted class)."""
    n = int(x.shape[0])
    if beta is None:
        return np.ones(n)
    if isinstance(beta, str):
        if beta == "hns":
            return np.asarray(temperature.hns_beta(model_fn, x), np.float64)
        if beta == "njs":
            logits = model_fn(x)
            beta1 = temperature.njs_beta1(model_fn, x)
            beta2 = temperature.njs_beta2(logits, tf.argmax(logits, -1), rho, beta1)
            return np.asarray(beta1 * beta2, np.float64)
        raise ValueError(f"beta must be a number > 0, one per example, 'njs' or 'hns', got "
                         f"{beta!r}.")
    checks.check_beta(beta)
    betas = np.broadcast_to(np.asarray(beta, np.float64), (n,)) if np.ndim(beta) == 0 else (
        np.asarray(beta, np.float64))
    if betas.shape != (n,):
        raise ValueError(f"beta holds {betas.shape[0]} values for a batch of {n} inputs; give "
                         "one per example or a single number.")
    return betas


class _Scaled:
    """``model_fn`` with a temperature that `clever_scores` sets per example: a
    variable, so ART's compiled forward pass is traced once and reads the current one.
    ART calls its models with a ``training`` argument, which a plain ``model_fn``
    need not accept."""

    def __init__(self, model_fn, output):
        self.model_fn = model_fn
        self.probabilities = output == "probabilities"
        self.beta = tf.Variable(1.0, dtype=tf.float32, trainable=False)

    def __call__(self, x, training=False):
        scaled = self.beta * tf.cast(self.model_fn(x), tf.float32)
        return tf.nn.softmax(scaled, -1) if self.probabilities else scaled


def clever_scores(model_fn: Callable, x, *, norm=1, nb_batches: int = 50, batch_size: int = 10,
                  radius: float = 5.0, beta=None, output: str = "logits", rho: float = 0.01,
                  nb_classes: int | None = None, clip_min: float | None = 0.0,
                  clip_max: float | None = 1.0, c_init: float = 1.0, pool_factor: int = 10,
                  seed: int | None = 0) -> np.ndarray:
    """Untargeted CLEVER scores, ART's ``art.metrics.clever_u``, one per example.

    CLEVER estimates a lower bound on the minimal ``norm`` perturbation: for each class
    ``j`` other than the predicted class ``c``, ``g(x0) / L_j`` with ``g = f_c - f_j``
    and ``L_j`` the maximum of ``||grad g||_q`` (``q`` the dual norm: L-inf for
    ``norm=1``) over the radius-``radius`` ball, estimated by fitting a reverse Weibull
    distribution to ``nb_batches`` batch maxima of ``batch_size`` sampled gradient
    norms; the score is the minimum over ``j``, capped at ``radius``. On a linear model
    the gradients are constant and the score is the exact distance
    ``min_j (z_c - z_j) / ||w_c - w_j||_q``.

    ``f`` is ``beta * logits`` (``output="logits"``) or ``softmax(beta * logits)``
    (``output="probabilities"``). A positive ``beta`` never changes the predicted class.
    On logits a ``beta`` that is constant around the example cancels out of ``g / L``;
    it matters on probabilities, where a saturated softmax has vanishing gradients
    (the gradient masking that makes CLEVER overestimate robustness, Goodfellow 2018).

    The defaults are the paper's settings ("number of batches 50, batch size 10, radius
    5, L1 norm") and ART 1.20.1's own defaults for the rest: ``c_init=1.0`` (the
    Weibull fit's initial shape), ``pool_factor=10`` (gradients are computed on a pool
    of ``pool_factor * batch_size`` points sampled uniformly in the ball, clipped to
    ``[clip_min, clip_max]``, and each batch draws from that pool), the fit by scipy's
    ``weibull_min.fit`` with ``scipy.optimize.fmin`` (Nelder-Mead), and the
    predicted class from the model's outputs at ``x``. Samples come from NumPy's
    global random state; with an int ``seed`` it is seeded for the call and restored
    afterwards.

    # Arguments
        model_fn: callable mapping a batch of inputs to logits.
        x: the inputs, ``(n, ...)``.
        norm: the perturbation norm, 1 (the paper's), 2 or ``np.inf``.
        nb_batches, batch_size: ART's sample counts (the paper: 50 and 10).
        radius: the ball the gradients are sampled in, and the score's cap (the paper: 5).
        beta: the temperature: ``None`` (1), a number > 0, one number > 0 per example,
            ``"njs"`` (tfbnn's NJS: ``beta_1`` from the Jacobians at ``x``, times a
            per-example ``beta_2`` from the logits, `tfbnn.temperature.njs_beta2`) or
            ``"hns"`` (`tfbnn.temperature.hns_beta` at ``x``); both use the predicted
            class, the class CLEVER scores. The paper's "heuristic" is ``beta=0.01``.
        output: ``"logits"`` or ``"probabilities"``, see above.
        rho: NJS's threshold (the paper: 0.01).
        nb_classes: the number of classes; ``None`` reads it from the model, a given
            value must match the model's output width.
        clip_min, clip_max: the input range the samples are clipped to (both or neither).
        c_init, pool_factor: ART's parameters, see above.
        seed: seed of the sampling (None: unseeded).

    # Returns
        The scores, float64, shape ``(n,)``.

    # Raises
        ValueError: an unsupported norm or output, counts < 1, ``radius <= 0``, a bad
            ``beta``, a ``nb_classes`` that does not match the model, inputs outside the
            range.
        ImportError: ART is not installed (install the ``bench`` extra).

    # References
        - Weng et al., ICLR 2018; ART 1.20.1's ``clever_u`` / ``clever_t``.
        - Goodfellow. Gradient masking causes CLEVER to overestimate adversarial
          perturbation size. arXiv:1804.07870, 2018.
        - Gupta & Ajanthan, AAAI 2022, Appendix C.3, Table 11.
    """
    norm = _check_clever_args(norm, nb_batches, batch_size, radius, output, c_init,
                              pool_factor, seed, rho)
    checks.check_clip(clip_min, clip_max)
    x, _ = core.prepare(model_fn, x, None, False, clip_min, clip_max, predict=False)
    if clip_min is not None:
        x = tf.clip_by_value(x, clip_min, clip_max)
    width = int(model_fn(x[:1]).shape[-1])
    if nb_classes is not None:
        checks.check_int("nb_classes", nb_classes, 2)
        if nb_classes != width:
            raise ValueError(f"nb_classes={nb_classes!r}, but the model returns {width} scores "
                             "per input; leave nb_classes=None to read it from the model.")
    betas = _clever_betas(model_fn, x, beta, rho)
    require("art", "clever_scores")
    with warnings.catch_warnings():  # ART warns that PyTorch is missing; not our concern
        warnings.simplefilter("ignore")
        from art.estimators.classification import TensorFlowV2Classifier
        from art.metrics import clever_u

    class Classifier(TensorFlowV2Classifier):
        def class_gradient(self, x, label=None, training_mode=False, **kwargs):
            if isinstance(label, np.integer):  # ART's clever_t passes np.int64
                label = int(label)
            return super().class_gradient(x, label=label, training_mode=training_mode,
                                          **kwargs)

    scaled = _Scaled(model_fn, output)
    classifier = Classifier(scaled, nb_classes=width, input_shape=tuple(x.shape[1:]),
                            clip_values=None if clip_min is None else (clip_min, clip_max))
    inputs = x.numpy()
    state = np.random.get_state()
    if seed is not None:
        np.random.seed(seed)
    try:
        scores = []
        for x_i, beta_i in zip(inputs, betas):
            scaled.beta.assign(beta_i)
            scores.append(float(clever_u(classifier, x_i, nb_batches=int(nb_batches),
                                         batch_size=int(batch_size), radius=float(radius),
                                         norm=norm, c_init=float(c_init),
                                         pool_factor=int(pool_factor), verbose=False)))
    finally:
        if seed is not None:
            np.random.set_state(state)
    return np.asarray(scores, np.float64)
