"""`verify`: per example, certified, a counterexample, or unknown within the time limit.

For each example the question is whether some input in the L-inf ball of radius
``eps`` (intersected with [0, 1]) is misclassified by the model. In order:

1. a clean misclassification is its own counterexample (``found_by="clean"``);
2. an attack (PGD through the straight-through gradients) runs on the others; a point
   it finds that the model misclassifies is a counterexample (``found_by="attack"``),
   and for the rest its point is the solver's hint: tfbnn verifies only what the
   attacks leave robust;
3. interval bounds decide what they can (``found_by="bounds"``);
4. CP-SAT answers the rest exactly, or says ``"unknown"`` at the time limit
   (``found_by="solver"``).

Every counterexample is replayed through the Keras model: it must lie in the ball and be
misclassified, otherwise `CounterexampleError` names the example (a bug, never a result).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from tfbnn import checks
from tfbnn.verify import encoding
from tfbnn.verify.network import IntegerNetwork, ball, extract

__all__ = ["STATUSES", "CounterexampleError", "ExampleResult", "VerificationReport", "verify"]

STATUSES = ("certified", "counterexample", "unknown")


class CounterexampleError(RuntimeError):
    """A counterexample that the Keras model classifies correctly or that leaves the
    ball: the verifier and the model disagree (a bug)."""


@dataclass
class ExampleResult:
    """One example's answer.

    # Arguments
        index: position of the example in ``x``.
        label: its true class.
        status: ``"certified"`` (no input in the ball is misclassified),
            ``"counterexample"`` (one is, see ``counterexample``) or ``"unknown"``.
        found_by: ``"clean"``, ``"attack"``, ``"bounds"`` or ``"solver"``.
        seconds: wall time spent on this example (encoding and solving; the attack's
            batch time is not split per example).
        solve_seconds: CP-SAT's wall time (0 when it did not run).
        counterexample: a misclassified float32 input in the ball (the input's shape),
            or None.
        predicted: the model's class for ``counterexample``.
        free_neurons, fixed_neurons: hidden neurons left to the solver / decided by
            interval bounds.
    """

    index: int
    label: int
    status: str
    found_by: str
    seconds: float = 0.0
    solve_seconds: float = 0.0
    counterexample: np.ndarray | None = None
    predicted: int | None = None
    free_neurons: int = 0
    fixed_neurons: int = 0

    def to_json(self) -> dict:
        return {"index": self.index, "label": self.label, "status": self.status,
                "found_by": self.found_by, "seconds": round(self.seconds, 4),
                "solve_seconds": round(self.solve_seconds, 4), "predicted": self.predicted,
                "free_neurons": self.free_neurons, "fixed_neurons": self.fixed_neurons}


@dataclass
class VerificationReport:
    """The answers for every example at one eps, and the settings they were found with."""

    eps: float
    results: list[ExampleResult]
    config: dict = field(default_factory=dict)

    def counts(self) -> dict:
        return {s: sum(r.status == s for r in self.results) for s in STATUSES}

    def summary(self) -> dict:
        """Counts, fractions (the certified fraction is a lower bound on robust accuracy,
        one minus the counterexample fraction an upper bound), and solve times."""
        n = len(self.results)
        counts = self.counts()
        solved = [r.solve_seconds for r in self.results if r.found_by == "solver"]
        found = {k: sum(r.found_by == k for r in self.results)
                 for k in ("clean", "attack", "bounds", "solver")}
        return {
            "eps": self.eps, "n": n, "counts": counts,
            "certified_fraction": counts["certified"] / n if n else 0.0,
            "counterexample_fraction": counts["counterexample"] / n if n else 0.0,
            "unknown_fraction": counts["unknown"] / n if n else 0.0,
            "robust_accuracy_lower": counts["certified"] / n if n else 0.0,
            "robust_accuracy_upper": 1 - counts["counterexample"] / n if n else 0.0,
            "found_by": found, "solver_runs": len(solved),
            "solve_seconds_median": float(np.median(solved)) if solved else None,
            "solve_seconds_mean": float(np.mean(solved)) if solved else None,
            "solve_seconds_max": float(np.max(solved)) if solved else None,
            "seconds_total": round(float(sum(r.seconds for r in self.results)), 3),
        }

    def to_json(self) -> dict:
        return {"summary": self.summary(), "config": self.config,
                "examples": [r.to_json() for r in self.results]}


def _check_args(x, y, eps, time_limit, workers, jobs, attack_steps, x_hint):
    if not isinstance(x, np.ndarray) or x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty array of inputs (n, ...), got "
                         f"{getattr(x, 'shape', type(x))}.")
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise ValueError(f"x must hold finite values in [0, 1] (pixels / 255), got values in "
                         f"[{np.nanmin(x):g}, {np.nanmax(x):g}].")
    y = np.asarray(y)
    if y.shape != (len(x),) or y.dtype.kind not in "iu":
        raise ValueError(f"y must hold one integer label per input: {len(x)} inputs, y of "
                         f"shape {y.shape} and dtype {y.dtype}.")
    checks.check_eps("eps", eps, allow_tensor=False)
    if eps > 1:
        raise ValueError(f"eps must be in [0, 1] for inputs in [0, 1], got {eps!r}; for a "
                         "radius in grey levels divide by 255.")
    checks.check_number("time_limit", time_limit, positive=True)
    checks.check_int("workers", workers, 1)
    checks.check_int("jobs", jobs, 1)
    checks.check_int("attack_steps", attack_steps, 0)
    if x_hint is not None and np.shape(x_hint) != x.shape:
        raise ValueError(f"x_hint must have x's shape {x.shape}, got {np.shape(x_hint)}.")
    return y.astype(np.int64)


def _attack(network: IntegerNetwork, x, y, eps, steps, seed):
    from tfbnn.attacks import projected_gradient_descent

    model = network.model
    adv = projected_gradient_descent(lambda t: model(t, training=False), tf.constant(x), eps,
                                     eps / 4, steps, np.inf, clip_min=0.0, clip_max=1.0,
                                     y=tf.constant(y), seed=seed)
    return np.asarray(adv, np.float32)


def _replay(network: IntegerNetwork, index: int, levels, x, y, eps):
    point = network.to_input(levels[None], x[None], eps)
    low, high = ball(x[None], eps)
    if np.any(point < low) or np.any(point > high):
        raise CounterexampleError(f"The counterexample of example {index} leaves the eps-ball; "
                                  "this is a bug in tfbnn.verify.")
    predicted = int(np.argmax(np.asarray(network.model(tf.constant(point), training=False))))
    if predicted == y:
        raise CounterexampleError(
            f"The counterexample of example {index} (label {y}) is classified correctly by "
            f"the Keras model although the integer network predicts class "
            f"{int(network.predict(levels[None])[0])}: the verifier and the model disagree; "
            "this is a bug in tfbnn.verify, please report it with the model.")
    return point[0], predicted


def verify(
    model,
    x: np.ndarray,
    y: np.ndarray,
    eps: float,
    *,
    time_limit: float = 10.0,
    workers: int = 1,
    jobs: int = 1,
    fixing: bool = True,
    hint: bool = True,
    attack: bool = True,
    attack_steps: int = 40,
    x_hint: np.ndarray | None = None,
    seed: int = 0,
) -> VerificationReport:
    """Exact L-inf robustness of a BNN on each example: certified, counterexample, unknown.

    # Arguments
        model: a supported Keras model (see `tfbnn.verify.extract`) or its
            `IntegerNetwork` (to extract once for several calls).
        x: inputs in [0, 1], shape ``(n, ...)``.
        y: integer labels, shape ``(n,)``.
        eps: L-inf radius in input units (0 allowed: certifies every correctly
            classified example).
        time_limit: CP-SAT's limit per example, in seconds.
        workers: CP-SAT's parallel workers per example.
        jobs: examples solved at the same time (threads; CP-SAT releases the GIL).
        fixing: fix the neurons interval bounds decide and leave them out of the search.
        hint: hint the solver with the attack's point (else the clean input) and all its
            activations.
        attack: run PGD first; examples it breaks are not given to the solver.
        attack_steps: PGD iterations (step eps / 4).
        x_hint: your own hint points (e.g. an attack ensemble's worst case), x's shape.
        seed: seed of the attack and the solver.

    # Returns
        A `VerificationReport`; ``report.summary()`` has the counts and times.

    # Raises
        ValueError: a bad argument (before any solving); `UnsupportedModelError` for a
            model outside the supported set.
        CounterexampleError: a counterexample the Keras model does not misclassify (a bug).

    # References
        - Jia, Rinard. Efficient Exact Verification of Binarized Neural Networks. NeurIPS
          2020.
        - Narodytska et al. Verifying Properties of Binarized Deep Neural Networks. AAAI
          2018.
    """
    x = np.asarray(x, np.float32) if isinstance(x, (np.ndarray, list)) else x
    y = _check_args(x, y, eps, time_limit, workers, jobs, attack_steps, x_hint)
    eps = float(eps)
    network = model if isinstance(model, IntegerNetwork) else extract(model, check_inputs=x[:64])
    if tuple(x.shape[1:]) != network.input_shape:
        raise ValueError(f"x has inputs of shape {x.shape[1:]}, the model takes "
                         f"{network.input_shape}.")
    lo, hi = network.domain(x, eps)
    clean_levels = network.quantize(x)
    predicted = network.predict(clean_levels)
    results: list[ExampleResult | None] = [None] * len(x)
    for i in np.flatnonzero(predicted != y):
        point, cls = _replay(network, int(i), clean_levels[i], x[i], int(y[i]), eps)
        results[i] = ExampleResult(int(i), int(y[i]), "counterexample", "clean",
                                   counterexample=point, predicted=cls)
    todo = [i for i in range(len(x)) if results[i] is None]
    hints = clean_levels.copy()
    if x_hint is not None:
        hints = np.clip(network.quantize(np.asarray(x_hint, np.float32)), lo, hi)
    if attack and eps > 0 and attack_steps > 0 and todo:
        idx = np.array(todo)
        adv_levels = np.clip(network.quantize(_attack(network, x[idx], y[idx], eps,
                                                      attack_steps, seed)), lo[idx], hi[idx])
        fooled = network.predict(adv_levels) != y[idx]
        for k, i in enumerate(idx):
            if fooled[k]:
                point, cls = _replay(network, int(i), adv_levels[k], x[i], int(y[i]), eps)
                results[i] = ExampleResult(int(i), int(y[i]), "counterexample", "attack",
                                           counterexample=point, predicted=cls)
            elif x_hint is None:
                hints[i] = adv_levels[k]
        todo = [i for i in todo if results[i] is None]

    def run(i: int) -> ExampleResult:
        started = time.perf_counter()
        enc = encoding.encode(network, lo[i], hi[i], int(y[i]), fixing=fixing,
                              hint=hints[i] if hint else None)
        status, levels, solve_seconds = encoding.solve(enc, time_limit=time_limit,
                                                       workers=workers, seed=seed)
        result = ExampleResult(i, int(y[i]), status,
                               "bounds" if enc.decided else "solver",
                               solve_seconds=solve_seconds, free_neurons=enc.free_neurons,
                               fixed_neurons=enc.fixed_neurons)
        if levels is not None:
            if network.predict(levels[None])[0] == y[i]:
                raise CounterexampleError(f"CP-SAT's solution for example {i} is classified "
                                          "correctly by the integer network: the encoding is "
                                          "wrong; this is a bug in tfbnn.verify.")
            result.counterexample, result.predicted = _replay(network, i, levels, x[i],
                                                              int(y[i]), eps)
        result.seconds = time.perf_counter() - started
        return result

    if jobs > 1 and len(todo) > 1:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for result in pool.map(run, todo):
                results[result.index] = result
    else:
        for i in todo:
            results[i] = run(i)
    config = {"eps": eps, "time_limit": time_limit, "workers": workers, "jobs": jobs,
              "fixing": fixing, "hint": hint, "attack": attack, "attack_steps": attack_steps,
              "seed": seed, "levels": network.levels, "network": network.describe()}
    return VerificationReport(eps, results, config)
