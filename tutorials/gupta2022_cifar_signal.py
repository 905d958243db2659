"""PGD++ against rho (Tables 12, 14) and signal propagation (Table 13) on CIFAR-10 ResNet-18s.

Gupta & Ajanthan, "Improved Gradient based Adversarial Attacks for Quantized Networks"
(AAAI 2022), Appendix C.4-C.6, in the paper's own setting: ResNet-18 on CIFAR-10 as REF
(full precision), BNN-WQ (binary weights, MD-tanh-S), BNN-WAQ (binary weights and
activations) and the PGD-trained REF* and BNN-WQ* (Madry PGD-7 at 8/255, step 2/255). The
networks are those of `gupta2022_cifar_models.spec_for` (variants "REF", "WQ-MD", "WAQ",
"REF*", "WQ-MD*"), trained and cached through `_zoo.trained_model`, shared with the other
CIFAR tutorials; the measuring pieces are the MNIST tutorials' (`gupta2022_rho_ablation`:
the attack table, Proposition 1's beta, the beta_2 diagnostic and when rho cannot matter;
`gupta2022_signal_propagation`: the correctly classified images and Table 13's cells) and
the CIFAR ones' (`gupta2022_cifar_attack_strength`: `measure`, `ensemble`, `logit_scale`).

- Table 12: L-inf PGD++ with NJS (eps 8/255, step 2/255, 20 iterations, the paper's
  Uniform(-1, 1) start projected, seed 0) for rho in {1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 2e-1}
  on REF, BNN-WQ and BNN-WAQ; NJS's beta_1 once per network from 100 random test images
  (the first of a seeded permutation of the test split; the paper's App. C.1), used by
  every NJS attack and by Table 13. rho enters only where beta_2 < 1; the share of clean
  images where it does is recorded per rho.
- Table 13: mean and std of the singular values of beta J (J the 10 x 3072 input-logit
  Jacobian), mean ||psi||_2, ||dl/dx||_2 and ||sign(dl/dx)||_2 for beta = 1 ("Orig."), NJS
  (beta_1 beta_2, rho 0.01) and HNS (the paper's 100-point linear grid), on REF, REF*
  (the paper's "Adv. Train"), BNN-WQ and BNN-WAQ, over the first correctly classified
  images of a seeded permutation of the test split; every per-image value is kept, so
  the methods are compared image by image.
- Table 14: PGD whose per-image beta is Proposition 1's bound alone (computed at the
  clean image for correctly classified images, fixed for the 20 iterations) for rho in
  {1e-15, 1e-9, 1e-5, 1e-1, 2e-1, 5e-1} on REF, BNN-WQ, REF* and BNN-WQ*.

Beside them, on every network: the eps sweep (L-inf 1, 2 and 4 /255 beside 8, step
eps/4) for PGD, PGD++ NJS (rho 0.01) and PGD++ HNS; both rho ablations repeated at
2/255 (``rho_eps``), where 8/255 may leave everything at 0 %; the networks' logit scale
(`gupta2022_cifar_attack_strength.logit_scale`); and tfbnn's own answer,
`tfbnn.evaluation.evaluate(..., version="standard")` at 8/255, its per-example worst
case joined with every 8/255 attack, beside the paper's best attack (Table 5).

The verdict applies paper_numbers/rules/gupta2022_cifar_signal.json (`_verdicts`).
Every comparison is of two numbers measured on the same images, so it is read as a
paired difference with its standard error over the images; a difference exactly 0 on
every image is a tie and counts for nothing. Table 12: on REF, BNN-WQ and BNN-WAQ the
NJS accuracy varies by at most 2 points over the rhos, counted only where beta_2 < 1 on
at least 2 % of the attacked images and not every accuracy sits at 0 or 100 % (else
'not run', with the reason: issue #13's vacuous pass). Table 13: NJS brings the mean JSV
closer to 1 (counted only where beta_2 < 1 on at least 10 % of the images: elsewhere it
holds by beta_1's definition), NJS and HNS raise ||psi||_2, ||dl/dx||_2 and
||sign(dl/dx)||_2 over beta = 1 (a tie at the sqrt(3072) ceiling counts for nothing).
Table 14: on BNN-WQ rho 1e-15 leaves more accuracy than every other rho, and on REF* and
BNN-WQ* every large rho more than every small one. A check with nothing countable reads
"not comparable" for that check; the rho ablations at 2/255 and the sweep are findings,
beside the verdict. The summary also gives the rule's verdict on the paper's own
Tables 13 and 14.

Scale. Paper: full-width networks trained 100,000 iterations on the official CIFAR-10,
the whole test set (Tables 12 and 14), 500 correctly classified images (Table 13).
Default here (2 CPU cores): width 0.25, 10 epochs, training seed 1234 (the '*' networks
PGD-trained for the last 2 epochs), on whatever `tfbnn.data.load_cifar10` finds (here the
JPEG stand-in, labelled "CIFAR-10 (JPEG stand-in, 20k train)"), n = 80 attacked test
images and 100 Table 13 images (the paper: 500). Measured time of the default once the
five networks were cached: 872 s (14.5 minutes, loading and tracing included; 2026-12-05,
on the 2 CPU cores shared with three other jobs). How it divides, estimated from timing
one batch of 50 images of each kind of work on untrained width-0.25 ResNet-18s (niced,
beside four other jobs at a load average of 15 on the 2 cores, so the CPU seconds of the
process were measured and are taken as wall seconds, one core's worth left beside the
background training): PGD-20 1.8 (REF, BNN-WQ) to 2.8 s (BNN-WAQ) per 50 images, PGD++
NJS the same, Proposition 1's PGD 1.9 s, PGD++ HNS 2.3-3.6 s, Table 13 (Jacobian,
singular values, HNS grid, three methods) 1.6-2.3 s, a forward pass 0.1 s. The default
runs 138 attacks per image over the five networks (54 at 8/255, 45 in the sweep, 39 for
the rho ablations at 2/255), about 6.2 s per image, 8 minutes for 80 images; the
ensemble's APGD-CE (100 iterations) about 0.2 s per image per network, 1.5 minutes; its
later stages run only on what APGD-CE and the PGD++ leave: APGD-T and FAB-T (9 targets x
100 iterations each, about 45 PGD-20s each, untrained networks break every image early so
their timing undercounts) and Square (5,000 forward passes, 11 s) come to about 15 s per
surviving image; with some 20 of 80 surviving on each PGD-trained network and a few on
the others, about 12 minutes; Table 13 under a minute (n = 100 would take an estimated 18
minutes at the measured rate). The networks themselves, if not cached, take about 4-8
minutes each to train (`gupta2022_cifar_models.py`), the '*' ones longer. ``--full``:
full width, the authors' 100,000 iterations, PGD training throughout (``pgd_last_epochs``
None), the whole test set and 500 Table 13 images (GPU work; the same code path). Results
are written after every attack, so a killed run resumes.

    python tutorials/gupta2022_cifar_signal.py [--full] [--n 80] [--table13-n 100]
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import tensorflow as tf

import _common
import _verdicts
import _zoo
import gupta2022_cifar_attack_strength as strength
import gupta2022_cifar_models as cifar_models
import gupta2022_rho_ablation as rho_ablation
import gupta2022_signal_propagation as signal
from _common import RESULTS, markdown_table, paper
from gupta2022_cifar_attack_strength import ensemble, logit_scale, setting_key
from gupta2022_cifar_attack_strength import measure as measure_attack
from gupta2022_cifar_attack_strength import _linf_attacks
from tfbnn import checks, temperature
from tfbnn.batching import batch_slices
from tfbnn.evaluation.catalog import VERSIONS

NAME = RULE = "gupta2022_cifar_signal"
ARCHITECTURES = {"resnet18": "ResNet-18", "vgg16": "VGG-16"}
"""The paper's Tables 12-14 are ResNet-18 only; VGG-16 is accepted for other runs."""
ROWS = {"REF": "REF", "WQ-MD": "BNN-WQ", "WAQ": "BNN-WAQ", "REF*": "REF*", "WQ-MD*": "BNN-WQ*"}
"""`gupta2022_cifar_models.spec_for` variants -> the paper's row names."""
TABLE12 = ("REF", "WQ-MD", "WAQ")
TABLE13 = ("REF", "REF*", "WQ-MD", "WAQ")
TABLE14 = ("REF", "WQ-MD", "REF*", "WQ-MD*")
TABLE13_COLUMNS = {"REF": "REF", "REF*": "Adv. Train", "WQ-MD": "BNN-WQ", "WAQ": "BNN-WAQ"}
"""Table 13's columns; its "Adv. Train" network is not identified, REF* is taken."""
METHODS = signal.METHODS
STATS = signal.STATS
CELLS = signal.CELLS
INPUT_SIZE = signal.PAPER_INPUT_SIZE
"""Entries of a CIFAR-10 input gradient: ||sign(dl/dx)||_2 is at most its square root."""
JACOBIAN_BATCH = 50
"""Images per Jacobian (10 backward passes through one persistent tape)."""
BOOTSTRAP = 2000
"""Resamples of the images for the standard error of the JSV check (seeded)."""
NJS_RHOS = rho_ablation.NJS_RHOS
PROP1_RHOS = rho_ablation.PROP1_RHOS

