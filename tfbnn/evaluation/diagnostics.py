"""Checks that tell whether a robustness number can be believed: gradient masking.

Each check returns ``{"name", "verdict": "PASS" | "WARN" | "SKIP", "explanation", "data"}``;
the explanation is one line a user can act on. They follow Athalye, Carlini & Wagner
(2018, section 3.1: iterative beats single-step, unbounded attacks reach 100 %,
black-box does not beat white-box, gradient-free does not beat gradient-based) and
the "Identifying obfuscated gradients" section and Table 13 of Gupta & Ajanthan
(2022): zero input gradients, saturated softmax, and how much a temperature on the
logits changes the signal that reaches the input.

All checks run on the first ``n`` correctly classified examples, with plain
cross-entropy PGD (the attack whose failure masking explains), at the evaluation's
largest eps unless stated.
"""

from __future__ import annotations

import contextlib
import random
import time

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow.python.eager import context

from tfbnn import export, models, temperature, training
from tfbnn.batching import map_batches
from tfbnn.evaluation import catalog

__all__ = ["check_cascade", "pgd_accuracy", "run_all", "tolerance", "verdict"]

PASS, WARN, SKIP = "PASS", "WARN", "SKIP"
ITERATIONS = (1, 5, 10, 20, 50, 100)
ZERO_GRAD_WARN = 0.05  # fraction of examples whose whole input gradient is zero
SATURATION_WARN = 0.05  # fraction of examples whose float32 softmax is exactly one-hot
REVIVAL_WARN = 0.9  # sign-gradient norm at beta = 1 below this share of the scaled one
CASCADE_WARN = 0.05  # a late attack fooling more than this share of what was left...
CASCADE_MIN = 3  # ...and at least this many examples


def tolerance(n: int) -> float:
    """Accuracy differences smaller than two examples (or 1 %) are noise."""
    return max(2.0 / n, 0.01)


def _check(name, ok, explanation_ok, explanation_warn, data):
    return {"name": name, "verdict": PASS if ok else WARN,
            "explanation": explanation_ok if ok else explanation_warn, "data": data}


def pgd_accuracy(target, x, y, eps, norm, nb_iter, seed, box, fn=None):
    """Accuracy of ``target`` under the catalog's CE PGD (its FGSM for one iteration),
    crafted on ``fn`` (default: the target itself)."""
    fn = fn or target.attack_fn
    spec = catalog.ATTACKS["fgsm" if nb_iter == 1 else "pgd"]
    x_adv = map_batches(lambda a, b: spec.run(fn, a, b, eps, norm, nb_iter, seed, box), x, y,
                        batch_size=250)
    return float(target.scores(x_adv, y).mean())


def check_iterations(target, x, y, eps, norm, seed, box):
    accs = {t: pgd_accuracy(target, x, y, eps, norm, t, seed, box) for t in ITERATIONS}
    tol = tolerance(len(x))
    worse = [(a, b) for a in ITERATIONS for b in ITERATIONS if b > a and accs[b] > accs[a] + tol]
    return _check(
        "iterations", not worse,
        f"More iterations never helped the model (PGD accuracy {accs[ITERATIONS[0]]:.3f} at "
        f"1 step, {accs[ITERATIONS[-1]]:.3f} at {ITERATIONS[-1]}).",
        f"More iterations helped the model ({worse[0][1]} steps: {accs[worse[0][1]]:.3f} > "
        f"{worse[0][0]} steps: {accs[worse[0][0]]:.3f}): the loss surface misleads PGD, a "
        "sign of gradient masking." if worse else "",
        {"iterations": list(ITERATIONS), "accuracy": [accs[t] for t in ITERATIONS]})


def full_radius(norm, box, shape) -> float:
    width = box["clip_max"] - box["clip_min"]
    return width if norm == catalog.LINF else width * float(np.sqrt(np.prod(shape)))


