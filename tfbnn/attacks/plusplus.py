"""FGSM++ and PGD++: FGSM and PGD on temperature-scaled logits (Gupta & Ajanthan, 2022).

Both attacks pick a temperature ``beta`` per example (NJS or HNS, see
`tfbnn.temperature`) and run the ordinary `fast_gradient_method` /
`projected_gradient_descent` with the loss ``-y^T log softmax(beta a)``. Scaling the
logits by ``beta > 0`` never changes a prediction, so success is judged on the model
itself, but it revives input gradients that vanish because the softmax saturates or
the Jacobian is badly scaled (binarized networks, over-confident models).

# Reading of the paper

tfbnn follows the paper's pseudo-code and equations as stated below. The authors'
public code (kartikgupta-at-anu/attack-bnn, read for comparison, not copied) differs in
two places, where tfbnn follows the paper: its random start is uniform in
``[-eps, eps]`` (tfbnn's ``rand_init="uniform"``) where Algorithms 1-2 write
``P(x + Uniform(-1, 1))`` (``rand_init="paper"``); and it falls back to ``beta = 1`` when
the best HNS grid point is an end of the grid, where the paper keeps the maximiser.

- NJS (Algorithm 1): ``beta_1 = 1 / mean singular value of J``, estimated once on
  ``njs_samples`` (the paper: 100 random test samples; tfbnn: the first
  ``njs_max_samples`` of them, the attacked batch by default). At *every* iteration,
  ``p' = softmax(beta_1 a(x^t))``; where ``1 - p'_k <= rho``, ``beta_2`` is
  Proposition 1's bound, else 1, and the loss uses ``beta_2 beta_1 a`` (``beta_2``
  multiplies ``beta_1``, it does not replace it). Proposition 1 is applied to the
  logits ``beta_2`` multiplies, ``beta_1 a``, with ``gamma`` their max - min gap
  (Proposition 2's ``gamma = a_1 - a_d``), so the product is exactly the bound for the
  unscaled logits and ``1 - p_k > rho`` holds afterwards. ``beta_2`` is a constant in
  the gradient (computed from ``x^t``, not differentiated).
- HNS (Algorithm 2): ``beta*`` is searched once, at the clean input ``x^0`` (line 2
  names ``x^0``; Appendix C.1: "only at the start of the first iteration"), and reused
  for every iteration and restart. The grid has ``hns_grid`` points, both ends
  included, between Proposition 1's bounds at ``rho = 1 - 1/d - 1e-2`` and
  ``rho = 1e-72`` with ``gamma = a_1 - a_2`` (Appendix C.1: "100 equally spaced
  intervals ... from beta_1 to beta_2"). The Hessian norm drops eq. 8's
  ``psi dJ/dx`` term: exact for piecewise-linear networks (ReLU, max-pool, sign with a
  straight-through estimator), an approximation for smooth activations.
  Misclassified examples keep ``beta = 1``; for a targeted attack, examples already
  classified as their target keep ``beta = 1``.
- The paper runs FGSM(++) with one random start as well; `fast_gradient_method` has
  none (add noise to ``x`` yourself to reproduce that). PGD(++) uses
  `projected_gradient_descent`'s start: ``rand_init="paper"`` is the paper's
  Uniform(-1, 1) noise projected onto the ball.

# References
    - Gupta, Ajanthan. Improved Gradient based Adversarial Attacks for Quantized
      Networks. AAAI 2022 (arXiv:2003.13511), Algorithms 1 and 2, Proposition 1,
      eq. 5-8, Appendix C.1.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfbnn import checks, temperature
from tfbnn.attacks import core
from tfbnn.attacks.fgsm import fast_gradient_method
from tfbnn.attacks.pgd import check_rand_init, projected_gradient_descent

__all__ = ["VARIANTS", "fgsm_plus_plus", "fgsmpp", "pgd_plus_plus", "pgdpp", "temperature_loss"]

VARIANTS = ("hns", "njs")
"""Ways of choosing the temperature: Hessian Norm Scaling and Network Jacobian Scaling."""

_SET_BY_PLUSPLUS = ("model_fn", "x", "eps", "eps_iter", "nb_iter", "norm", "loss_fn",
                    "clip_min", "clip_max", "y", "targeted", "rand_init", "seed")


def _check_variant(variant) -> str:
    if variant not in VARIANTS:
        raise ValueError(
            f"variant must be one of {VARIANTS} ('hns': Hessian Norm Scaling, 'njs': Network "
            f"Jacobian Scaling), got {variant!r}."
        )
    return variant


def _check_plusplus_args(variant, rho, njs_max_samples, hns_grid, hns_spacing, hns_rho_low,
                         hns_rho_high) -> None:
    _check_variant(variant)
    checks.check_rho("rho", rho)
    checks.check_int("njs_max_samples", njs_max_samples, 1)
    temperature.check_hns_args(hns_grid, hns_spacing, hns_rho_low, hns_rho_high)


def _check_pgd_kwargs(pgd_kwargs: dict) -> None:
    allowed = set(inspect.signature(projected_gradient_descent).parameters) - set(_SET_BY_PLUSPLUS)
    for name, value in pgd_kwargs.items():
        if name == "loss_fn":
            raise TypeError(
                "pgd_plus_plus sets loss_fn itself (the temperature-scaled cross-entropy); to "
                "combine another loss with a temperature, call projected_gradient_descent "
                "with loss_fn=tfbnn.temperature.temperature_scaled_loss(beta)."
            )
        if name not in allowed:
            raise TypeError(
                f"pgd_plus_plus got an unexpected keyword argument {name!r}; "
                f"projected_gradient_descent also accepts {sorted(allowed)}."
            )
        if name == "nb_restarts":
            checks.check_int("nb_restarts", value, 1)


class HNSConfig(NamedTuple):
    """What one traced HNS search depends on besides its tensors."""

    targeted: bool
    grid: int
    spacing: str
    rho_low: float
    rho_high: float | None


def _hns_beta(model_fn, c: HNSConfig):
    """HNS's beta at the clean inputs as a function of tensors (for `core.compiled`)."""
    return lambda x, y: temperature.hns_beta(model_fn, x, y, c.grid, c.spacing, c.rho_low,
                                             c.rho_high, targeted=c.targeted)