DEFAULT = {"architecture": "resnet18", "variants": list(ROWS), "width": 0.25, "epochs": 10,
           "iterations": None, "train_seed": 1234,
           "pgd_last_epochs": cifar_models.PGD_LAST_EPOCHS,
           "n": 80, "batch": 80, "iters": 20, "seed": 0, "linf_eps": 8,
           "njs_rhos": NJS_RHOS, "prop1_rhos": PROP1_RHOS, "rho": 0.01, "njs_samples": 100,
           "hns_grid": 100, "table13_n": 100, "sweep": [1, 2, 4], "rho_eps": [2],
           "ensemble": "standard", "ensemble_iters": None,
           "out": str(RESULTS / f"{NAME}.json")}
"""Radii in pixels of the [0, 255] scale, PGD step eps/4 at every radius (the paper's
2/255 at 8/255); ``seed``: the attacks' random starts and the Table 13 permutation;
``train_seed``: the networks'; ``rho``: NJS's in the sweep and Table 13 (the paper's
default); ``rho_eps``: radii at which both rho ablations are repeated (findings)."""
FULL = {"width": 1.0, "iterations": 100_000, "pgd_last_epochs": None, "n": 10_000,
        "batch": 500, "table13_n": 500}


def check_config(config: dict) -> None:
    """Refuse a config that cannot run, before any network is trained or attacked."""
    checks.check_choice("architecture", config["architecture"], ARCHITECTURES,
                        hint=" (The paper's Tables 12-14: resnet18.)")
    checks.check_choices("variants", config["variants"], ROWS,
                         hint=" (BNN-WQ is WQ-MD, '*' PGD-trained.)")
    checks.check_int("n", config["n"], 1, hint=" Pass --n with a positive count of images.")
    checks.check_int("table13_n", config["table13_n"], 1,
                     hint=" Pass --table13-n with a positive count (the paper: 500).")
    checks.check_int("batch", config["batch"], 1)
    checks.check_int("iters", config["iters"], 1, hint=" The paper's Table 6: 20.")
    checks.check_int("njs_samples", config["njs_samples"], 1, hint=" The paper: 100.")
    checks.check_int("hns_grid", config["hns_grid"], 2, hint=" The paper: 100.")
    checks.check_int("ensemble_iters", config["ensemble_iters"], 1, allow_none=True)
    checks.check_int("train_seed", config["train_seed"], 0)
    checks.check_int("seed", config["seed"], 0)
    checks.check_int("pgd_last_epochs", config["pgd_last_epochs"], 1, allow_none=True,
                     hint=" None trains on PGD throughout (--full).")
    checks.check_number("width", config["width"], positive=True)
    checks.check_number("linf_eps", config["linf_eps"], positive=True)
    for name in ("sweep", "rho_eps"):
        for eps in config[name]:
            checks.check_number(name, eps, positive=True)
    for name in ("njs_rhos", "prop1_rhos"):
        if not config[name]:
            raise ValueError(f"{name}={config[name]!r}: give at least one rho, e.g. the "
                             f"paper's {DEFAULT[name]}.")
        for rho in config[name]:
            checks.check_rho(name, rho, 10)
    checks.check_rho("rho", config["rho"], 10)
    checks.check_choice("ensemble", config["ensemble"], VERSIONS)


