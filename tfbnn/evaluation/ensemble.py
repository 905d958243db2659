"""Worst-case robust accuracy over an ensemble of attacks, per example.

For each eps, the examples are processed in batches. In a batch, the attacks run in
order and each attacks only the examples that every attack before it left robust (as
AutoAttack does): an example counts as robust only if no attack of the ensemble fooled
it, so the reported accuracy is an upper bound on the true robust accuracy that no
attack of the ensemble beats. ``mode="standalone"`` runs every attack on every example
that is correct on clean inputs instead, which also gives each attack's own accuracy
(at the cost of more attack runs); the worst case is the same either way.

Stochastic models (two forward passes differ) are attacked through `EOT` and scored
as the fraction of ``draws`` forward passes classified correctly, per example; their
accuracy is the mean of those fractions, and the worst case is the lowest fraction an
attack reached.

Every batch's results are written to the output directory as soon as they are known
(`RunDirectory`), and a batch's random seeds depend only on the run's seed, the eps
and the batch, so a killed run started again with the same arguments ends with the
same numbers as an uninterrupted one (for deterministic models; a stochastic model's
own draws are not seeded by tfbnn).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

import tfbnn
from tfbnn import distribute
from tfbnn.batching import batch_slices
from tfbnn.evaluation import catalog, certified, diagnostics as diag
from tfbnn.evaluation.intervals import wilson_interval
from tfbnn.evaluation.target import Target, prepare

__all__ = ["SCHEMA", "evaluate"]

SCHEMA = "tfbnn.evaluation/1"
NORMS = (catalog.LINF, catalog.L2)
MODES = ("cascade", "standalone")
_TOLERANCE = 1e-5


def _check_args(x, y, eps, norm, stages, batch_size, nb_iter, mode, clip_min, clip_max):
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}.")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    names = catalog.check_attack_names([stage.attack for stage in stages], norm)
    eps = [eps] if isinstance(eps, (int, float)) else list(eps)
    if not eps:
        raise ValueError("eps must hold at least one radius, e.g. eps=[0.1, 0.3].")
    width = clip_max - clip_min
    for value in eps:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"eps values must be numbers > 0, got {value!r}.")
        if norm == catalog.LINF and value > width:
            raise ValueError(f"eps {value} is larger than the input range [{clip_min}, "
                             f"{clip_max}]: an L-inf radius above {width} changes nothing; "
                             "for 0-255 pixel radii divide by 255.")
    if len(set(eps)) != len(eps):
        raise ValueError(f"eps holds a radius twice: {eps}.")
    for name, value in (("batch_size", batch_size), ("nb_iter", nb_iter)):
        if name == "nb_iter" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    if not isinstance(x, np.ndarray) or x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty array of inputs (n, ...), got "
                         f"{getattr(x, 'shape', type(x))}.")
    if not np.all(np.isfinite(x)):
        raise ValueError("x holds NaN or inf values.")
    low, high = float(x.min()), float(x.max())
    if low < clip_min - 1e-6 or high > clip_max + 1e-6:
        raise ValueError(f"x lies in [{low:g}, {high:g}], outside [clip_min, clip_max] = "
                         f"[{clip_min}, {clip_max}]; scale the data (e.g. bytes / 255) or pass "
                         "the right range.")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"y must hold one integer label per input: {len(x)} inputs, y of "
                         f"shape {y.shape}.")
    return names, [float(v) for v in eps]


def _norms(delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = delta.reshape(len(delta), -1)
    return np.abs(flat).max(1), np.linalg.norm(flat, axis=1)


def _attack_batch(target: Target, stages, x, y, eps, norm, seed, mode, box, best=None) -> dict:
    """Run the ensemble on one batch; returns the batch's JSON-able record. ``best`` (an
    array like ``x``, filled in place) receives per example the attack point with the
    highest loss, the exact verifier's hint (`tfbnn.evaluation.certified`)."""
    clean = target.scores(x, y)
    best_loss = np.full(len(x), -np.inf)
    worst = clean.copy()
    worst_attack = ["clean" if s < 0.5 else "" for s in clean]
    clean_loss = None
    record = {"n": len(x), "clean": clean.tolist(), "attacks": {}}
    for index, stage in enumerate(stages):
        name = stage.attack
        spec = catalog.ATTACKS[name]
        active = (worst > 0) if mode == "cascade" else (clean > 0)
        idx = np.flatnonzero(active)
        entry = {"attacked": int(idx.size), "seconds": 0.0, "idx": idx.tolist()}
        if idx.size:
            started = time.perf_counter()
            x_adv = np.asarray(spec.run(target.attack_fn, x[idx], y[idx], eps, norm,
                                        stage.nb_iter, seed + index, box, **stage.budget()))
            entry["seconds"] = time.perf_counter() - started
            linf, l2 = _norms(x_adv - x[idx])
            size = linf if norm == catalog.LINF else l2
            if np.any(size > eps * (1 + _TOLERANCE) + _TOLERANCE) or np.any(
                    x_adv < box["clip_min"] - _TOLERANCE) or np.any(x_adv > box["clip_max"] + _TOLERANCE):
                raise RuntimeError(f"Attack {name!r} returned points outside the eps-ball or the "
                                   f"input range (max size {size.max():g} > eps {eps}); this is "
                                   "a bug in the attack, please report it.")
            scores = target.scores(x_adv, y[idx])
            if clean_loss is None:
                clean_loss = target.loss(x, y)
            loss = target.loss(x_adv, y[idx])
            if best is not None:
                higher = loss > best_loss[idx]
                best[idx[higher]], best_loss[idx[higher]] = x_adv[higher], loss[higher]
            entry.update(scores=scores.tolist(), linf=linf.tolist(), l2=l2.tolist(),
                         loss_moved=(np.abs(loss - clean_loss[idx]) > 1e-6).tolist())
            better = scores < worst[idx]
            for j in np.flatnonzero(better):
                worst[idx[j]] = scores[j]
                worst_attack[idx[j]] = name
        record["attacks"][name] = entry
    record["worst"] = worst.tolist()
    record["worst_attack"] = worst_attack
    return record