def _njs_beta1(model_fn, max_samples: int):
    """NJS's beta_1 as a function of tensors (for `core.compiled`)."""
    return lambda samples: temperature.njs_beta1(model_fn, samples, max_samples)


def _run(build, model_fn, config, *tensors):
    """``build`` traced once per model and configuration when called eagerly."""
    if tf.executing_eagerly():
        return core.compiled(build, model_fn, config)(*tensors, ())
    return build(model_fn, config)(*tensors)


def temperature_loss(model_fn, x, y, targeted, variant, rho=0.01, njs_samples=None,
                     njs_max_samples=100, hns_grid=100, hns_spacing="linear",
                     hns_rho_low=temperature.HNS_RHO_LOW, hns_rho_high=None,
                     njs_beta1=None) -> Callable:
    """The loss FGSM++/PGD++ ascend: cross-entropy of the logits times the variant's beta,
    with beta computed at the clean ``x`` (and NJS's beta_2 at every iterate).

    Returned as a `tfbnn.attacks.core.ParametrizedLoss`: beta is an input of the
    attack's compiled function, so attacking batch after batch reuses one traced graph.
    Arguments as in `fgsm_plus_plus`.
    """
    if variant == "njs":
        if njs_beta1 is not None:
            checks.check_beta(njs_beta1)
            beta1 = tf.convert_to_tensor(njs_beta1, tf.float32)
        else:
            samples = x if njs_samples is None else tf.convert_to_tensor(njs_samples, tf.float32)
            beta1 = _run(_njs_beta1, model_fn, int(njs_max_samples), samples[:njs_max_samples])
        return core.ParametrizedLoss(
            lambda labels, logits, b1: temperature.njs_cross_entropy(labels, logits, b1, rho),
            beta1, key=("njs", float(rho)))
    config = HNSConfig(bool(targeted), int(hns_grid), hns_spacing, float(hns_rho_low),
                       None if hns_rho_high is None else float(hns_rho_high))
    beta = tf.stop_gradient(_run(_hns_beta, model_fn, config, x, tf.convert_to_tensor(y)))
    return core.ParametrizedLoss(temperature.scaled_cross_entropy, beta, key="hns")