def radii(config: dict) -> list:
    """The L-inf radii (pixels) attacked: the table's first, then the others ascending."""
    others = sorted((set(config["sweep"]) | set(config["rho_eps"])) - {config["linf_eps"]})
    return [config["linf_eps"]] + others


def _njs(rho: float) -> str:
    return rho_ablation._key("NJS", rho)


def _prop1(rho: float) -> str:
    return rho_ablation._key("Prop1", rho)


def attack_plan(config: dict, variant: str, eps: float, beta1: float) -> dict:
    """name -> ``(family, rho, attack)`` for ``variant`` at L-inf ``eps`` (pixels): PGD,
    PGD++ HNS and NJS at ``config["rho"]`` everywhere; at the table's radius and at
    ``rho_eps`` also every NJS rho (Table 12's networks) and every Proposition-1 rho
    (Table 14's). Built by `gupta2022_rho_ablation.attack_table` (step eps/4, the paper's
    start, NJS's beta_1 fixed per network) and the CIFAR tutorial's HNS."""
    ablation = eps == config["linf_eps"] or eps in config["rho_eps"]
    njs = list(config["njs_rhos"]) if ablation and variant in TABLE12 else []
    if config["rho"] not in njs:
        njs.append(config["rho"])
    prop1 = list(config["prop1_rhos"]) if ablation and variant in TABLE14 else []
    table = rho_ablation.attack_table(
        {"eps": eps / 255, "iters": config["iters"], "seed": config["seed"],
         "njs_rhos": njs, "prop1_rhos": prop1}, beta1)
    hns = _linf_attacks(eps / 255, eps / 4 / 255, config["iters"], config["seed"],
                        names=("PGD++ HNS",))["PGD++ HNS"]
    return {**table, "PGD++ HNS": ("HNS", None, hns)}


def measure(family, rho, attack, model_fn, x, y, clean, beta1, config) -> dict:
    """One attack (`gupta2022_cifar_attack_strength.measure`: accuracy over all images,
    per-example robust ANDed with clean correctness) and, for NJS and Proposition 1, the
    MNIST tutorial's diagnostic: the share of correct clean images with beta_2 < 1, or
    their median Proposition-1 beta."""
    row = {"family": family, "rho": rho,
           **measure_attack(attack, model_fn, x, y, clean, config["batch"])}
    if family in ("NJS", "Prop1"):
        row["diagnostic"] = rho_ablation._diagnostic(family, rho, model_fn, x, y, beta1)
    return row


def _rounded(values) -> list:
    return [float(f"{float(v):.7g}") for v in np.asarray(values).ravel()]


def per_image(jac, logits, labels, beta) -> dict:
    """Table 13's per-image quantities at per-image ``beta`` (as
    `tfbnn.temperature.signal_propagation_stats` computes them, kept per image)."""
    beta = tf.cast(tf.reshape(beta, [-1]), logits.dtype)
    psi = temperature.error_signal(logits, labels, beta)
    grad = beta[:, None] * tf.einsum("bj,bjn->bn", psi, jac)
    nonzero = tf.reduce_sum(tf.cast(tf.not_equal(grad, 0), logits.dtype), axis=-1)
    return {"beta": beta.numpy(), "psi_norm": tf.norm(psi, axis=-1).numpy(),
            "grad_norm": tf.norm(grad, axis=-1).numpy(),
            "sign_grad_norm": tf.sqrt(nonzero).numpy()}


def pooled(values: dict, sv_mean, sv_sq_mean) -> dict:
    """Table 13's cells from per-image values: the singular values of beta J pooled over
    images (mean, population std) and the per-image norms' means."""
    beta = np.asarray(values["beta"], np.float64)
    mean = float(np.mean(beta * sv_mean))
    second = float(np.mean(beta ** 2 * sv_sq_mean))
    return {"jsv_mean": mean, "jsv_std": math.sqrt(max(second - mean ** 2, 0.0)),
            **{k: float(np.mean(values[k])) for k in CELLS}}


