"""Targeted CW-L2 and JSMA on the A, B, B+, B+* and S models. Galloway et al., Table 3 and Figure 2.

Mirrors: Galloway, Taylor, Moussa, "Attacking Binarized Neural Networks" (ICLR 2018),

- Table 3: targeted Carlini-Wagner L2 (CW-L2) at 100 iterations, accuracy and mean L2
  distance of the binary B, B+ and stochastic S models (the full-precision A is left out
  of the table "because all but two full-precision models had zero accuracy");
- Figure 2 (missing from the text; its caption and prose survive): accuracy against the
  number of CW-L2 iterations, with A at 0 beyond 10-20 iterations and, after 1000
  iterations, B and B+ at 19 +- 3 % and S64 at 38 +- 3 %;
- Section 4's JSMA sentence: B's accuracy under JSMA is 9.0 points above A's (and 29.5
  points under CW-L2);
- beyond the paper: S under attacks that average its random weights (expectation over
  transformation, EOT, Athalye et al. 2018): EOT-CW-L2 at the same iterations, and
  L-inf EOT-PGD / EOT-PGD++ (NJS, HNS) at eps 0.1 and 0.3, to say whether the
  Conclusion's "71 +- 2 % against CW-L2" survives an attack that adapts to the
  stochastic weights.

Protocol, as the paper's own script runs it (the authors' public repository
AngusG/cleverhans-attacking-bnns, cleverhans_tutorials/mnist_attack.py, read for its
settings only): the first ``n`` MNIST test images, *not* filtered to the correctly
classified ones, each attacked towards each of its 9 other classes (``n x 9`` pairs;
the paper's "90k images" is 10,000 x 9). Accuracy is the fraction of adversarial
examples classified as their *true* label (CleverHans' ``model_eval`` on the true
labels), so a failed targeted attack that still fools the model does not count as
accurate. Mean L2 is averaged over all pairs with failures counted at 0, as that script
computes it (a failed CW-L2 returns the clean image); the mean L2 of the successes is
recorded too. tfbnn also reports accuracy over the pairs whose clean image the model
classifies correctly (under the same random draw for S) and the targeted success rate.

CW-L2 settings. The paper states only the iteration count. tfbnn uses the values of the
authors' script, which are CleverHans v2's MNIST CW tutorial's: one binary-search step,
Adam learning rate 0.1, initial constant 10; and CleverHans v2's ``CarliniWagnerL2``
defaults where the script is silent: confidence 0, abort_early True. (The attack class's
own defaults, binary_search_steps 5, learning_rate 5e-3, initial_const 1e-2, are tuned
for 1000 iterations and barely move an MNIST image in 100; pass them with
``--binary-search-steps 5 --learning-rate 0.005 --initial-const 0.01`` to compare.) JSMA:
the script's theta = 1, gamma = 0.1, saliency on the logits (CleverHans's choice).
The attacks are `tfbnn.attacks.carlini_wagner_l2` (per-example constants; CleverHans 4's
version has bugs, see tfbnn/attacks/cw.py) and `jacobian_saliency_map_method`.

Models (tutorials/_zoo.py, cached and shared): A, B, S at k1 = 64, 15 epochs, and two
readings of the paper's B+, which Table 3 does not define: "B+" = B with Kurakin FGSM
adversarial training for the last 5 epochs (the '+' of Table 1,
`_zoo.model_spec`), and "B+*" = B with PGD training (Figure 2's caption:
B256+ trained with 20 PGD iterations; Table 6's caption: PGD-20, eps 0.3, last 5
epochs), here the reduced PGD-10 of the last 2 epochs that Table 6's '+' rows use
(`_zoo.pgd_adversary`). Both are compared with the paper's B+ cells.

S (third convolution's weights resampled at every forward pass) is scored over
``score_draws`` independent draws: mean +- std over draws. "S" is attacked the way the
paper did (each CW-L2 iteration sees one draw, success is judged on that draw);
"S EOT-CW" attacks the mean of ``eot_draws`` draws' logits per iteration (`tfbnn.attacks.EOT`).
EOT-PGD(++) on S: untargeted, the first ``n`` images, ``pgd_iters`` iterations of step
eps / 4 from the Uniform(-1, 1) start projected onto the box (Gupta & Ajanthan's budget,
as in gupta2022_attack_strength.py), with and without EOT.

Verdict rule (at 100 iterations, the paper's Table 3 budget; comparisons are paired
bootstrap 95 % intervals over images, 1000 resamples): a claim holds when its interval
lies wholly on the claimed side.
  P1 (Table 3 caption, Fig. 2): CW-L2 accuracy of B and of B+ (and B+*) above A's;
  P2 (Table 3): S's accuracy above B's and B+'s (and B+*'s);
  P3 (Sec. 4): B's JSMA accuracy above A's;
  P4 (Table 3 / Conclusion): S's accuracy reaches the paper's lower edge (mean - 2 std of
      the S cell of the k1 column, 71 - 2 x 2 = 67 % at k1 = 64): the interval's upper end
      is at least that.
"reproduced" when P1-P4 hold and S's EOT-CW accuracy is not below that edge (interval's
upper end at least the edge); "refuted" when P1-P4 hold but S's EOT-CW accuracy is below
the edge (the 71 % does not survive an adaptive attack at the same budget); "not
reproduced" when any of P1-P4 fails; "not comparable" when the paper has no cell for k1
(or for S at k1) or 100 is not among the iterations.

Default: n = 50 images x 9 targets = 450 pairs; CW-L2 at 10, 20, 50 and 100 iterations;
S scored over 20 draws, EOT over 10 draws; JSMA on A and B; EOT-PGD(++) at eps 0.1 and
0.3 with 20 iterations. About 10 minutes on 2 CPU cores with the models cached, plus
about 7 minutes to train B+ and 12 minutes to train B+* the first time. Results are written after
every (model, setting), so a killed run resumes where it stopped. ``--full``: the paper's
scale, the whole test set (90k pairs) and 1000 iterations added; days on 2 CPU cores
(EOT-CW at 1000 iterations dominates), meant for a GPU.

    python tutorials/galloway2018_cw_jsma.py            # default, ~17 min
    python tutorials/galloway2018_cw_jsma.py --full     # paper scale
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import tensorflow as tf
import tf_keras

import _common
import _zoo
from _common import mnist_test
from _zoo import current, trained_model
from tfbnn import attacks, models

NUM_CLASSES = 10
REFERENCE_ITERATIONS = 100  # Table 3's budget
EOT_LABEL = "S EOT-CW"
DEFAULT = {
    "models": ["A", "B", "B+", "B+*", "S"], "k1": 64, "epochs": 15, "train_size": 60000,
    "n": 50, "iterations": [10, 20, 50, 100],
    "binary_search_steps": 1, "learning_rate": 0.1, "initial_const": 10.0,
    "confidence": 0.0, "abort_early": True,
    "score_draws": 20, "eot_draws": 10,
    "jsma_models": ["A", "B"], "jsma_theta": 1.0, "jsma_gamma": 0.1,
    "pgd_eps": [0.1, 0.3], "pgd_iters": 20,
    "batch": 500, "bootstrap": 1000, "seed": 0, "full": False,
}
FULL = {"n": 10000, "iterations": [10, 20, 50, 100, 1000]}
PAPER_ROW = {"B+*": "B+"}
"""Models compared with another row of the paper: both B+ readings with its B+."""
LABELS = ["A", "B", "B+", "B+*", "S", EOT_LABEL]


def spec(name: str, config: dict) -> dict:
    """The cache spec of the named model: B+ is Table 1's FGSM-trained B+, B+* Table 6's
    PGD-trained B+ (the reduced PGD-10 of the last 2 epochs), shared through the cache."""
    return _zoo.model_spec(name, config)


def _model(name: str, config: dict):
    """(model_fn, info) of the named model from the shared cache."""
    model, info = trained_model(spec(name, config))
    return (lambda t: model(t, training=False)), info


def _pairs(x, y):
    """Every image towards each of its 9 other classes: (x, true labels, targets)."""
    targets = np.array([[c for c in range(NUM_CLASSES) if c != label] for label in y])
    reps = NUM_CLASSES - 1
    return np.repeat(x, reps, axis=0), np.repeat(y, reps), targets.reshape(-1).astype(np.int64)


def _score(model_fn, x_clean, x_adv, y, targets, draws: int, batch: int, group: int) -> dict:
    """Accuracy (and targeted success) over ``draws`` passes; clean and adversarial
    inputs of a batch go through the same pass, i.e. the same draw of S's weights."""
    def predict(clean, adv):  # one pass, one draw: (clean, adversarial) predictions
        pred = np.asarray(model_fn(tf.constant(np.concatenate([clean, adv])))).argmax(-1)
        return np.stack([pred[:len(clean)], pred[len(clean):]], axis=1)

    n = len(x_adv)
    correct = np.zeros((draws, n), bool)
    hit = np.zeros((draws, n), bool)
    clean_ok = np.zeros((draws, n), bool)
    for d in range(draws):
        pred = _common.in_batches(predict, x_clean, x_adv, batch=batch)
        clean_ok[d], correct[d] = pred[:, 0] == y, pred[:, 1] == y
        if targets is not None:
            hit[d] = pred[:, 1] == targets
    per_draw = correct.mean(1)
    out = {
        "draws": draws, "accuracy": float(per_draw.mean()), "accuracy_std": float(per_draw.std()),
        "clean_accuracy": float(clean_ok.mean()),
        "accuracy_given_clean_correct": (float(correct[clean_ok].mean()) if clean_ok.any()
                                         else None),
        "per_image_accuracy": [round(float(v), 4)
                               for v in correct.mean(0).reshape(-1, group).mean(1)],
    }
    if targets is not None:
        out["target_success"] = float(hit.mean(1).mean())
        out["target_success_std"] = float(hit.mean(1).std())
    return out