def check_radius(target, x, y, eps, norm, seed, box):
    top = full_radius(norm, box, x.shape[1:])
    radii = sorted({min(r, top) for r in (eps / 4, eps / 2, eps, 2 * eps, 4 * eps)} | {top})
    accs = [pgd_accuracy(target, x, y, r, norm, 20, seed, box) for r in radii]
    tol = tolerance(len(x))
    rising = [i for i in range(1, len(radii)) if accs[i] > accs[i - 1] + tol]
    ok = accs[-1] == 0.0 and not rising
    if accs[-1] > 0:
        why = (f"PGD-20 at the whole input range (eps {top:g}) leaves accuracy {accs[-1]:.3f} > "
               "0: an unbounded attack must reach 0, so gradients do not lead to adversarial "
               "inputs.")
    elif rising:
        why = f"Accuracy rose with the radius (eps {radii[rising[0]]:g}): gradient masking."
    else:
        why = ""
    return _check("radius", ok,
                  f"Accuracy falls with the radius and reaches 0 at the whole input range "
                  f"(eps {top:g}).", why, {"eps": radii, "accuracy": accs})


@contextlib.contextmanager
def _global_seed(seed):
    """Keras's global seeds set to ``seed`` inside the block, restored after it.

    Python's and NumPy's generator states come back exactly; TensorFlow's global seed
    is reset to the value it had (its op-level sequence starts anew from there).
    """
    python_state, numpy_state = random.getstate(), np.random.get_state()
    tf_seed = context.global_seed()
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        tf.random.set_seed(tf_seed)


def _surrogate(target, x_surrogate, seed):
    """A full-precision model trained on the target's labels (no gradients of the target)."""
    with _global_seed(seed):
        return _train_surrogate(target, x_surrogate)


def _train_surrogate(target, x_surrogate):
    labels = export.predict_in_batches(target.logits_fn, x_surrogate, 500).argmax(-1)
    shape = tuple(x_surrogate.shape[1:])
    if len(shape) == 3 and min(shape[:2]) >= 24:
        model = models.cleverhans_cnn("A", k1=32, input_shape=shape,
                                      num_classes=target.num_classes)
    else:
        model = models.substitute_mlp(shape, target.num_classes)
    training.compile_model(model)
    model.fit(x_surrogate, labels, epochs=3, batch_size=128, verbose=0)
    return lambda t: model(t, training=False), labels


def check_transfer(target, x, y, eps, norm, seed, box, x_surrogate, source_fn=None):
    """White-box PGD against PGD crafted on a source model and transferred.

    ``source_fn`` (logits) is the source when given (the paper: the full-precision
    twin of a binary network); otherwise a surrogate is trained on ``x_surrogate`` with
    the target's own labels, so that it never sees the target's gradients.
    """
    if source_fn is not None:
        surrogate, size = source_fn, None
    elif x_surrogate is None or len(x_surrogate) < 500:
        return {"name": "transfer", "verdict": SKIP, "data": {},
                "explanation": "Fewer than 500 inputs to train a surrogate on; pass more data "
                               "(x_surrogate) to compare black-box and white-box attacks."}
    else:
        surrogate, _ = _surrogate(target, x_surrogate[:10000], seed)
        size = int(min(len(x_surrogate), 10000))
    white = pgd_accuracy(target, x, y, eps, norm, 20, seed, box)
    black = pgd_accuracy(target, x, y, eps, norm, 20, seed, box, fn=surrogate)
    tol = tolerance(len(x))
    return _check(
        "transfer", black >= white - tol,
        f"White-box PGD ({white:.3f}) is at least as strong as PGD transferred from a "
        f"full-precision surrogate ({black:.3f}).",
        f"PGD transferred from a surrogate that never saw the model's gradients ({black:.3f}) "
        f"beats white-box PGD ({white:.3f}): the model's own gradients mislead the attack.",
        {"white_box_accuracy": white, "black_box_accuracy": black,
         "surrogate_train_size": size})


def check_gradient_free(target, x, y, eps, norm, seed, box, results):
    if norm != catalog.LINF:
        return {"name": "gradient_free", "verdict": SKIP, "data": {},
                "explanation": "tfbnn's gradient-free attack (Square) is L-inf only."}
    # The catalog's Square at 100 "iterations": 1,000 queries.
    square = map_batches(lambda a, b: catalog.ATTACKS["square"].run(
        target.attack_fn, a, b, eps, norm, 100, seed, box), x, y, batch_size=250)
    square_acc = float(target.scores(square, y).mean())
    pgd_acc = pgd_accuracy(target, x, y, eps, norm, 100, seed, box)
    only_square = (results or {}).get("broken_by", {}).get("square", 0)
    tol = tolerance(len(x))
    ok = square_acc >= pgd_acc - tol
    return _check(
        "gradient_free", ok,
        f"Gradient-free Square ({square_acc:.3f}) is no stronger than PGD-100 ({pgd_acc:.3f}).",
        f"Gradient-free Square ({square_acc:.3f}) beats PGD-100 ({pgd_acc:.3f}): the gradients "
        "are less useful than random search, a sign of gradient masking.",
        {"square_accuracy": square_acc, "pgd100_accuracy": pgd_acc,
         "ensemble_examples_only_square_broke": only_square})