def table13(model_fn, x_pool, y_pool, beta1: float, config: dict) -> dict:
    """Table 13 on the first ``table13_n`` correctly classified images of ``x_pool``
    (`gupta2022_signal_propagation._correct`): per image, the mean and mean square of the
    singular values of J, and for beta = 1, NJS and HNS the beta and the three norms; the
    pooled cells; NJS's beta_2 share. One Jacobian per image serves all three methods."""
    idx = signal._correct(model_fn, x_pool, y_pool, config["table13_n"])
    out = {"images": int(len(idx)), "njs_beta1": beta1, "rho": config["rho"]}
    if len(idx) == 0:
        return out
    x, y = x_pool[idx], y_pool[idx]
    sv_mean, sv_sq, fired, rows = [], [], [], {m: [] for m in METHODS}
    for part in batch_slices(len(x), JACOBIAN_BATCH):
        jac, logits = temperature.jacobian_and_logits(model_fn, x[part])
        labels = tf.constant(y[part])
        wrong = tf.not_equal(tf.argmax(logits, -1), tf.cast(labels, tf.int64))
        sv = temperature.jacobian_singular_values(jac).numpy().astype(np.float64)
        sv_mean.append(sv.mean(-1))
        sv_sq.append((sv ** 2).mean(-1))
        beta2 = temperature.njs_beta2(logits, labels, config["rho"], beta1)
        fired.append(beta2.numpy() < 1)
        betas = {"Orig.": tf.ones_like(logits[:, 0]), "NJS": beta1 * beta2,
                 "HNS": temperature.hns_from_jacobian(
                     logits, jac, wrong, config["hns_grid"], "linear",
                     temperature.HNS_RHO_LOW, None)}
        for method, beta in betas.items():
            rows[method].append(per_image(jac, logits, labels, beta))
    sv_mean, sv_sq = np.concatenate(sv_mean), np.concatenate(sv_sq)
    values = {m: {k: np.concatenate([r[k] for r in parts]) for k in parts[0]}
              for m, parts in rows.items()}
    out.update({
        "stats": {m: pooled(values[m], sv_mean, sv_sq) for m in METHODS},
        "njs_beta2_below_1": float(np.mean(np.concatenate(fired))),
        "sv_mean": _rounded(sv_mean), "sv_sq_mean": _rounded(sv_sq),
        "per_image": {m: {k: _rounded(v) for k, v in values[m].items()} for m in METHODS}})
    return out


def cifar_test_split():
    """The whole CIFAR-10 test split (`tfbnn.data.load_cifar10`), float32 x, int64 y."""
    from tfbnn import data

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="CIFAR-10 was not found")
        _, (x, y) = data.load_cifar10()
    return np.asarray(x, np.float32), np.asarray(y).astype(np.int64)


def main(config: dict) -> dict:
    from tfbnn import data

    run = _common.Run(config, DEFAULT, FULL, name=NAME)
    config = run.config
    check_config(config)
    title, train_images = cifar_models.training_set()
    x_all, y_all = cifar_test_split()
    x, y, drawn = data.first_examples(x_all, y_all, config["n"])
    order = np.random.default_rng(config["seed"]).permutation(len(y_all))
    x_pool, y_pool = x_all[order], y_all[order]
    run.results.update({"data": title, "n": len(x), "drawn": bool(drawn)})
    models = run.section("models")
    for variant in config["variants"]:
        spec = cifar_models.spec_for({**config, "seed": config["train_seed"]},
                                     config["architecture"], variant, train_images)
        model, info = _zoo.trained_model(spec)
        model_fn = lambda t, model=model: model(t, training=False)  # noqa: E731
        clean = _common.correct(model_fn, x, y)
        entry = run.entry(models, variant, spec, {
            "key": info["key"], "clean_accuracy": float(clean.mean()),
            "test_accuracy": info["test_accuracy"], "data": info["data"],
            "iterations": info["iterations"], "logits": logit_scale(model_fn, x),
            "settings": {}})
        if "njs_beta1" not in entry:  # the paper's 100 random test images
            entry["njs_beta1"] = float(temperature.njs_beta1(
                model_fn, x_pool[:config["njs_samples"]], config["njs_samples"]))
            run.save()
        beta1, row = entry["njs_beta1"], ROWS[variant]
        for eps in radii(config):
            key = setting_key("linf", eps)
            attacks = entry["settings"].setdefault(key, {"attacks": {}})["attacks"]
            for name, (family, rho, attack) in attack_plan(config, variant, eps, beta1).items():
                run.step(attacks, name, lambda: measure(family, rho, attack, model_fn, x, y,
                                                        clean, beta1, config),
                         say=lambda r: f"{row:7s} {key:15s} {name:22s} acc {r['accuracy']:.3f}")
            if eps != config["linf_eps"]:
                continue
            if variant in TABLE13:
                run.step(entry, "table13", lambda: table13(model_fn, x_pool, y_pool, beta1,
                                                           config),
                         say=lambda t: f"{row} Table 13 on {t['images']} images: " + str(
                             {m: {k: round(v, 4) for k, v in s.items()}
                              for m, s in t.get("stats", {}).items()}))
            result = run.step(entry, "ensemble", lambda: ensemble(model, x, y, config),
                              say=lambda r: f"{row} ensemble ({r['version']}) "
                                            f"acc {r['accuracy']:.3f}")
            worst = np.array(result["robust"], bool)
            for measured in attacks.values():
                worst &= np.array(measured["robust"], bool)
            entry["worst_case_accuracy"] = float(worst.mean())
            run.save()
    return run.finish(resummarize(run.results, run.out))


