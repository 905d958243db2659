"""The attacks `tfbnn.evaluation` knows, by name, and the versions it runs them in.

Every entry runs as ``spec.run(model_fn, x, y, eps, norm, nb_iter, seed, box, **budget)``
and returns the adversarial batch; evaluation and its diagnostics know nothing else about
an attack. Gradient attacks use ``nb_iter`` iterations (PGD and PGD++ with Madry et
al.'s step rule ``2.5 eps / nb_iter``, `tfbnn.attacks.core.madry_step`); the optional
``budget`` holds ``restarts`` (independent random starts, each example keeping its
worst case), ``targets`` (targeted attacks: how many of the highest-scoring other classes
are tried, one after another) and ``queries`` (Square's forward passes per example;
without it ``10 * nb_iter``: a query costs one forward pass, a gradient step about three).

A *version* (`VERSIONS`) is an ordered list of `Stage` s, an attack with its budget, in
the spirit of AutoAttack's versions (Croce & Hein, 2020): ``quick``, ``standard`` and
``plus``; see `VERSIONS` for what each runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfbnn import attacks
from tfbnn.attacks import core, peers

__all__ = ["ATTACKS", "AttackSpec", "DEFAULT_ENSEMBLE", "DEFAULT_VERSION", "L2", "LINF", "NORMS",
           "Stage", "VERSIONS", "check_attack_names", "stages_of"]

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


def _pgd(f, x, y, eps, norm, nb_iter, seed, box, restarts=1):
    return attacks.projected_gradient_descent(f, x, eps, core.madry_step(eps, nb_iter), nb_iter,
                                              NORMS[norm], y=y, seed=seed, nb_restarts=restarts,
                                              **box)


def _pgdpp(variant):
    def run(f, x, y, eps, norm, nb_iter, seed, box, restarts=1):
        return attacks.pgd_plus_plus(f, x, eps, core.madry_step(eps, nb_iter), nb_iter,
                                     NORMS[norm], y=y, seed=seed, variant=variant,
                                     nb_restarts=restarts, **box)
    return run


def _fgsm(f, x, y, eps, norm, nb_iter, seed, box):
    return attacks.fast_gradient_method(f, x, eps, NORMS[norm], y=y, **box)


def _fgsmpp(variant):
    def run(f, x, y, eps, norm, nb_iter, seed, box):
        return attacks.fgsm_plus_plus(f, x, eps, NORMS[norm], y=y, variant=variant, **box)
    return run


def _apgd(loss):
    def run(f, x, y, eps, norm, nb_iter, seed, box, restarts=1):
        return attacks.auto_projected_gradient_descent(f, x, eps, nb_iter, NORMS[norm], loss, y=y,
                                                       nb_restarts=restarts, seed=seed, **box)
    return run


def top_other_classes(f, x, y, k: int | None) -> np.ndarray:
    """Per example, the ``k`` classes other than ``y`` with the highest clean logits, best
    first (all other classes when ``k`` is None or larger)."""
    logits = np.array(f(tf.constant(x)), dtype=np.float64)
    logits[np.arange(len(y)), y] = -np.inf
    order = np.argsort(-logits, axis=1, kind="stable")[:, : logits.shape[1] - 1]
    return order if k is None else order[:, :k]


def targeted_sweep(attack: Callable, f, x, y, targets: int | None, seed: int) -> np.ndarray:
    """Run ``attack(x, target, seed)`` against each of the top ``targets`` other classes in
    turn, each time on the examples no earlier target has fooled (AutoAttack's APGD-T and
    FAB-T); per example, the first point that is misclassified, else the clean input."""
    x = np.asarray(x, np.float32)
    y = np.asarray(y)
    order = top_other_classes(f, x, y, targets)
    best = x.copy()
    fooled = np.zeros(len(x), bool)
    for rank in range(order.shape[1]):
        idx = np.flatnonzero(~fooled)
        if not idx.size:
            break
        x_adv = np.asarray(attack(x[idx], order[idx, rank], seed + 7919 * rank))
        success = np.argmax(np.asarray(f(tf.constant(x_adv))), -1) != y[idx]
        best[idx[success]] = x_adv[success]
        fooled[idx[success]] = True
    return best


def _apgd_t(f, x, y, eps, norm, nb_iter, seed, box, restarts=1, targets=9):
    def attack(xs, target, s):
        return attacks.auto_projected_gradient_descent(
            f, xs, eps, nb_iter, NORMS[norm], "dlr", y=target, targeted=True,
            nb_restarts=restarts, seed=s, **box)
    return targeted_sweep(attack, f, x, y, targets, seed)


def _fab(f, x, y, eps, norm, nb_iter, seed, box, restarts=1):
    return attacks.fab_attack(f, x, eps, nb_iter, NORMS[norm], y=y, nb_restarts=restarts,
                              seed=seed, **box)


def _fab_t(f, x, y, eps, norm, nb_iter, seed, box, restarts=1, targets=9):
    if targets is None:
        targets = int(np.asarray(f(tf.constant(x[:1]))).shape[-1]) - 1
    return attacks.fab_targeted_top_k(f, x, eps, nb_iter, NORMS[norm], y=y,
                                      nb_target_classes=targets, nb_restarts=restarts,
                                      seed=seed, **box)


def _square(f, x, y, eps, norm, nb_iter, seed, box, queries=None, restarts=1):
    queries = 10 * nb_iter if queries is None else queries
    best = x_adv = np.asarray(attacks.square_attack(f, x, eps, nb_iter=queries, y=y, seed=seed,
                                                    **box))
    for restart in range(1, restarts):
        robust = np.argmax(np.asarray(f(tf.constant(best))), -1) == y
        idx = np.flatnonzero(robust)
        if not idx.size:
            break
        x_adv = np.asarray(attacks.square_attack(f, x[idx], eps, nb_iter=queries, y=y[idx],
                                                 seed=seed + 7919 * restart, **box))
        best = best.copy()
        best[idx] = x_adv
    return best


def _deepfool(f, x, y, eps, norm, nb_iter, seed, box):
    return attacks.deepfool(f, x, y, eps, NORMS[norm], **box)


def _bba(f, x, y, eps, norm, nb_iter, seed, box):
    return attacks.brendel_bethge(f, x, y, eps, NORMS[norm], **box)


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
    AttackSpec("apgd_t", (LINF, L2), True, _apgd_t,
               "APGD-T, targeted DLR against each of the top other classes in turn"),
    AttackSpec("fab", (LINF, L2), True, _fab,
               "FAB, minimal perturbations by projection on the linearised boundary "
               "(Croce & Hein)"),
    AttackSpec("fab_t", (LINF, L2), True, _fab_t,
               "FAB-T, FAB against each of the top other classes in turn"),
    AttackSpec("square", (LINF,), False, _square,
               "Square attack, gradient-free, 10 x nb_iter queries unless a version says "
               "(Andriushchenko et al.)"),
    AttackSpec("deepfool", (LINF, L2), True, _deepfool,
               "DeepFool, foolbox 3's, with its defaults (50 steps, 10 candidate classes, "
               "overshoot 0.02), clipped to the ball (Moosavi-Dezfooli et al.)"),
    AttackSpec("bba", (LINF, L2), True, _bba,
               "Brendel & Bethge attack, foolbox 3's, with its defaults (1000 steps from a "
               "blended uniform-noise start), clipped to the ball (Brendel et al.)"),
)}
TARGETED = frozenset({"apgd_t", "fab_t"})
"""Attacks that try target classes one after another (budget ``targets``)."""

PEERS = {"deepfool": ("foolbox",), "bba": ("foolbox", "numba")}
"""Attacks run by a peer library (`tfbnn.attacks.peers`, the ``bench`` extra), and the
modules each needs. They run with foolbox's default budget (what the paper compares
against), not ``nb_iter``, and have no restarts; foolbox's BBA start is not seeded by
``seed``."""

DEFAULT_ENSEMBLE = ("apgd_ce", "pgdpp_hns", "pgdpp_njs", "apgd_dlr", "square")
"""Run in this order, each on the examples the ones before left robust: APGD-CE, the
strongest single attack on tfbnn's MNIST A/B/C models at 20 iterations
(tutorials/gupta2022_attack_strength.py); the two temperature-scaled PGDs, which revive
the gradients that masking networks hide; APGD-DLR, whose loss cannot saturate; and
Square, which needs no gradient at all (L-inf only). On those models the per-example
worst case over all of them was lower than any single attack's accuracy."""