def _summarise(records: list[dict], stages, target: Target, eps, norm, mode) -> dict:
    """Fold the batches of one eps into the report's entry for it."""
    names = [stage.attack for stage in stages]
    n = sum(r["n"] for r in records)
    clean = np.concatenate([r["clean"] for r in records])
    worst = np.concatenate([r["worst"] for r in records])
    fooled_by = [a for r in records for a in r["worst_attack"]]
    running = clean.copy()
    rows = []
    for stage in stages:
        name = stage.attack
        attacked, seconds, scores, moved, linf, l2 = 0, 0.0, [], [], [], []
        own = clean.copy()
        offset = 0
        for r in records:
            e = r["attacks"][name]
            attacked += e["attacked"]
            seconds += e["seconds"]
            if e["attacked"]:
                idx = np.array(e["idx"]) + offset
                s = np.array(e["scores"])
                own[idx] = np.minimum(own[idx], s)
                running[idx] = np.minimum(running[idx], s)
                fooled = s < 0.5
                scores.extend(s)
                moved.extend(e["loss_moved"])
                linf.extend(np.array(e["linf"])[fooled])
                l2.extend(np.array(e["l2"])[fooled])
            offset += r["n"]
        spec = catalog.ATTACKS[name]
        row = {
            "name": name, "description": spec.description, "uses_gradients": spec.uses_gradients,
            "targeted": name in catalog.TARGETED, "budget": stage.describe(target.num_classes),
            "attacked": attacked, "fooled": int(np.sum(np.array(scores) < 0.5)),
            "accuracy_after": float(running.mean()), "seconds": round(seconds, 2),
            "loss_unmoved_fraction": float(1 - np.mean(moved)) if moved else None,
            "mean_linf": float(np.mean(linf)) if linf else None,
            "max_linf": float(np.max(linf)) if linf else None,
            "mean_l2": float(np.mean(l2)) if l2 else None,
            "max_l2": float(np.max(l2)) if l2 else None,
        }
        if mode == "standalone":
            row["accuracy"] = float(own.mean())
        rows.append(row)
    return {
        "eps": eps, "norm": norm, "n": n, "clean_accuracy": float(clean.mean()),
        "clean_interval": list(wilson_interval(float(clean.sum()), n)),
        "robust_accuracy": float(worst.mean()),
        "robust_interval": list(wilson_interval(float(worst.sum()), n)), "attacks": rows,
        "broken_by": {name: fooled_by.count(name) for name in names},
        "robust_per_example": worst.tolist(),
    }