# --- estimates and the verdict ------------------------------------------------------------


def paired(a, b, scale: float = 100.0) -> _verdicts.Estimate:
    """``a - b`` on the same images: the mean of the per-image differences (times
    ``scale``) with the standard error of that mean (sample std / sqrt(images)). A
    difference exactly 0 on every image has no noise: `_verdicts.greater` reads it as a
    tie (saturated)."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    std = float(np.std(d, ddof=1)) if len(d) > 1 else 0.0
    return _verdicts.Estimate(scale * float(np.mean(d)), scale * std, runs=len(d))


def _check(rule: dict, check_id: str) -> dict:
    return next(c for c in rule["checks"] + rule.get("findings", []) if c["id"] == check_id)


def njs_spread(setting: dict, entry: dict, rhos, fired_percent: float):
    """``(Estimate, None)``: the highest minus the lowest NJS accuracy over ``rhos`` with
    its paired noise, or ``(None, why)`` where rho cannot change the attack
    (`gupta2022_rho_ablation._untestable`) or a rho was not measured."""
    attacks = setting["attacks"]
    if not all(_njs(r) in attacks for r in rhos):
        return None, None
    why = rho_ablation._untestable({"attacks": attacks, "clean_accuracy":
                                    entry["clean_accuracy"]}, {"njs_rhos": rhos}, fired_percent)
    if why:
        return None, why
    rows = [attacks[_njs(r)] for r in rhos]
    accs = [r["accuracy"] for r in rows]
    high, low = rows[int(np.argmax(accs))], rows[int(np.argmin(accs))]
    return paired(high["robust"], low["robust"]), None


def jsv_closer(table: dict, rng_seed: int = 0) -> _verdicts.Estimate:
    """``|ln JSV mean|`` at beta = 1 minus that under NJS (positive: NJS is closer to 1),
    with a bootstrap standard error over the images (`BOOTSTRAP` seeded resamples)."""
    sv = np.asarray(table["sv_mean"], np.float64)
    beta = np.asarray(table["per_image"]["NJS"]["beta"], np.float64)

    def gap(index):
        orig, njs = sv[index].mean(-1), (beta * sv)[index].mean(-1)
        return np.abs(np.log(orig)) - np.abs(np.log(njs))

    draws = np.random.default_rng(rng_seed).integers(0, len(sv), (BOOTSTRAP, len(sv)))
    return _verdicts.Estimate(float(gap(np.arange(len(sv)))), float(np.std(gap(draws))))


def estimates(results: dict, rule: dict | None = None) -> tuple[dict, dict]:
    """``(ours, reasons)``: cell name -> `_verdicts.Estimate` for every cell the rule and
    its findings name (see the rule's ``estimates``), and cell -> why it was left out."""
    rule = rule or _verdicts.load_rule(RULE)
    cfg = {**DEFAULT, **results["config"]}
    fired = float(_check(rule, "njs stable")["min_fired_percent"])
    share = float(_check(rule, "njs jsv closer to 1")["min_beta2_percent"])
    ours, reasons = {}, {}
    for variant, entry in results["models"].items():
        row = ROWS[variant]
        for key, setting in entry.get("settings", {}).items():
            attacks = setting["attacks"]
            if variant in TABLE12:
                cell = f"{row} {key} NJS spread"
                value, why = njs_spread(setting, entry, cfg["njs_rhos"], fired)
                if value is not None:
                    ours[cell] = value
                elif why:
                    reasons[cell] = why
            present = [r for r in cfg["prop1_rhos"] if _prop1(r) in attacks]
            for a, b in itertools.permutations(present, 2):
                ours[f"{row} {key} Prop1 rho={a:.0e} minus rho={b:.0e}"] = paired(
                    attacks[_prop1(a)]["robust"], attacks[_prop1(b)]["robust"])
            for variant_name, name in (("NJS", _njs(cfg["rho"])), ("HNS", "PGD++ HNS")):
                if "PGD" in attacks and name in attacks:
                    ours[f"{row} {key} PGD minus PGD++ {variant_name}"] = paired(
                        attacks["PGD"]["robust"], attacks[name]["robust"])
        table = entry.get("table13") or {}
        if table.get("images"):
            values = table["per_image"]
            for method in METHODS[1:]:
                for k, label in CELLS.items():
                    ours[f"{row} {method} minus Orig. {label}"] = paired(
                        values[method][k], values["Orig."][k], scale=1.0)
            cell = f"{row} Orig. minus NJS |ln JSV mean|"
            if 100 * table["njs_beta2_below_1"] >= share:
                ours[cell] = jsv_closer(table)
            else:
                reasons[cell] = (f"beta_2 < 1 on {100 * table['njs_beta2_below_1']:.1f} % of "
                                 f"the images (under {share:g} %), so NJS's JSV mean is "
                                 "beta_1's by construction")
        elif "table13" in entry:
            reasons[f"{row} Table 13"] = "no correctly classified image"
    return ours, reasons


def paper_estimates() -> dict:
    """The paper's Tables 13 and 14 under the rule's cell names, as the rule would read
    them: Table 13's cells as printed (exact), Table 14's differences with the binomial
    noise of its 10,000 test images. Table 12 is left out: every cell lies within 0.15 of
    0 %, and whether its beta_2 fired is not printed."""
    cells = {}
    t13 = paper("gupta2022_table13")
    for variant, column in TABLE13_COLUMNS.items():
        stats = signal._paper_stats(t13, column)
        row = ROWS[variant]
        for method in METHODS[1:]:
            for k, label in CELLS.items():
                cells[f"{row} {method} minus Orig. {label}"] = _verdicts.Estimate(
                    stats[method][k] - stats["Orig."][k])
        cells[f"{row} Orig. minus NJS |ln JSV mean|"] = _verdicts.Estimate(
            abs(math.log(stats["Orig."]["jsv_mean"])) - abs(math.log(stats["NJS"]["jsv_mean"])))
    t14 = paper("gupta2022_table14")
    key = setting_key("linf", DEFAULT["linf_eps"])
    for row, values in t14["rows"].items():
        printed = dict(zip(t14["columns"], values))
        for a, b in itertools.permutations(printed, 2):
            ea, eb = (_verdicts.Estimate(printed[c], n=10_000) for c in (a, b))
            cells[f"{row} {key} Prop1 rho={float(a):.0e} minus rho={float(b):.0e}"] = (
                _verdicts.Estimate(ea.mean - eb.mean, math.hypot(ea.se, eb.se)))
    return cells


def readings(judged: dict) -> str:
    """Each check's own reading: the verdict of its countable items alone, "not
    comparable" where none is countable (every item tied, saturated or not run)."""
    parts = []
    for check in judged["checks"]:
        outcomes = [o for _, o in check["items"] if o not in (None, _verdicts.NOT_RUN)]
        parts.append(f"{check['id']}: {_verdicts.verdict(outcomes)}")
    return "Per check: " + "; ".join(parts) + "."


# --- the summary ----------------------------------------------------------------------------


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3g}"