class Stage(NamedTuple):
    """One attack of a version with its budget.

    ``targets=None`` on a targeted attack means every other class; ``queries=None`` on
    Square means ``10 * nb_iter``.
    """

    attack: str
    nb_iter: int = 100
    restarts: int = 1
    targets: int | None = None
    queries: int | None = None

    def budget(self) -> dict:
        """The keyword budget `AttackSpec.run` takes for this stage."""
        out = {}
        if self.restarts != 1:
            out["restarts"] = self.restarts
        if self.attack in TARGETED:
            out["targets"] = self.targets
        if self.attack == "square":
            out["queries"] = 10 * self.nb_iter if self.queries is None else self.queries
        return out

    def describe(self, num_classes: int | None = None) -> str:
        """The stage in words, e.g. ``apgd_t: 100 iterations x 9 target classes``."""
        if self.attack == "square":
            parts = [f"{self.budget()['queries']} queries"]
        elif self.attack in ("fgsm", "fgsmpp_njs", "fgsmpp_hns"):
            parts = ["1 step"]
        elif self.attack in PEERS:
            parts = ["foolbox's default budget (nb_iter unused)"]
        else:
            parts = [f"{self.nb_iter} iterations"]
        if self.restarts != 1:
            parts.append(f"{self.restarts} restarts")
        if self.attack in TARGETED:
            shown = self.targets if self.targets is not None else (
                "all" if num_classes is None else num_classes - 1)
            parts.append(f"{shown} target classes")
        return f"{self.attack}: " + " x ".join(parts)

    def as_dict(self) -> dict:
        return dict(self._asdict())