def evaluate(
    model,
    x,
    y,
    *,
    eps: float | Sequence[float] = (0.1, 0.3),
    norm: str = "linf",
    version: str | None = None,
    attacks: Sequence[str] | None = None,
    nb_iter: int | None = None,
    batch_size: int = 250,
    mode: str = "cascade",
    seed: int = 0,
    out_dir=None,
    overwrite: bool = False,
    stochastic: bool | None = None,
    eot_draws: int | None = None,
    outputs: str = "auto",
    clip_min: float = 0.0,
    clip_max: float = 1.0,
    run_diagnostics: bool = True,
    diagnostic_n: int = 200,
    x_surrogate=None,
    progress: bool = True,
    model_name: str | None = None,
    certify=False,
    strategy=None,
) -> dict:
    """Robust accuracy of ``model`` on ``(x, y)``: the per-example worst case over ``attacks``.

    # Arguments
        model: a Keras model, or any callable mapping a batch to logits (a SavedModel
            callable from `tfbnn.evaluation.load_model` included); probabilities are
            detected and their log taken.
        x: inputs, ``(n, ...)``, inside ``[clip_min, clip_max]``.
        y: integer labels, ``(n,)``.
        eps: one radius or several.
        norm: ``"linf"`` or ``"l2"``.
        version: ``"quick"``, ``"standard"`` (the default) or ``"plus"``: the attacks
            and budgets of `tfbnn.evaluation.catalog.VERSIONS`.
        attacks: instead of a version, names from `tfbnn.evaluation.ATTACKS`, run in
            this order with ``nb_iter`` iterations each (the report's version is
            ``"custom"``).
        nb_iter: iterations of each gradient attack (default 100; with a version it
            replaces the version's iteration counts; Square of a custom list gets 10x as
            many queries).
        batch_size: examples attacked at a time; memory stays flat in ``n``.
        mode: ``"cascade"`` (attack only examples still robust) or ``"standalone"``.
        seed: seeds every attack; the same arguments and seed give the same numbers.
        out_dir: directory for per-batch results and the report (resumable); ``None``
            keeps everything in memory.
        overwrite: start over in an ``out_dir`` that holds another run.
        stochastic, eot_draws, outputs: see `tfbnn.evaluation.target.prepare`;
            ``eot_draws`` defaults to 10 (20 for ``version="plus"``).
        clip_min, clip_max: the valid input range.
        run_diagnostics: run the gradient-masking checks of `tfbnn.evaluation.diagnostics`
            on ``diagnostic_n`` correctly classified examples at the largest eps (the
            ``cascade`` check, which reads the evaluation's own results, always runs).
        x_surrogate: unlabelled inputs to train the black-box surrogate of the transfer
            check on (labels come from the model); ``None`` uses the examples of ``x``
            outside the diagnostic subset.
        progress: show a progress bar.
        model_name: a name for the report.
        certify: also verify exactly (`tfbnn.evaluation.certified`, OR-Tools CP-SAT)
            every example the attacks leave robust, for supported BNNs (`tfbnn.verify`):
            True, or a dict of `certified.CertifyOptions` (``time_limit``, ``workers``,
            ``jobs``, ``fixing``, ``hint``). Each result then holds ``certification``
            (certified lower bound, attack upper bound, gap, unknown fraction, solve
            times), and counterexamples join the worst case as ``"exact (CP-SAT)"``.
            An unsupported model is refused before any attack runs.
        strategy: spread the batches over devices or machines: ``"mirrored"`` (this
            machine's GPUs, else its logical CPUs), ``"multiworker"`` (the workers of
            ``TF_CONFIG``, merging through ``out_dir``), ``"default"`` or a
            ``tf.distribute.Strategy``; ``batch_size`` is then the per-replica batch, and
            the results, the report and the resume contract are those of ``None`` (one
            device); see `tfbnn.distribute` and docs/distributed.md.

    # Returns
        The report, a dict following `SCHEMA` (see docs/evaluation.md); also written to
        ``out_dir/report.json`` with ``report.md`` and plots.

    # Raises
        ValueError: for bad arguments or data (before any attack runs).
        FileExistsError: when ``out_dir`` holds another run's results.
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}.")
    y = y.astype(np.int64)
    version, stages = catalog.stages_of(version, None if attacks is None else list(
        [attacks] if isinstance(attacks, str) else attacks), nb_iter)
    names, eps_list = _check_args(x, y, eps, norm, stages, batch_size, nb_iter, mode,
                                  clip_min, clip_max)
    strategy = distribute.resolve(strategy)
    model = distribute.local_model(model, strategy)
    if eot_draws is None:
        eot_draws = 10 * catalog.EOT_FACTOR.get(version, 1)
    target = prepare(model, x[:8], stochastic=stochastic, eot_draws=eot_draws, outputs=outputs)
    if y.min() < 0 or y.max() >= target.num_classes:
        raise ValueError(f"y holds labels in [{y.min()}, {y.max()}], but the model has "
                         f"{target.num_classes} classes.")
    cert_options = certified.options_of(certify)  # refuses a model it cannot verify, now
    network = None if cert_options is None else certified.prepare(
        model, x, cert_options, norm=norm, clip_min=clip_min, clip_max=clip_max,
        stochastic=target.stochastic)
    config = {
        "n": len(x), "eps": eps_list, "norm": norm, "version": version,
        "stages": [stage.as_dict() for stage in stages], "attacks": list(names),
        "nb_iter": nb_iter,
        "batch_size": batch_size, "mode": mode, "seed": seed, "eot_draws": eot_draws,
        "stochastic": target.stochastic, "outputs": target.outputs,
        "clip": [clip_min, clip_max], "diagnostics": bool(run_diagnostics),
        "diagnostic_n": diagnostic_n, "model": model_name,
        "data_sha": _fingerprint(x, y), "model_sha": _model_fingerprint(model, target, x[:8]),
    }
    if cert_options is not None:
        config["certify"] = cert_options.config()
    run = distribute.open_run(strategy, out_dir, config, overwrite=overwrite)
    chief = distribute.workers(strategy).chief
    if run is not None and run.finished:
        import json

        return json.loads((run.path / "report.json").read_text())
    box = {"clip_min": clip_min, "clip_max": clip_max}
    batches = list(batch_slices(len(x), batch_size))
    bar = keras.utils.Progbar(len(eps_list) * len(batches), unit_name="batch") if progress else None
    started = time.time()
    results = []
    for e, eps_value in enumerate(eps_list):
        key = f"eps{e}"
        hints = None if network is None else x.copy()  # the ensemble's strongest points

        def compute(b, e=e, eps_value=eps_value, hints=hints):
            sl = batches[b]
            batch_seed = seed * 1_000_003 + e * 10_007 + b * 101
            return _attack_batch(target, stages, x[sl], y[sl], eps_value, norm,
                                 batch_seed, mode, box,
                                 best=None if hints is None else hints[sl])

        # saved batches are read, the others computed (over the strategy's replicas)
        records = distribute.map_batches(
            strategy, len(batches), compute,
            load=None if run is None else (lambda b, key=key: run.load_batch(key, b)),
            save=None if run is None else (lambda b, r, key=key: run.save_batch(key, b, r)),
            progress=None if bar is None else (lambda: bar.add(1)))
        results.append(_summarise(records, stages, target, eps_value, norm, mode))
        if network is not None and chief:
            certified.run_eps(network, run, e, x, y, eps_value, results[-1], hints,
                              cert_options, seed=seed, progress=progress)
    report = {
        "schema": SCHEMA, "tfbnn_version": tfbnn.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": config,
        "model": {"name": model_name, "stochastic": target.stochastic, "draws": target.draws,
                  "outputs": target.outputs, "num_classes": target.num_classes,
                  "input_shape": list(x.shape[1:]), "notes": target.notes},
        "n": len(x), "clean_accuracy": results[0]["clean_accuracy"],
        "clean_interval": results[0]["clean_interval"], "results": results,
        "attack_seconds": round(time.time() - started, 1),
    }
    if not chief:  # the chief runs the diagnostics and writes the report
        return distribute.wait_for_report(run)
    if run_diagnostics:
        report["diagnostics"] = diag.run_all(target, x, y, eps=max(eps_list), norm=norm,
                                             n=diagnostic_n, seed=seed, box=box,
                                             x_surrogate=x_surrogate, results=results[-1],
                                             cascade=results, mode=mode)
    else:  # the cascade's own evidence costs nothing: always reported
        report["diagnostics"] = [diag.check_cascade(results, mode)]
    report["verdict"] = diag.verdict(report["diagnostics"])
    if run is not None:
        from tfbnn.evaluation import report as reporting

        reporting.write(run, report)
    return report


def _model_fingerprint(model, target: Target, probe: np.ndarray) -> str | None:
    """What identifies the model across runs, so that a finished run is never reused for
    another model: its weights (Keras models, SavedModels), else its rounded logits on a
    few inputs (deterministic callables); None for a stochastic plain callable."""
    import hashlib

    variables = None
    if isinstance(model, keras.Model):
        variables = model.weights
    elif hasattr(getattr(model, "saved_model", None), "variables"):
        variables = model.saved_model.variables
    digest = hashlib.sha256()
    if variables:
        for variable in sorted(variables, key=lambda v: v.name):
            digest.update(variable.name.encode())
            digest.update(np.ascontiguousarray(variable.numpy()).tobytes())
    elif not target.stochastic:
        digest.update(np.round(np.asarray(target.logits_fn(tf.constant(probe))), 4).tobytes())
    else:
        return None
    return digest.hexdigest()[:16]


def _fingerprint(x: np.ndarray, y: np.ndarray) -> str:
    import hashlib

    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(x).tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    return digest.hexdigest()[:16]