def _accuracy(entry, key, name):
    row = (entry or {}).get("settings", {}).get(key, {}).get("attacks", {}).get(name)
    return None if row is None else row["accuracy"]


def _rho_table(results, caption, family, rhos, paper_name, variants) -> list:
    """Table 12 or 14: the paper's columns, then tfbnn's at each radius the ablation ran."""
    cfg = {**DEFAULT, **results["config"]}
    models = results["models"]
    table, pgd = paper(paper_name), paper("gupta2022_table5")
    pgd_col = pgd["columns"].index("PGD")
    name = _njs if family == "NJS" else _prop1
    columns = [(v, eps) for eps in [cfg["linf_eps"]] + [e for e in cfg["rho_eps"]
                                                        if e != cfg["linf_eps"]]
               for v in variants if v in models
               and _accuracy(models[v], setting_key("linf", eps), name(rhos[0])) is not None]
    printed = [ROWS[v] for v in variants]
    header = (["attack"] + [f"paper {c}" for c in printed]
              + [f"tfbnn {ROWS[v]} {eps:g}/255" for v, eps in columns])
    rows = [["PGD (no temperature; paper: Table 5)"]
            + [f"{pgd['rows'][c][pgd_col]:.2f}" for c in printed]
            + [_pct(_accuracy(models[v], setting_key("linf", e), "PGD")) for v, e in columns]]
    for rho in rhos:
        key = f"{rho:.0e}"
        rows.append([f"rho = {rho:g}"]
                    + [f"{table['rows'][c][table['columns'].index(key)]:.2f}"
                       if c in table["rows"] and key in table["columns"] else "—"
                       for c in printed]
                    + [_pct(_accuracy(models[v], setting_key("linf", e), name(rho)))
                       for v, e in columns])
    spread = []
    for v, e in columns:
        accs = [_accuracy(models[v], setting_key("linf", e), name(r)) for r in rhos]
        spread.append("—" if None in accs else f"{100 * (max(accs) - min(accs)):.1f}")
    rows.append(["spread over rho (points)"]
                + [f"{max(table['rows'][c]) - min(table['rows'][c]):.2f}"
                   if c in table["rows"] else "—" for c in printed] + spread)
    label = ("share of clean correct images with beta_2 < 1 (%)" if family == "NJS"
             else "median beta of the clean correct images")
    for rho in ([max(rhos)] if family == "NJS" else [min(rhos), max(rhos)]):
        diag = []
        for v, e in columns:
            got = (models[v]["settings"].get(setting_key("linf", e), {})
                   .get("attacks", {}).get(name(rho), {}).get("diagnostic"))
            diag.append("—" if got is None else
                        f"{100 * got:.1f}" if family == "NJS" else f"{got:.3g}")
        rows.append([f"{label}, rho = {rho:g}"] + ["—"] * len(printed) + diag)
    return [f"{caption}:", ""] + markdown_table(header, rows)


def _table13_lines(results) -> list:
    models = results["models"]
    t13 = paper("gupta2022_table13")
    done = [v for v in TABLE13 if (models.get(v, {}).get("table13") or {}).get("images")]
    header = (["quantity", "method"] + [f"paper {c}" for c in TABLE13_COLUMNS.values()]
              + [f"tfbnn {ROWS[v]}" for v in done])
    theirs = {c: signal._paper_stats(t13, c) for c in TABLE13_COLUMNS.values()}
    rows = []
    for k, label in STATS.items():
        for m in METHODS:
            rows.append([label, m] + [_fmt(theirs[c][m][k]) for c in theirs]
                        + [_fmt(models[v]["table13"]["stats"][m][k]) for v in done])
    blank = ["—"] * len(theirs)
    for m in METHODS[1:]:
        rows.append(["beta (median over images)", m] + blank + [
            _fmt(float(np.median(models[v]["table13"]["per_image"][m]["beta"])))
            for v in done])
    rows.append(["NJS beta_1", "NJS"] + blank
                + [_fmt(models[v]["table13"]["njs_beta1"]) for v in done])
    rows.append(["images with beta_2 < 1 (%)", "NJS"] + blank
                + [f"{100 * models[v]['table13']['njs_beta2_below_1']:.1f}" for v in done])
    ceiling = math.sqrt(INPUT_SIZE)
    at_top = [np.asarray(models[v]["table13"]["per_image"]["Orig."]["sign_grad_norm"])
              >= ceiling - 1e-3 for v in done]
    rows.append([f"images at the ||sign(dl/dx0)||_2 ceiling {ceiling:.1f} (%)", "Orig."] + blank
                + [f"{100 * np.mean(top):.1f}" for top in at_top])
    rows.append(["images", ""] + ["500"] * len(theirs)
                + [str(models[v]["table13"]["images"]) for v in done])
    return (["Table 13, signal propagation (means over the correctly classified images; "
             "JSV of beta J):", ""] + markdown_table(header, signal._cells(rows)))