def _draws(model_fn, x, config) -> int:
    return config["score_draws"] if models.is_stochastic(model_fn, tf.constant(x[:8])) else 1


def _cw(model_fn, x, y, iterations: int, config: dict, eot: bool) -> dict:
    xs, ys, targets = _pairs(x, y)
    attack_fn = attacks.EOT(model_fn, config["eot_draws"]) if eot else model_fn
    (adv, l2, ok), seconds = _common.timed(
        attacks.carlini_wagner_l2, attack_fn, xs, targets, targeted=True, clip_min=0.0,
        clip_max=1.0, binary_search_steps=config["binary_search_steps"],
        max_iterations=iterations, learning_rate=config["learning_rate"],
        initial_const=config["initial_const"], confidence=config["confidence"],
        abort_early=config["abort_early"], batch_size=config["batch"], return_details=True)
    adv, l2, ok = np.asarray(adv), np.asarray(l2), np.asarray(ok)
    return {"iterations": iterations, "pairs": len(xs), "eot_draws": config["eot_draws"] if eot else None,
            **_score(model_fn, xs, adv, ys, targets, _draws(model_fn, x, config), config["batch"],
                     NUM_CLASSES - 1),
            "attack_success": float(ok.mean()),
            "mean_l2_all": float(l2.mean()),
            "mean_l2_success": float(l2[ok].mean()) if ok.any() else None,
            "seconds": seconds}