def _prepare(model_fn, x, y, targeted, clip_min, clip_max, variant, rho, njs_samples,
             njs_max_samples, njs_beta1, hns_grid, hns_spacing, hns_rho_low, hns_rho_high):
    """The opening both ++ attacks share: checks, labels, and the temperature loss.

    No probability warning here: the FGSM or PGD run that follows gives it.
    """
    _check_plusplus_args(variant, rho, njs_max_samples, hns_grid, hns_spacing, hns_rho_low,
                         hns_rho_high)
    x, y = core.prepare(model_fn, x, y, targeted, clip_min, clip_max, warn=False)
    loss_fn = temperature_loss(model_fn, x, y, targeted, variant, rho, njs_samples,
                               njs_max_samples, hns_grid, hns_spacing, hns_rho_low,
                               hns_rho_high, njs_beta1)
    return x, y, loss_fn


def fgsm_plus_plus(model_fn: Callable, x, eps, norm=np.inf, clip_min: float | None = None,
                   clip_max: float | None = None, y=None, targeted: bool = False, *,
                   variant: str = "hns", rho: float = 0.01, njs_samples=None,
                   njs_max_samples: int = 100, njs_beta1=None, hns_grid: int = 100,
                   hns_spacing: str = "linear", hns_rho_low: float = temperature.HNS_RHO_LOW,
                   hns_rho_high: float | None = None) -> tf.Tensor:
    """FGSM++: one FGSM step (L-inf) or fast gradient step (L2) on temperature-scaled logits.

    Computes ``beta`` (HNS: one per example at ``x``; NJS: ``beta_1`` from
    ``njs_samples`` and ``beta_2`` per example from the logits at ``x``) and calls
    `fast_gradient_method` with the loss ``-y^T log softmax(beta a)``. Predictions, and
    so the success of the attack, are those of ``model_fn`` itself. See the module
    docstring for how the paper's pseudo-code was read.

    # Arguments
        model_fn: callable mapping a batch of inputs to logits (Keras model, SavedModel
            callable, function).
        x: batch of inputs.
        eps: perturbation size, a number or one value per example.
        norm: ``np.inf`` or ``2``.
        clip_min, clip_max: valid input range (both or neither).
        y: labels; ``None`` uses the model's predictions. For a targeted attack, the
            targets.
        targeted: descend the loss of ``y`` instead of ascending it.
        variant: ``"hns"`` (Hessian Norm Scaling) or ``"njs"`` (Network Jacobian
            Scaling).
        rho: NJS's gradient threshold, ``0 < rho < (d - 1) / d`` (the paper: 0.01).
        njs_samples: inputs to estimate NJS's ``beta_1`` on; ``None`` uses ``x``.
        njs_max_samples: how many of them (the paper: 100).
        njs_beta1: NJS's ``beta_1`` when already known, e.g.
            ``tfbnn.temperature.njs_beta1(model_fn, x_samples)`` computed once per model
            and reused for every batch (the paper estimates it once); overrides
            ``njs_samples``.
        hns_grid: number of HNS grid points, ``>= 2`` (the paper: 100).
        hns_spacing: ``"linear"`` (the paper's) or ``"log"``.
        hns_rho_low, hns_rho_high: rhos of the HNS grid's ends (the paper: 1e-72 and
            ``1 - 1/d - 1e-2``, the default ``None``).

    # Returns
        The adversarial batch, same shape as ``x``, float32.

    # Raises
        ValueError: for an unknown variant or spacing, ``rho`` out of range,
            ``hns_grid < 2``, and the checks of `fast_gradient_method`.
        TypeError: when ``model_fn`` is not callable.

    # References
        - Gupta & Ajanthan, AAAI 2022, Algorithms 1-2 (their FGSM++ forms: one step,
          no projection), Table 2.
    """
    norm = checks.check_norm(norm)
    checks.check_eps("eps", eps)
    checks.check_clip(clip_min, clip_max)
    x, y, loss_fn = _prepare(model_fn, x, y, targeted, clip_min, clip_max, variant, rho,
                             njs_samples, njs_max_samples, njs_beta1, hns_grid, hns_spacing,
                             hns_rho_low, hns_rho_high)
    return fast_gradient_method(model_fn, x, eps, norm, loss_fn, clip_min, clip_max, y, targeted)