def _paper_best() -> dict:
    """Row -> (PGD, the lowest accuracy of any attack, its name) in Table 5."""
    t5 = paper("gupta2022_table5")
    out = {}
    for row, values in t5["rows"].items():
        best = int(np.argmin(values))
        out[row] = (values[t5["columns"].index("PGD")], values[best], t5["columns"][best])
    return out


def _sweep_lines(results) -> list:
    cfg = {**DEFAULT, **results["config"]}
    t5 = paper("gupta2022_table5")
    columns = {"PGD": "PGD", _njs(cfg["rho"]): "PGD++ NJS", "PGD++ HNS": "PGD++ HNS"}
    header = ["network", "source", "eps"] + list(columns.values())
    rows, scale = [], []
    best = _paper_best()
    for variant in cfg["variants"]:
        entry, row = results["models"].get(variant), ROWS[variant]
        if entry is None:
            continue
        if row in t5["rows"]:
            printed = dict(zip(t5["columns"], t5["rows"][row]))
            rows.append([row, "paper (Table 5)", f"{cfg['linf_eps']:g}/255"]
                        + [f"{printed[c]:.2f}" for c in columns.values()])
        for eps in sorted(radii(cfg)):
            key = setting_key("linf", eps)
            rows.append([row, "tfbnn", f"{eps:g}/255"]
                        + [_pct(_accuracy(entry, key, name)) for name in columns])
        pgd, low, which = best.get(row, (None, None, None))
        ens = entry.get("ensemble", {})
        scale.append([row, _pct(entry["clean_accuracy"]), _pct(entry["test_accuracy"]),
                      f"{entry['logits']['mean_abs_logit']:.3g}",
                      f"{entry['logits']['mean_margin']:.3g}",
                      _pct(_accuracy(entry, setting_key("linf", cfg["linf_eps"]), "PGD")),
                      _pct(ens.get("accuracy")), _pct(entry.get("worst_case_accuracy")),
                      "—" if pgd is None else f"{pgd:.2f}",
                      "—" if low is None else f"{low:.2f} ({which})"])
    lines = ["L-inf eps sweep (step eps/4, 20 iterations; the paper reports 8/255), "
             "accuracy %:", ""] + markdown_table(header, rows)
    lines += ["", f"Logit scale and worst case at L-inf {cfg['linf_eps']:g}/255 (accuracy %; "
              "worst case: per example over every attack of this tutorial at that radius and "
              f"`evaluate --version {cfg['ensemble']}`):", ""]
    lines += markdown_table(
        ["network", "clean (n images)", "clean (whole test split)", "mean abs logit",
         "mean top-1 minus top-2 margin", "PGD", f"evaluate {cfg['ensemble']}",
         "worst case", "paper PGD (Table 5)", "paper best attack (Table 5)"], scale)
    return lines


def _color(variant: str) -> str:
    """One colour per network in every panel."""
    return f"C{list(ROWS).index(variant)}"


def plot(results: dict, out) -> list:
    """Accuracy against rho (Tables 12 and 14, solid at 8/255, dashed at the ablation's
    other radii) and against the L-inf radius (PGD, PGD++ NJS and HNS): ``STEM.png``."""
    if out is None or not results.get("models"):
        return []
    cfg = {**DEFAULT, **results["config"]}
    plt = _common.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    ablation = [cfg["linf_eps"]] + [e for e in cfg["rho_eps"] if e != cfg["linf_eps"]]
    for ax, name, rhos, variants, title in (
            (axes[0], _njs, cfg["njs_rhos"], TABLE12, "Table 12: PGD++ NJS"),
            (axes[1], _prop1, cfg["prop1_rhos"], TABLE14, "Table 14: Proposition 1's beta")):
        for variant in variants:
            for style, eps in zip(("-", "--", ":"), ablation):
                accs = [_accuracy(results["models"].get(variant), setting_key("linf", eps),
                                  name(r)) for r in rhos]
                if None not in accs:
                    ax.plot(rhos, [100 * a for a in accs], marker="o", ls=style,
                            color=_color(variant), label=f"{ROWS[variant]} {eps:g}/255")
        ax.set(xscale="log", xlabel="rho", ylabel="accuracy (%)", ylim=(-2, 100))
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=6)
    ax = axes[2]
    grid = sorted(radii(cfg))
    for variant in cfg["variants"]:
        for style, (name, label) in zip(("-", "--", ":"), (
                ("PGD", "PGD"), (_njs(cfg["rho"]), "NJS"), ("PGD++ HNS", "HNS"))):
            points = [(e, _accuracy(results["models"].get(variant), setting_key("linf", e),
                                    name)) for e in grid]
            points = [(e, 100 * a) for e, a in points if a is not None]
            if points:
                ax.plot(*zip(*points), marker="o", ls=style, color=_color(variant),
                        label=f"{ROWS[variant]} {label}")
    ax.set(xscale="log", xlabel="L-inf eps (/255)", ylabel="accuracy (%)", ylim=(-2, 100),
           xticks=grid)
    ax.minorticks_off()
    ax.set_xticklabels([f"{e:g}" for e in grid])
    ax.set_title("eps sweep (solid PGD, dashed PGD++ NJS, dotted PGD++ HNS)", fontsize=9)
    ax.legend(fontsize=5, ncol=2)
    return [_common.save_figure(fig, out)]