def _jsma(model_fn, x, y, config: dict) -> dict:
    xs, ys, targets = _pairs(x, y)
    (adv, ok, changed, _), seconds = _common.timed(
        attacks.jacobian_saliency_map_method, model_fn, xs, targets, targeted=True,
        theta=config["jsma_theta"], gamma=config["jsma_gamma"], clip_min=0.0, clip_max=1.0,
        use_logits=True, return_details=True)
    adv, ok, changed = np.asarray(adv), np.asarray(ok), np.asarray(changed)
    return {"pairs": len(xs),
            **_score(model_fn, xs, adv, ys, targets, _draws(model_fn, x, config), config["batch"],
                     NUM_CLASSES - 1),
            "attack_success": float(ok.mean()),
            "fraction_changed_all": float(changed.mean()),
            "fraction_changed_success": float(changed[ok].mean()) if ok.any() else None,
            "seconds": seconds}


def _pgd_attacks(eps: float, config: dict) -> dict:
    """Untargeted L-inf attacks on S: name -> f(model_fn, x, y)."""
    common = dict(eps=eps, eps_iter=eps / 4, nb_iter=config["pgd_iters"], norm=np.inf,
                  clip_min=0.0, clip_max=1.0, rand_init="paper", seed=config["seed"])
    eot = lambda f: attacks.EOT(f, config["eot_draws"])  # noqa: E731
    return {
        "PGD (no EOT)": lambda f, x, y: attacks.projected_gradient_descent(f, x, y=y, **common),
        "EOT-PGD": lambda f, x, y: attacks.projected_gradient_descent(eot(f), x, y=y, **common),
        "EOT-PGD++ NJS": lambda f, x, y: attacks.pgd_plus_plus(eot(f), x, y=y, variant="njs",
                                                               **common),
        "EOT-PGD++ HNS": lambda f, x, y: attacks.pgd_plus_plus(eot(f), x, y=y, variant="hns",
                                                               **common),
    }