def pgd_plus_plus(model_fn: Callable, x, eps, eps_iter, nb_iter: int, norm=np.inf,
                  clip_min: float | None = None, clip_max: float | None = None, y=None,
                  targeted: bool = False, rand_init=True, seed: int | None = None, *,
                  variant: str = "hns", rho: float = 0.01, njs_samples=None,
                  njs_max_samples: int = 100, njs_beta1=None, hns_grid: int = 100,
                  hns_spacing: str = "linear", hns_rho_low: float = temperature.HNS_RHO_LOW,
                  hns_rho_high: float | None = None, **pgd_kwargs) -> tf.Tensor:
    """PGD++: `projected_gradient_descent` on temperature-scaled logits, L-inf or L2.

    HNS searches ``beta`` once per example at the clean ``x`` and keeps it for every
    iteration (Algorithm 2). NJS fixes ``beta_1`` from ``njs_samples`` and recomputes
    ``beta_2`` per example at every iteration from the current logits (Algorithm 1).
    The iterations, projections, random starts and restarts are
    `projected_gradient_descent`'s. See the module docstring for how the paper's
    pseudo-code was read.

    # Arguments
        model_fn, x, eps, norm, clip_min, clip_max, y, targeted: as in `fgsm_plus_plus`.
        eps_iter: step size per iteration.
        nb_iter: number of iterations (>= 0).
        rand_init: random start, one of `tfbnn.attacks.pgd.RAND_INITS`; ``"paper"`` is
            the paper's Uniform(-1, 1) noise projected onto the ball.
        seed: op-level seed of the random start.
        variant, rho, njs_samples, njs_max_samples, njs_beta1, hns_grid, hns_spacing,
            hns_rho_low, hns_rho_high: as in `fgsm_plus_plus`.
        **pgd_kwargs: further arguments of `projected_gradient_descent`, e.g.
            ``nb_restarts``.

    # Returns
        The adversarial batch, same shape as ``x``, float32.

    # Raises
        ValueError: for an unknown variant or spacing, ``rho`` out of range,
            ``hns_grid < 2``, and the checks of `projected_gradient_descent`.
        TypeError: for a non-callable ``model_fn``, an unknown keyword argument, or a
            ``loss_fn`` (PGD++ sets the loss itself).

    # References
        - Gupta & Ajanthan, AAAI 2022, Algorithm 1 (PGD++ with NJS), Algorithm 2 (PGD++
          with HNS), Appendix C.1, Tables 2-3.
    """
    norm = checks.check_norm(norm)
    checks.check_eps("eps", eps)
    checks.check_eps("eps_iter", eps_iter)
    checks.check_int("nb_iter", nb_iter, 0)
    check_rand_init(rand_init)
    checks.check_clip(clip_min, clip_max)
    _check_pgd_kwargs(pgd_kwargs)
    x, y, loss_fn = _prepare(model_fn, x, y, targeted, clip_min, clip_max, variant, rho,
                             njs_samples, njs_max_samples, njs_beta1, hns_grid, hns_spacing,
                             hns_rho_low, hns_rho_high)
    return projected_gradient_descent(
        model_fn, x, eps, eps_iter, nb_iter, norm, loss_fn, clip_min, clip_max, y, targeted,
        rand_init=rand_init, seed=seed, **pgd_kwargs,
    )


fgsmpp = fgsm_plus_plus
"""Alias of `fgsm_plus_plus`."""

pgdpp = pgd_plus_plus
"""Alias of `pgd_plus_plus`."""