VERSIONS: dict[str, tuple] = {
    "quick": (Stage("apgd_ce"), Stage("pgdpp_hns"), Stage("pgdpp_njs"), Stage("apgd_dlr"),
              Stage("square", queries=1000)),
    "standard": (Stage("apgd_ce"), Stage("pgdpp_njs"), Stage("pgdpp_hns"),
                 Stage("apgd_t", targets=9), Stage("fab_t", targets=9),
                 Stage("square", queries=5000)),
    "plus": (Stage("apgd_ce", restarts=5), Stage("apgd_dlr", restarts=5),
             Stage("pgdpp_njs", restarts=5), Stage("pgdpp_hns", restarts=5),
             Stage("apgd_t", restarts=5, targets=None), Stage("fab", restarts=5),
             Stage("fab_t", targets=None), Stage("square", queries=5000, restarts=3)),
}
"""What each version runs, in cascade order (each stage attacks what the ones before left):

- ``quick``: tfbnn's cheap ensemble for CI-sized runs: APGD-CE, PGD++ HNS and NJS,
  APGD-DLR (100 iterations each) and Square with 1,000 queries.
- ``standard`` (the default): AutoAttack's standard version (APGD-CE; APGD-T against the
  9 highest other classes; FAB-T against the same 9; Square with 5,000 queries) with the
  two temperature-scaled PGD++ of Gupta & Ajanthan after APGD-CE: untargeted gradient
  attacks first, then targeted ones, then the gradient-free one, so that the `cascade`
  diagnostic can tell what each kind found that the ones before missed.
- ``plus``: AutoAttack's plus version and more: 5 restarts of every untargeted gradient
  attack, APGD-T (5 restarts) and FAB-T against every other class, untargeted FAB with 5
  restarts, Square with 5,000 queries and 3 restarts; stochastic models get twice the
  EOT draws.
"""
DEFAULT_VERSION = "standard"
EOT_FACTOR = {"quick": 1, "standard": 1, "plus": 2}
"""How many times the EOT draws of a stochastic model each version uses."""


def stages_of(version: str | None, attacks=None, nb_iter: int | None = None) -> tuple:
    """The stages to run: ``version``'s, or one `Stage` per name in ``attacks``.

    ``nb_iter`` replaces every stage's iteration count (Square's query budget stays the
    version's). Returns ``(version name, stages)``; the name is ``"custom"`` for an
    explicit attack list.
    """
    if attacks is not None and version is not None:
        raise ValueError(f"Pass either version={version!r} or attacks={list(attacks)!r}, not "
                         "both: a version is a fixed list of attacks with budgets.")
    if attacks is not None:
        return "custom", tuple(Stage(name, nb_iter or 100) for name in attacks)
    version = DEFAULT_VERSION if version is None else version
    if version not in VERSIONS:
        raise ValueError(f"version={version!r} is not one of {sorted(VERSIONS)} (quick: "
                         "cheap, CI-sized; standard: the default; plus: restarts and every "
                         "target class).")
    stages = VERSIONS[version]
    if nb_iter is not None:
        stages = tuple(stage._replace(nb_iter=nb_iter) for stage in stages)
    return version, stages


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
        for module in PEERS.get(name, ()):  # ImportError naming the extra, before any attack
            peers.require(module, f"Attack {name!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"attacks names an attack twice: {names}.")
    return names