def _kind(row: dict) -> str:
    if not row["uses_gradients"]:
        return "gradient-free"
    return "targeted" if row.get("targeted") else "untargeted"


def check_cascade(results: list, mode: str) -> dict:
    """What the cascade's late attacks found that the earlier ones missed.

    In a cascade each attack runs only on what the ones before left robust. An attack
    of a later kind (targeted after untargeted gradient attacks; gradient-free after
    any gradient attack) that still fools more than `CASCADE_WARN` of those examples,
    and at least `CASCADE_MIN` of them, shows that the earlier attacks' gradients were
    misleading or too weak there: WARN, with the numbers, at every eps.
    """
    if mode != "cascade":
        return {"name": "cascade", "verdict": SKIP, "data": {},
                "explanation": "Runs on a cascade (mode='cascade'): standalone attacks all "
                               "see every example."}
    findings, data = [], {}
    for result in results:
        rows, seen = result["attacks"], set()
        per_eps = []
        for row in rows:
            kind = _kind(row)
            earlier = [r["name"] for r in rows[: rows.index(row)]]
            late = bool(earlier) and kind not in seen and (
                kind == "gradient-free" or (kind == "targeted" and "untargeted" in seen))
            share = row["fooled"] / row["attacked"] if row["attacked"] else 0.0
            entry = {"attack": row["name"], "kind": kind, "left_before": row["attacked"],
                     "fooled": row["fooled"], "share": share, "late": late}
            per_eps.append(entry)
            if late and share > CASCADE_WARN and row["fooled"] >= CASCADE_MIN:
                findings.append(
                    f"at eps {result['eps']:g}, {row['name']} ({kind}) fooled "
                    f"{row['fooled']} of the {row['attacked']} examples that "
                    f"{', '.join(earlier)} left robust ({share:.0%}; "
                    f"{row['fooled'] / result['n']:.1%} of all {result['n']})")
            seen.add(kind)
        data[str(result["eps"])] = per_eps
    if not findings:
        return _check("cascade", True,
                      "No late attack (targeted after untargeted, gradient-free after "
                      f"gradient-based) fooled more than {CASCADE_WARN:.0%} of what the "
                      "earlier attacks left robust.", "", data)
    return _check(
        "cascade", False, "",
        "The cascade's late attacks found what the gradient attacks missed: "
        + "; ".join(findings) + ". The gradient attacks were misled (masking) or too weak on "
        "those examples. Raise their iterations or restarts (--version plus), use EOT "
        "draws on a stochastic model, or attack a differentiable surrogate of the binary "
        "layers; report the worst case, never a single gradient attack's accuracy.", data)


def _input_gradients(target, x, y):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=target.attack_fn(x))
    return tape.gradient(loss, x).numpy().reshape(len(x), -1)


def check_zero_gradients(target, x, y):
    grads = map_batches(lambda a, b: _input_gradients(target, a, b), x, y, batch_size=250)
    all_zero = float(np.mean(np.all(grads == 0, axis=1)))
    zero_entries = float(np.mean(grads == 0))
    return _check(
        "zero_gradients", all_zero <= ZERO_GRAD_WARN,
        f"{all_zero:.1%} of examples have an all-zero input gradient ({zero_entries:.1%} of "
        "entries are zero).",
        f"{all_zero:.1%} of examples have an all-zero input gradient of the cross-entropy: "
        "FGSM/PGD cannot move them at all; use temperature-scaled (PGD++) or DLR attacks.",
        {"all_zero_fraction": all_zero, "zero_entry_fraction": zero_entries})