def _pgd(attack, model_fn, x, y, config: dict) -> dict:
    b = config["batch"]
    adv, seconds = _common.timed(_common.in_batches, lambda a, t: attack(model_fn, a, t), x, y,
                                 batch=b)
    return {"images": len(x), **_score(model_fn, x, adv, y, None, _draws(model_fn, x, config),
                                       b, 1),
            "max_linf": float(np.abs(adv - x).max()), "seconds": seconds}


def todo(results: dict, config: dict, name: str) -> list:
    """The (section, key, subkey) settings still missing for model ``name``."""
    units = []
    labels = [name] + ([EOT_LABEL] if name == "S" else [])
    if name in results["models"] and not current(results["models"][name], spec(name, config)):
        # measured on a model trained to another spec: drop all of it
        del results["models"][name]
        for label in labels:
            results["cw"].pop(label, None)
        results["jsma"].pop(name, None)
        if name == "S":
            results["eot_pgd"] = {}
    if name not in results["models"]:
        units.append(("models", name, None))
    for label in labels:
        for it in config["iterations"]:
            if str(it) not in results["cw"].get(label, {}):
                units.append(("cw", label, it))
    if name in config["jsma_models"] and name not in results["jsma"]:
        units.append(("jsma", name, None))
    if name == "S":
        for eps in config["pgd_eps"]:
            for attack in _pgd_attacks(eps, config):
                if attack not in results["eot_pgd"].get(f"eps={eps}", {}):
                    units.append(("eot_pgd", eps, attack))
    return units


def main(config: dict) -> dict:
    run = _common.Run(config, DEFAULT, FULL, name="galloway2018_cw_jsma")
    config, results = run.config, run.results
    for section in ("models", "cw", "jsma", "eot_pgd"):
        run.section(section)
    x, y = mnist_test(config["n"])
    for name in config["models"]:
        units = todo(results, config, name)
        if not units:
            continue
        model_fn, info = _model(name, config)
        for section, key, sub in units:
            tf_keras.utils.set_random_seed(config["seed"])
            if section == "models":
                clean = _score(model_fn, x, x, y, None, _draws(model_fn, x, config),
                               config["batch"], 1)
                results["models"][name] = {
                    "clean_accuracy": clean["accuracy"], "clean_accuracy_std": clean["accuracy_std"],
                    "draws": clean["draws"], "train_seconds": info["train_seconds"],
                    "spec": info["spec"]}
            elif section == "cw":
                results["cw"].setdefault(key, {})[str(sub)] = _cw(
                    model_fn, x, y, sub, config, eot=key == EOT_LABEL)
            elif section == "jsma":
                results["jsma"][key] = _jsma(model_fn, x, y, config)
            else:
                attack = _pgd_attacks(key, config)[sub]
                results["eot_pgd"].setdefault(f"eps={key}", {})[sub] = _pgd(
                    attack, model_fn, x, y, config)
            run.save(f"{name} {section} {key} {sub}")
    return run.finish(summarize(results, [plot(results, run.out)]))


# ----------------------------------------------------------------------------- verdict


