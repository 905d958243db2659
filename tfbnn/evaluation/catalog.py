"""The attacks `tfbnn.evaluation` knows, by name, with the budgets it runs them at.

Every entry runs as ``spec.run(model_fn, x, y, eps, norm, nb_iter, seed, box)`` and
returns the adversarial batch; evaluation and its diagnostics know nothing else about an
attack. Gradient attacks use ``nb_iter`` iterations with Madry et al.'s step rule
``2.5 eps / nb_iter`` (`tfbnn.attacks.core.madry_step`);
``square`` uses ``nb_iter`` as its query budget per example (times ten: a query costs
one forward pass, a gradient step about three).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tfbnn import attacks
from tfbnn.attacks import core

__all__ = ["ATTACKS", "AttackSpec", "DEFAULT_ENSEMBLE", "L2", "LINF", "NORMS", "check_attack_names"]

LINF, L2 = "linf", "l2"
NORMS = {LINF: np.inf, L2: 2}
"""Norm names as evaluation and the CLI spell them, and the attacks' ``norm`` values."""


@dataclass(frozen=True)
class AttackSpec:
    """One attack of the catalog.

    # Arguments
        name: the name evaluation and the CLI use.
        norms: the norms it supports, among ``"linf"`` and ``"l2"``.
        uses_gradients: False for black-box (score-based) attacks.
        run: ``(model_fn, x, y, eps, norm, nb_iter, seed, box) -> x_adv``.
        description: one line for reports and ``--help``.
    """

    name: str
    norms: tuple
    uses_gradients: bool
    run: Callable
    description: str


def _pgd(f, x, y, eps, norm, nb_iter, seed, box):
    return attacks.projected_gradient_descent(f, x, eps, core.madry_step(eps, nb_iter), nb_iter,
                                              NORMS[norm], y=y, seed=seed, **box)


def _pgdpp(variant):
    def run(f, x, y, eps, norm, nb_iter, seed, box):
        return attacks.pgd_plus_plus(f, x, eps, core.madry_step(eps, nb_iter), nb_iter,
                                     NORMS[norm], y=y, seed=seed, variant=variant, **box)
    return run


def _fgsm(f, x, y, eps, norm, nb_iter, seed, box):
    return attacks.fast_gradient_method(f, x, eps, NORMS[norm], y=y, **box)


def _fgsmpp(variant):
    def run(f, x, y, eps, norm, nb_iter, seed, box):
        return attacks.fgsm_plus_plus(f, x, eps, NORMS[norm], y=y, variant=variant, **box)
    return run


def _apgd(loss):
    def run(f, x, y, eps, norm, nb_iter, seed, box):
        return attacks.auto_projected_gradient_descent(f, x, eps, nb_iter, NORMS[norm], loss, y=y,
                                                       seed=seed, **box)
    return run


def _square(f, x, y, eps, norm, nb_iter, seed, box):
    return attacks.square_attack(f, x, eps, nb_iter=10 * nb_iter, y=y, seed=seed, **box)


ATTACKS: dict[str, AttackSpec] = {spec.name: spec for spec in (
    AttackSpec("fgsm", (LINF, L2), True, _fgsm, "FGSM, one step of size eps"),
    AttackSpec("fgsmpp_njs", (LINF, L2), True, _fgsmpp("njs"), "FGSM++ with NJS temperature"),
    AttackSpec("fgsmpp_hns", (LINF, L2), True, _fgsmpp("hns"), "FGSM++ with HNS temperature"),
    AttackSpec("pgd", (LINF, L2), True, _pgd, "PGD, cross-entropy, uniform random start"),
    AttackSpec("pgdpp_njs", (LINF, L2), True, _pgdpp("njs"),
               "PGD++ with NJS temperature (Gupta & Ajanthan, Algorithm 1)"),
    AttackSpec("pgdpp_hns", (LINF, L2), True, _pgdpp("hns"),
               "PGD++ with HNS temperature (Gupta & Ajanthan, Algorithm 2)"),
    AttackSpec("apgd_ce", (LINF, L2), True, _apgd("ce"), "APGD, cross-entropy (Croce & Hein)"),
    AttackSpec("apgd_dlr", (LINF, L2), True, _apgd("dlr"),
               "APGD, difference-of-logits-ratio loss (scale invariant)"),
    AttackSpec("square", (LINF,), False, _square,
               "Square attack, gradient-free, 10 x nb_iter queries (Andriushchenko et al.)"),
)}

DEFAULT_ENSEMBLE = ("apgd_ce", "pgdpp_hns", "pgdpp_njs", "apgd_dlr", "square")
"""Run in this order, each on the examples the ones before left robust: APGD-CE, the
strongest single attack on tfbnn's MNIST A/B/C models at 20 iterations
(tutorials/gupta2022_attack_strength.py); the two temperature-scaled PGDs, which revive
the gradients that masking networks hide; APGD-DLR, whose loss cannot saturate; and
Square, which needs no gradient at all (L-inf only). On those models the per-example
worst case over all of them was lower than any single attack's accuracy."""


def check_attack_names(names, norm: str) -> tuple:
    """The names as a tuple, or ``ValueError`` naming the unknown or unsupported one."""
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    if not names:
        raise ValueError(f"attacks must name at least one attack, from {sorted(ATTACKS)}.")
    for name in names:
        if name not in ATTACKS:
            raise ValueError(f"Unknown attack {name!r}; choose from {sorted(ATTACKS)}.")
        if norm not in ATTACKS[name].norms:
            raise ValueError(
                f"Attack {name!r} does not support norm {norm!r} (it supports "
                f"{ATTACKS[name].norms}); drop it or choose another norm.")
    if len(set(names)) != len(names):
        raise ValueError(f"attacks names an attack twice: {names}.")
    return names