def check_logit_scale(target, x, y):
    logits = export.predict_in_batches(target.attack_fn, x, 250).astype(np.float32)
    p = tf.nn.softmax(logits).numpy()
    saturated = float(np.mean(p.max(-1) == 1.0))
    top2 = np.sort(logits, -1)[:, -2:]
    data = {"mean_abs_logit": float(np.abs(logits).mean()),
            "mean_top1_top2_gap": float((top2[:, 1] - top2[:, 0]).mean()),
            "softmax_saturated_fraction": saturated}
    return _check(
        "logit_scale", saturated <= SATURATION_WARN,
        f"Mean |logit| {data['mean_abs_logit']:.2f}; the float32 softmax is one-hot on "
        f"{saturated:.1%} of examples.",
        f"The float32 softmax is exactly one-hot on {saturated:.1%} of examples (mean |logit| "
        f"{data['mean_abs_logit']:.2f}): cross-entropy gradients vanish there; the first paper "
        "saw binary logits ~4x larger than full precision. Temperature scaling fixes this.",
        data)


def check_signal_propagation(target, x, y):
    """Table 13 of Gupta & Ajanthan at beta = 1, NJS's beta and HNS's beta."""
    fn = target.attack_fn
    x = x[:100]
    y = y[:100]
    logits = tf.convert_to_tensor(fn(tf.constant(x)))
    beta1 = temperature.njs_beta1(fn, x)
    njs = beta1 * temperature.njs_beta2(logits, y, 0.01, beta1)
    hns = temperature.hns_beta(fn, x, y)
    rows = {"original": temperature.signal_propagation_stats(fn, x, y, 1.0),
            "njs": temperature.signal_propagation_stats(fn, x, y, njs),
            "hns": temperature.signal_propagation_stats(fn, x, y, hns)}
    original = rows["original"]["sign_grad_norm"]
    scaled = max(rows["njs"]["sign_grad_norm"], rows["hns"]["sign_grad_norm"])
    ok = original >= REVIVAL_WARN * scaled
    return _check(
        "signal_propagation", ok,
        f"A temperature on the logits adds few non-zero gradient entries (||sign(dl/dx)||: "
        f"{original:.2f} at beta = 1, {scaled:.2f} at best).",
        f"A temperature on the logits revives zero gradient entries (||sign(dl/dx)||: "
        f"{original:.2f} at beta = 1, {scaled:.2f} scaled): poor signal propagation masks "
        "gradients; trust PGD++ over PGD.",
        rows)


def run_all(target, x, y, *, eps, norm, n, seed, box, x_surrogate=None, results=None,
            cascade=None, mode="cascade") -> list:
    """Every check, on the first ``n`` correctly classified examples of ``(x, y)``; with
    ``cascade`` (the evaluation's results at every eps) the `check_cascade` verdict first."""
    correct = np.flatnonzero(target.scores(x, y) >= 0.5)
    subset = correct[:n]
    rest = np.setdiff1d(np.arange(len(x)), subset)
    xs, ys = x[subset], y[subset]
    if x_surrogate is None:
        x_surrogate = x[rest]
    checks = [
        ("iterations", lambda: check_iterations(target, xs, ys, eps, norm, seed, box)),
        ("radius", lambda: check_radius(target, xs, ys, eps, norm, seed, box)),
        ("transfer", lambda: check_transfer(target, xs, ys, eps, norm, seed, box, x_surrogate)),
        ("gradient_free", lambda: check_gradient_free(target, xs, ys, eps, norm, seed, box,
                                                      results)),
        ("zero_gradients", lambda: check_zero_gradients(target, xs, ys)),
        ("logit_scale", lambda: check_logit_scale(target, xs, ys)),
        ("signal_propagation", lambda: check_signal_propagation(target, xs, ys)),
    ]
    out = [] if cascade is None else [check_cascade(cascade, mode)]
    for name, run in checks:
        if len(xs) == 0:
            out.append({"name": name, "verdict": SKIP, "data": {},
                        "explanation": "No correctly classified example to check on."})
            continue
        started = time.perf_counter()
        result = run()
        result["seconds"] = round(time.perf_counter() - started, 2)
        result["n"] = int(len(xs))
        out.append(result)
    return out


def verdict(checks: list) -> str:
    """One sentence over all checks."""
    warned = [c["name"] for c in checks if c["verdict"] == WARN]
    if not warned:
        return ("PASS: no check shows gradient masking; the worst case is still only an upper "
                "bound on robust accuracy.")
    return (f"WARN: {len(warned)} check(s) show gradient masking ({', '.join(warned)}): numbers "
            "from plain FGSM/PGD overstate robustness; the ensemble's worst case (temperature-"
            "scaled, DLR and gradient-free attacks) is the number to report, and even it is only "
            "an upper bound.")