def summarize(results: dict, plots: list | None = None) -> dict:
    """The section of docs/RESULTS.md: Tables 12-14 beside tfbnn's numbers, the sweep, the
    logit scale and worst case, and the committed rule's verdict (`RULE`)."""
    cfg = {**DEFAULT, **results["config"]}
    rule = _verdicts.load_rule(RULE)
    ours, reasons = estimates(results, rule)
    judged = _verdicts.judge(rule, ours, {})
    why = judged["why"] + " " + readings(judged)
    if reasons:
        why += (" Left out (not run): " + "; ".join(f"{c}: {r}" for c, r in reasons.items())
                + ".")
    finding = _verdicts.finding(rule, ours)
    if finding:
        why += " " + finding
    why += (" The same rule on the paper's own Tables 13 and 14 (Table 12 left out: its "
            "cells all lie within 0.15 of 0 %) gives: "
            f"{_verdicts.judge(rule, paper_estimates(), {})['verdict']}.")
    entries = list(results["models"].values())
    data_title = strength.data_title(results, entries)
    images13 = {ROWS[v]: e["table13"]["images"] for v, e in results["models"].items()
                if "table13" in e}
    table = _rho_table(results, "Table 12, PGD++ with NJS, accuracy % under attack", "NJS",
                       cfg["njs_rhos"], "gupta2022_table12", TABLE12)
    table += [""] + _rho_table(results, "Table 14, PGD with Proposition 1's beta alone, "
                                        "accuracy % under attack", "Prop1", cfg["prop1_rhos"],
                               "gupta2022_table14", TABLE14)
    table += [""] + _table13_lines(results) + [""] + _sweep_lines(results)
    star = ("PGD-trained throughout" if cfg["pgd_last_epochs"] is None else
            f"PGD-trained (Madry PGD-7, 8/255) for the last {cfg['pgd_last_epochs']} epochs")
    return _common.summary(
        title=f"Gupta & Ajanthan, Tables 12-14, {ARCHITECTURES[cfg['architecture']]} on "
              f"{data_title}: PGD++ against rho, signal propagation",
        command=_common.command(NAME, cfg, DEFAULT, FULL),
        paper_scale="the official CIFAR-10, full-width ResNet-18s trained 100,000 "
                    "iterations (REF, BNN-WQ by MD-tanh-S, BNN-WAQ, and REF*/BNN-WQ* "
                    "PGD-trained with T = 7, eta 2, eps 8); Tables 12 and 14 on the test set "
                    "(10,000 images) at L-inf 8/255, step 2/255, 20 iterations, one random "
                    "start, one number per cell; Table 13 on 500 correctly classified test "
                    "images (its 'Adv. Train' network not identified); no spread printed",
        tfbnn_scale=(strength.networks_scale(
                         results, entries, f"training seed {cfg['train_seed']}, '*' networks "
                                           f"{star}",
                         network=f"{ARCHITECTURES[cfg['architecture']]} ",
                         images="attacked test images")
                     + f"; L-inf {cfg['linf_eps']:g}/255 step eps/4, {cfg['iters']} "
                       f"iterations, one random start (the paper's), attack seed "
                       f"{cfg['seed']}; NJS beta_1 from {cfg['njs_samples']} random test "
                       f"images (the first of a seeded permutation); rho ablations repeated at "
                       f"{', '.join(f'{e:g}' for e in cfg['rho_eps'])} /255, sweep at "
                       f"{', '.join(f'{e:g}' for e in cfg['sweep'])} /255; accuracy % over "
                       "all the images (a misclassified one counts as broken; lower = "
                       "stronger attack); Table 13 on the first correctly classified images "
                       f"of a seeded permutation of the test split ("
                       + ", ".join(f"{r}: {k}" for r, k in images13.items())
                       + f"), NJS rho {cfg['rho']:g}, HNS {cfg['hns_grid']}-point linear "
                         "grid, float32; one network and one attack run per cell, printed "
                         "without ±; the verdict reads every comparison as a paired "
                         "difference on the same images with its standard error"),
        table=table, verdict=judged["verdict"], why=why, plots=plots)


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``), the plot
    redrawn beside ``out`` from the stored numbers."""
    return summarize(results, plot(results, out))


if __name__ == "__main__":
    main(_common.cli(__doc__, FULL, ("n", "seed", "epochs", "out", "width", "iterations"),
                     variants=dict(nargs="+", help=" ".join(ROWS)),
                     architecture=dict(help=" ".join(ARCHITECTURES)),
                     train_seed=dict(type=int, help="the networks' training seed"),
                     table13_n=dict(type=int, help="Table 13 images (the paper: 500)"),
                     iters=dict(type=int, help="attack iterations (the paper: 20)"),
                     sweep=dict(type=float, nargs="+", help="extra L-inf radii, pixels"),
                     rho_eps=dict(type=float, nargs="+",
                                  help="radii (pixels) where the rho ablations repeat")))