def _interval(values, resamples: int = 1000, seed: int = 0) -> tuple:
    """Mean and bootstrap 95 % interval over images of per-image values."""
    v = np.asarray(values, float)
    idx = np.random.default_rng(seed).integers(0, len(v), (resamples, len(v)))
    means = v[idx].mean(1)
    return float(v.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def _diff(a, b, resamples: int = 1000, seed: int = 0) -> tuple:
    """mean(a) - mean(b) over the same images, with a paired bootstrap 95 % interval."""
    return _interval(np.asarray(a, float) - np.asarray(b, float), resamples, seed)


def judge(per_image: dict, s_paper, resamples: int = 1000) -> tuple:
    """(verdict, why) from per-image accuracies at 100 iterations.

    ``per_image`` keys: "cw A", "cw B", "cw B+", "cw S", "cw S EOT-CW", "jsma A",
    "jsma B", optionally "cw B+*" (lists over the same images, values in [0, 1]);
    ``s_paper``: the paper's
    S cell ``[mean, std]`` in % for the k1 column, or None.
    """
    needed = ["cw A", "cw B", "cw B+", "cw S", f"cw {EOT_LABEL}", "jsma A", "jsma B"]
    missing = [k for k in needed if k not in per_image]
    if s_paper is None or missing:
        why = ("The paper has no S cell for this k1 (Table 3 covers k1 = 32-256, no S32)."
               if s_paper is None else f"Missing measurements: {', '.join(missing)}.")
        return "not comparable", why
    edge = (s_paper[0] - 2 * s_paper[1]) / 100
    p = lambda v: f"{100 * v:.1f}"  # noqa: E731

    def above(a, b):
        d, lo, hi = _diff(per_image[a], per_image[b], resamples)
        return lo > 0, f"{a} - {b} = {p(d)} points [{p(lo)}, {p(hi)}]"

    pluses = ["cw B+"] + (["cw B+*"] if "cw B+*" in per_image else [])
    checks = {
        "P1": [above("cw B", "cw A")] + [above(b, "cw A") for b in pluses],
        "P2": [above("cw S", "cw B")] + [above("cw S", b) for b in pluses],
        "P3": [above("jsma B", "jsma A")],
    }
    s_mean, s_lo, s_hi = _interval(per_image["cw S"], resamples)
    checks["P4"] = [(s_hi >= edge, f"S {p(s_mean)} % [{p(s_lo)}, {p(s_hi)}] vs edge {p(edge)} %")]
    e_mean, e_lo, e_hi = _interval(per_image[f"cw {EOT_LABEL}"], resamples)
    eot_text = f"S under EOT-CW {p(e_mean)} % [{p(e_lo)}, {p(e_hi)}]"
    failed = [k for k, items in checks.items() if not all(ok for ok, _ in items)]
    detail = "; ".join(f"{k} {'holds' if k not in failed else 'fails'} ({', '.join(t for _, t in v)})"
                       for k, v in checks.items())
    rule = ("Rule (100 CW-L2 iterations, paired bootstrap 95 % intervals over images): "
            "P1 B and B+ (and B+*) above A; P2 S above B and B+ (and B+*); P3 B above A under JSMA; P4 S's "
            f"interval reaches the paper's S cell minus 2 std ({p(edge)} %). 'reproduced' if "
            "P1-P4 hold and S's EOT-CW interval reaches the same edge, 'refuted' if P1-P4 hold "
            "but it lies below, 'not reproduced' if any of P1-P4 fails.")
    if failed:
        verdict = "not reproduced"
    else:
        verdict = "reproduced" if e_hi >= edge else "refuted"
    return verdict, f"{rule} {detail}. {eot_text}."


# ----------------------------------------------------------------------------- summary


def _fmt(cell) -> str:
    return "—" if cell is None else f"{cell[0]} ± {cell[1]}"


def _pct(entry, key="accuracy") -> str:
    if entry is None:
        return "not run"
    std = entry.get(f"{key}_std", 0.0) if entry.get("draws", 1) > 1 else 0.0
    return f"{100 * entry[key]:.1f}" + (f" ± {100 * std:.1f}" if std else "")


def _num(value, digits=2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def summarize(results: dict, plots: list) -> dict:
    cfg = results["config"]
    table3 = _common.paper("galloway2018_table3")
    figures = _common.paper("galloway2018_figures")["rows"]
    jsma_prose = _common.paper("galloway2018_jsma_prose")["rows"]
    k1 = str(cfg["k1"])
    col = _common.column(table3, k1)
    cell = lambda row: None if col is None else table3["rows"][row][col]  # noqa: E731
    cw, jsma = results["cw"], results["jsma"]
    ref = str(REFERENCE_ITERATIONS)
    get = lambda label, it=ref: cw.get(label, {}).get(it)  # noqa: E731
    rows = []
    a_paper = ("0 (caption); best FP model A256+ 1.8 ± 0.9" if col is not None else "—")
    for label in LABELS:
        row = PAPER_ROW.get(label, label)
        paper_acc = a_paper if label == "A" else (
            "— (paper: S under plain CW only)" if label == EOT_LABEL else _fmt(cell(f"{row} accuracy")))
        paper_l2 = "—" if label in ("A", EOT_LABEL) else _fmt(cell(f"{row} mean L2"))
        entry = get(label)
        rows.append([f"CW-L2 {ref} it: accuracy % of {label}", paper_acc, _pct(entry)])
        rows.append([f"CW-L2 {ref} it: mean L2 of {label} (all pairs; successes)", paper_l2,
                     "not run" if entry is None else
                     f"{entry['mean_l2_all']:.2f}; {_num(entry['mean_l2_success'])}"])
    if "1000" in {str(i) for i in cfg["iterations"]}:
        thousand = {"A": figures["Fig 2 / Sec 3.1.2: full-precision (A) accuracy % after 1000 CW-L2 iterations"][0],
                    "B": _fmt(figures["Fig 2 / Sec 3.1.2: B accuracy % after 1000 CW-L2 iterations"][0]),
                    "B+": _fmt(figures["Fig 2 / Sec 3.1.2: B+ accuracy % after 1000 CW-L2 iterations"][0]),
                    "B+*": _fmt(figures["Fig 2 / Sec 3.1.2: B+ accuracy % after 1000 CW-L2 iterations"][0]),
                    "S": _fmt(figures["Fig 2 / Sec 3.1.2: S64 accuracy % after 1000 CW-L2 iterations"][0])
                    + " (S64)"}
        for label in LABELS:
            rows.append([f"CW-L2 1000 it: accuracy % of {label}", thousand.get(label, "—"),
                         _pct(get(label, "1000"))])
    if get("A") and get("B"):
        rows.append([f"CW-L2 {ref} it: accuracy B - A (points)",
                     f"+{jsma_prose['accuracy improvement of B over A under CWL2 (%)'][0]} "
                     "(capacity not stated)",
                     f"{100 * (get('B')['accuracy'] - get('A')['accuracy']):+.1f}"])
    for label in ["A", "B"]:
        entry = jsma.get(label)
        rows.append([f"JSMA accuracy % of {label} (target success %; pixels changed %)", "—",
                     "not run" if entry is None else
                     f"{_pct(entry)} ({100 * entry['target_success']:.1f}; "
                     f"{100 * entry['fraction_changed_all']:.1f})"])
    if "A" in jsma and "B" in jsma:
        rows.append(["JSMA accuracy B - A (points)",
                     f"+{jsma_prose['accuracy improvement of B over A under JSMA (%)'][0]} "
                     "(capacity not stated)",
                     f"{100 * (jsma['B']['accuracy'] - jsma['A']['accuracy']):+.1f}"])
    for eps_key, entries in results["eot_pgd"].items():
        for attack, entry in entries.items():
            rows.append([f"S, L-inf {eps_key}, {attack}: accuracy %", "—", _pct(entry)])
    per_image = {f"cw {label}": cw[label][ref]["per_image_accuracy"]
                 for label in cw if ref in cw[label]}
    per_image.update({f"jsma {m}": e["per_image_accuracy"] for m, e in jsma.items()})
    if col is None:
        verdict, why = "not comparable", f"The paper has no k1={k1} column (Table 3: 32-256)."
    elif ref not in {str(i) for i in cfg["iterations"]}:
        verdict, why = "not comparable", f"{ref} CW-L2 iterations (Table 3's budget) not run."
    else:
        verdict, why = judge(per_image, cell("S accuracy"), cfg["bootstrap"])
    pairs = cfg["n"] * (NUM_CLASSES - 1)
    return _common.summary(
        title="Galloway et al., Table 3, Figure 2 and JSMA (targeted CW-L2 and JSMA; S under EOT)",
        command="python tutorials/galloway2018_cw_jsma.py" + (" --full" if cfg["full"] else ""),
        paper_scale=("k1 = 32-256, the whole MNIST test set x 9 targets (90k pairs), CW-L2 "
                     "(CleverHans v2) for 100 iterations (Table 3) and up to 1000 (Fig. 2), "
                     "other CW settings not stated; JSMA settings and capacity not stated; "
                     "mean ± std over runs"),
        tfbnn_scale=(f"k1 = {k1}, {cfg['epochs']} epochs, one training run; first {cfg['n']} test "
                     f"images (unfiltered) x 9 targets = {pairs} pairs; CW-L2 at "
                     f"{', '.join(map(str, cfg['iterations']))} iterations, binary search steps "
                     f"{cfg['binary_search_steps']}, learning rate {cfg['learning_rate']}, initial "
                     f"constant {cfg['initial_const']}, confidence {cfg['confidence']} (the "
                     "authors' script's values); JSMA theta "
                     f"{cfg['jsma_theta']}, gamma {cfg['jsma_gamma']}; S scored over "
                     f"{cfg['score_draws']} draws (± = std over draws), EOT over "
                     f"{cfg['eot_draws']} draws; B+ is FGSM-trained (Table 1's '+'), B+* PGD-trained "
                     "(Table 6's '+': PGD-10 at eps 0.3 for the last 2 epochs); L2 in "
                     "[0, 1] pixel units"),
        table=_common.markdown_table(["quantity", f"paper (k1={k1})", "tfbnn"], rows),
        verdict=verdict, why=why, plots=plots)


# ----------------------------------------------------------------------------- plot


def plot(results: dict, out: Path) -> str:
    plt = _common.pyplot()

    cfg = results["config"]
    table3 = _common.paper("galloway2018_table3")
    k1 = str(cfg["k1"])
    col = _common.column(table3, k1)
    fig, (ax_acc, ax_l2) = plt.subplots(1, 2, figsize=(10, 4))
    colors = {"A": "C0", "B": "C1", "B+": "C2", "S": "C3", EOT_LABEL: "C4", "B+*": "C5"}
    for label, entries in results["cw"].items():
        its = sorted(int(i) for i in entries)
        acc = [100 * entries[str(i)]["accuracy"] for i in its]
        std = [100 * entries[str(i)]["accuracy_std"] for i in its]
        l2 = [entries[str(i)]["mean_l2_all"] for i in its]
        ax_acc.errorbar(its, acc, yerr=std, marker="o", color=colors.get(label), label=label,
                        capsize=3)
        ax_l2.plot(its, l2, marker="o", color=colors.get(label), label=label)
        if col is not None and label in ("B", "B+", "S"):  # B+* shares B+'s paper cell
            acc_cell = table3["rows"][f"{label} accuracy"][col]
            l2_cell = table3["rows"][f"{label} mean L2"][col]
            if acc_cell is not None:
                ax_acc.errorbar([REFERENCE_ITERATIONS], [acc_cell[0]], yerr=[acc_cell[1]],
                                marker="s", mfc="none", color=colors[label], ls="none")
                ax_l2.errorbar([REFERENCE_ITERATIONS], [l2_cell[0]], yerr=[l2_cell[1]],
                               marker="s", mfc="none", color=colors[label], ls="none")
    if k1 == "64":  # Sec. 3.1.2's 1000-iteration numbers (S64; B/B+ capacity not stated)
        for label, value, shift in (("A", [0, 0], 1.0), ("B", [19, 3], 0.93), ("B+", [19, 3], 1.07),
                                    ("S", [38, 3], 1.0)):
            ax_acc.errorbar([1000 * shift], [value[0]], yerr=[value[1]], marker="x",
                            color=colors[label], ls="none")
    for ax, ylabel in ((ax_acc, "accuracy % (true label)"),
                       (ax_l2, "mean L2 over all pairs (failures = 0)")):
        ax.set(xscale="log", xlabel="CW-L2 iterations", ylabel=ylabel)
    ax_acc.legend(fontsize=8)
    fig.suptitle(f"Figure 2: targeted CW-L2, first {cfg['n']} MNIST test images x 9 targets, "
                 f"k1={k1} (open squares / crosses: paper's Table 3 / Sec. 3.1.2)", fontsize=9)
    name = _common.save_figure(fig, out, dpi=90)
    return name


if __name__ == "__main__":
    main(_common.cli(__doc__, full={**FULL, "full": True}, names=("k1", "n", "out"),
                     iterations=dict(type=int, nargs="+", help="CW-L2 iteration counts"),
                     binary_search_steps=dict(type=int), learning_rate=dict(type=float),
                     initial_const=dict(type=float), eot_draws=dict(type=int),
                     score_draws=dict(type=int)))
