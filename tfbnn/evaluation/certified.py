"""Exact certification inside an evaluation: the certified lower bound beside the attack
upper bound (``evaluate(..., certify=True)``, ``tfbnn evaluate --certify``).

Every robust accuracy an attack ensemble reports is an upper bound. For the binarized
networks `tfbnn.verify` supports (8-bit input grid, binary weights, sign activations) the
question "is some input in the ball misclassified?" can be answered exactly, so after
the ensemble has run at an eps, every example it left robust (correct, and no attack
fooled it) goes to `tfbnn.verify.verify` (CP-SAT), hinted with the ensemble's strongest
point for that example (the one with the highest cross-entropy any attack reached). The
verifier's answer per example:

- ``certified``: no input in the ball is misclassified; the example counts towards the
  certified lower bound.
- ``counterexample``: an exact attack. The verifier has replayed the point through the
  Keras model (in the ball, misclassified, or it raises), and the example joins the
  per-example worst case as broken by ``"exact (CP-SAT)"``: the evaluation's
  ``robust_accuracy`` then is the worst case over the ensemble *and* the counterexamples.
- ``unknown``: the time limit ran out; the example stays robust in the upper bound and
  is not certified.

So per eps, with N examples: ``lower = certified / N <= true robust accuracy <= upper =
(certified + unknown) / N``. Because every example the attacks leave robust is verified,
the gap ``upper - lower`` is exactly the unknown fraction: when nothing is unknown, the
robust accuracy is not a bound but the answer. Examples the ensemble broke need no
solver: their attack point is already misclassified.

Resumable like the attacks: each verified example's answer (with its counterexample, if
any) is written to the run directory (``batches/epsE_certify_IIIII.json``, atomically) as
soon as it is known, so a killed run loses at most the examples being solved at that
moment; started again with the same arguments it solves only the rest. Solver answers
near the time limit can differ between runs (CP-SAT's time limit is wall time), so a
resumed run can differ from an uninterrupted one in which examples are ``unknown``,
never in a certified or broken example being wrong.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tfbnn import checks
from tfbnn.evaluation.intervals import wilson_interval

__all__ = ["EXACT", "CertifyOptions", "load_counterexamples", "load_model", "markdown_lines",
           "options_of", "plots", "prepare", "run_eps"]

EXACT = "exact (CP-SAT)"
"""The name counterexamples are attributed to in ``broken_by``."""

_KEY = "eps{}_certify"


@dataclass(frozen=True)
class CertifyOptions:
    """How the exact verifier runs inside an evaluation.

    # Arguments
        time_limit: CP-SAT's limit per example, in seconds (then ``unknown``).
        workers: CP-SAT's parallel workers per example.
        jobs: examples solved at the same time (threads). Not part of the run's
            identity: a resumed run may use another value.
        fixing: fix the neurons interval bounds decide before solving.
        hint: hint the solver with the ensemble's strongest point.
    """

    time_limit: float = 10.0
    workers: int = 1
    jobs: int = 1
    fixing: bool = True
    hint: bool = True

    def __post_init__(self):
        checks.check_number("certify time_limit", self.time_limit, positive=True)
        checks.check_int("certify workers", self.workers, 1)
        checks.check_int("certify jobs", self.jobs, 1)
        for name in ("fixing", "hint"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"certify {name} must be True or False, got "
                                 f"{getattr(self, name)!r}.")

    def config(self) -> dict:
        """What defines the run's results (the run directory's identity): not ``jobs``."""
        options = asdict(self)
        options.pop("jobs")
        return {"method": EXACT, **options}


def options_of(certify) -> CertifyOptions | None:
    """`CertifyOptions` from ``evaluate``'s ``certify`` argument: False/None (off), True
    (defaults), a dict of `CertifyOptions` fields, or a `CertifyOptions`."""
    if certify is None or certify is False:
        return None
    if certify is True:
        return CertifyOptions()
    if isinstance(certify, CertifyOptions):
        return certify
    if isinstance(certify, dict):
        fields = set(CertifyOptions.__dataclass_fields__)
        unknown = sorted(set(certify) - fields)
        if unknown:
            raise ValueError(f"certify holds unknown options {unknown}; the options are "
                             f"{sorted(fields)}, e.g. certify={{'time_limit': 20, "
                             "'workers': 2}.")
        return CertifyOptions(**certify)
    raise ValueError(f"certify must be True, False, a dict of options "
                     f"({sorted(CertifyOptions.__dataclass_fields__)}) or a CertifyOptions, "
                     f"got {certify!r}.")


def prepare(model, x: np.ndarray, options: CertifyOptions, *, norm: str, clip_min: float,
            clip_max: float, stochastic: bool = False):
    """The `tfbnn.verify.IntegerNetwork` of ``model``, or a clear error, before any attack.

    # Raises
        ImportError: OR-Tools is not installed.
        ValueError: a threat model the verifier does not answer (L2, an input range other
            than [0, 1], a stochastic model), or `tfbnn.verify.UnsupportedModelError`
            naming the model's first unsupported layer.
        TypeError: ``model`` is not a Keras model (a SavedModel callable has lost the
            layers the verifier reads).
    """
    try:
        import ortools  # noqa: F401
    except ImportError as err:
        raise ImportError("certify needs OR-Tools, which is not installed: run "
                          "pip install -e \".[verify]\".") from err
    import tf_keras as keras

    from tfbnn import verify

    if norm != "linf":
        raise ValueError(f"certify answers L-inf balls only, got norm={norm!r}; evaluate with "
                         "norm='linf' (--norm linf) or without certify.")
    if (clip_min, clip_max) != (0.0, 1.0):
        raise ValueError(f"certify needs inputs in [0, 1] (the model's InputQuantizer maps "
                         f"them onto the 8-bit grid), got clip_min={clip_min}, "
                         f"clip_max={clip_max}.")
    if stochastic:
        raise ValueError("certify needs a deterministic model; two forward passes of this one "
                         "differ.")
    if not isinstance(model, keras.Model):
        raise TypeError(f"certify needs the Keras model itself (its layers are read), got "
                        f"{type(model).__name__}; load a .keras/.h5 file with "
                        "keras.models.load_model, not a SavedModel export.")
    return verify.extract(model, check_inputs=x[:64])


def load_model(path):
    """``(keras model, metadata)`` of the .keras/.h5 file of a BNN to verify (``tfbnn
    certify``, ``tfbnn evaluate --certify``): `tfbnn.evaluation.load_model` returns a
    callable, which the verifier cannot read, and a SavedModel keeps no layers."""
    import tf_keras as keras

    from tfbnn import models

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"MODEL {str(path)!r} does not exist; give the .keras or .h5 "
                                "file of a supported BNN.")
    if path.is_dir() or path.suffix not in (".keras", ".h5"):
        raise ValueError(f"MODEL {str(path)!r} must be a .keras or .h5 file: the verifier reads "
                         "the layers' weights, which a SavedModel export does not keep; save "
                         "the model with model.save('model.keras').")
    try:
        model = keras.models.load_model(path, custom_objects=models.custom_objects(),
                                        compile=False)
    except Exception as err:  # Keras raises many types for unreadable files
        raise ValueError(f"MODEL {str(path)!r} could not be loaded as a Keras model "
                         f"({type(err).__name__}: {err}); is the file complete?") from err
    return model, {"input_shape": list(model.input_shape[1:]), "name": model.name}


def _record(result, eps: float) -> dict:
    record = {**result.to_json(), "eps": eps}
    if result.counterexample is not None:
        record["counterexample"] = np.asarray(result.counterexample, np.float32).ravel().tolist()
    return record


def run_eps(network, run, e: int, x: np.ndarray, y: np.ndarray, eps: float, result: dict,
            hints: np.ndarray | None, options: CertifyOptions, *, seed: int = 0,
            progress: bool = False) -> dict:
    """Verify the examples the ensemble left robust at ``eps`` (the ``e``-th radius) and
    fold the answers into ``result`` (one entry of the report's ``results``), in place.

    # Arguments
        network: the `IntegerNetwork` from `prepare`.
        run: the `RunDirectory` (answers saved per example), or None.
        e: the radius's position in the run's eps list (names the saved files).
        x, y: all examples of the evaluation.
        eps: the radius.
        result: the ensemble's summary at ``eps``; its ``robust_per_example`` decides
            which examples are verified.
        hints: the ensemble's strongest point per example (x's shape), or None.
        options: the `CertifyOptions`.
        seed: the solver's seed.
        progress: show a progress bar.

    # Returns
        The ``certification`` entry it added to ``result``.
    """
    from tfbnn.verify import verifier

    worst = np.asarray(result["robust_per_example"], np.float64)
    todo = [int(i) for i in np.flatnonzero(worst >= 0.5)]
    key = _KEY.format(e)
    records: dict[int, dict] = {}
    for i in todo:
        saved = run.load_batch(key, i) if run is not None else None
        if saved is not None:
            records[i] = saved
    missing = [i for i in todo if i not in records]
    bar = None
    if progress and missing:
        import tf_keras as keras

        bar = keras.utils.Progbar(len(missing), unit_name="example")

    def solve(i: int) -> dict:
        report = verifier.verify(network, x[i:i + 1], y[i:i + 1], eps,
                                 time_limit=options.time_limit, workers=options.workers,
                                 fixing=options.fixing, hint=options.hint, attack=False,
                                 x_hint=None if hints is None else hints[i:i + 1], seed=seed)
        answer = report.results[0]
        answer.index = i
        return _record(answer, eps)

    def done(record: dict) -> None:
        records[record["index"]] = record
        if run is not None:
            run.save_batch(key, record["index"], record)
        if bar is not None:
            bar.add(1)

    if options.jobs > 1 and len(missing) > 1:
        with ThreadPoolExecutor(max_workers=options.jobs) as pool:
            for future in as_completed([pool.submit(solve, i) for i in missing]):
                done(future.result())
    else:
        for i in missing:
            done(solve(i))
    return _fold(result, [records[i] for i in todo], worst, options)


def _fold(result: dict, records: list[dict], worst: np.ndarray, options) -> dict:
    n = len(worst)
    ensemble_robust = int(np.sum(worst >= 0.5))
    status = {r["index"]: r["status"] for r in records}
    counts = {s: sum(v == s for v in status.values())
              for s in ("certified", "counterexample", "unknown")}
    if counts["counterexample"] and any(r["status"] == "counterexample" and r["found_by"] == "clean"
                                        for r in records):
        raise RuntimeError("The verifier found an example misclassified on its clean input that "
                           "the evaluation scored as correct: the model and its integer network "
                           "disagree; this is a bug in tfbnn.verify.")
    # "broken": misclassified or fooled by an attack of the ensemble (not verified)
    per_example = [status.get(i, "broken") for i in range(n)]
    robust = worst.copy()
    for i, s in status.items():
        if s == "counterexample":
            robust[i] = 0.0
    solved = [r["solve_seconds"] for r in records if r["found_by"] == "solver"]
    lower = counts["certified"] / n
    upper = float(robust.mean())
    entry = {
        "method": EXACT, **{k: v for k, v in options.config().items() if k != "method"},
        "verified": len(records), "certified": counts["certified"],
        "counterexamples": counts["counterexample"], "unknown": counts["unknown"],
        "lower": lower, "lower_interval": list(wilson_interval(float(counts["certified"]), n)),
        "upper": upper, "upper_interval": list(wilson_interval(float(robust.sum()), n)),
        "ensemble_upper": ensemble_robust / n,
        "gap": upper - lower, "unknown_fraction": counts["unknown"] / n,
        "found_by": {k: sum(r["found_by"] == k for r in records) for k in ("bounds", "solver")},
        "solver_runs": len(solved),
        "solve_seconds_mean": float(np.mean(solved)) if solved else None,
        "solve_seconds_median": float(np.median(solved)) if solved else None,
        "solve_seconds_max": float(np.max(solved)) if solved else None,
        "seconds": round(float(sum(r["seconds"] for r in records)), 3),
        "status_per_example": per_example,
    }
    result["certification"] = entry
    result["robust_accuracy"] = upper
    result["robust_interval"] = entry["upper_interval"]
    result["robust_per_example"] = robust.tolist()
    result["broken_by"] = {**result.get("broken_by", {}), EXACT: counts["counterexample"]}
    return entry


def load_counterexamples(out_dir, e: int, input_shape) -> dict[int, np.ndarray]:
    """The counterexamples of the ``e``-th radius of a run in ``out_dir``, by example
    index, as float32 inputs of ``input_shape`` (each replayed by the verifier: in the
    ball and misclassified by the Keras model)."""
    import json

    found = {}
    for file in sorted((Path(out_dir) / "batches").glob(_KEY.format(e) + "_*.json")):
        record = json.loads(file.read_text())
        if "counterexample" in record:
            found[record["index"]] = np.asarray(record["counterexample"],
                                                np.float32).reshape(tuple(input_shape))
    return found


# --------------------------------------------------------------------------- report


def _pct(values) -> str:
    return f"[{values[0]:.4f}, {values[1]:.4f}]"


def markdown_lines(report: dict) -> list[str]:
    """The report's section on exact certification (empty without it)."""
    rows = [r for r in report["results"] if "certification" in r]
    if not rows:
        return []
    c0 = rows[0]["certification"]
    lines = [
        "", "## Exact certification (CP-SAT)", "",
        "Every example the attacks left robust went to the exact verifier (tfbnn.verify, "
        f"OR-Tools CP-SAT, {c0['time_limit']:g} s and {c0['workers']} worker(s) per example, "
        f"neuron fixing {'on' if c0['fixing'] else 'off'}, hint "
        f"{'on' if c0['hint'] else 'off'}). Certified: no input in the ball is "
        "misclassified. A counterexample is an exact attack: it is replayed through the "
        "model and joins the worst case above. The true robust accuracy lies between the "
        "certified lower bound and the attack upper bound; the gap is the unknown fraction "
        "(time limit reached).", "",
        "| eps | certified (lower) | 95 % interval | attacks + exact (upper) | 95 % interval "
        "| attacks alone | gap | unknown | counterexamples | solver runs | solve s mean / "
        "median / max |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        c = r["certification"]
        times = " / ".join("-" if c[k] is None else f"{c[k]:.2f}"
                           for k in ("solve_seconds_mean", "solve_seconds_median",
                                     "solve_seconds_max"))
        lines.append(
            f"| {r['eps']:g} | **{c['lower']:.4f}** | {_pct(c['lower_interval'])} | "
            f"**{c['upper']:.4f}** | {_pct(c['upper_interval'])} | {c['ensemble_upper']:.4f} | "
            f"{c['gap']:.4f} | {c['unknown_fraction']:.4f} ({c['unknown']}) | "
            f"{c['counterexamples']} | {c['solver_runs']} | {times} |")
    return lines


def plots(run, report: dict) -> list[str]:
    """``certified_bounds.png``: lower and upper bound against eps, the gap shaded, and
    the attacks' own upper bound (before the counterexamples) dashed."""
    rows = [r for r in report["results"] if "certification" in r]
    if not rows:
        return []
    try:
        from matplotlib.figure import Figure  # no pyplot: the user's backend stays as it is
    except ImportError:
        return []
    from tfbnn.io import atomic_path

    rows = sorted(rows, key=lambda r: r["eps"])
    eps = [r["eps"] for r in rows]
    lower = [r["certification"]["lower"] for r in rows]
    upper = [r["certification"]["upper"] for r in rows]
    alone = [r["certification"]["ensemble_upper"] for r in rows]
    fig = Figure(figsize=(4.5, 3.2))
    ax = fig.subplots()
    ax.plot(eps, alone, linestyle="--", color="grey", label="attacks alone")
    ax.fill_between(eps, lower, upper, color="tab:orange", alpha=0.3, label="gap (unknown)")
    ax.plot(eps, upper, marker="o", color="tab:red", label="attack upper bound")
    ax.plot(eps, lower, marker="s", color="tab:blue", label="certified lower bound")
    ax.set_xlabel("eps (L-inf)")
    ax.set_ylabel("robust accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    ax.set_title("exact certification (CP-SAT)")
    fig.tight_layout()
    name = "certified_bounds.png"
    with atomic_path(run.path / name) as tmp:
        fig.savefig(tmp, dpi=100)
    return [name]
