"""Cost of FGSM++ (NJS, HNS) relative to FGSM, per adversarial example (Table 7).

Mirrors: Gupta & Ajanthan, "Improved Gradient based Adversarial Attacks for Quantized
Networks" (AAAI 2022), Appendix C.1, Table 7: seconds to generate one adversarial
example with FGSM, FGSM++ (NJS) and FGSM++ (HNS) on a CIFAR-10 ResNet-18, on an RTX 2080
GPU at batch size 1. Absolute times depend on the hardware; the comparable quantity is
the ratio to FGSM on the same machine, which is what the verdict uses.

Timed here, on the MNIST binary model B (k1 = 64, 15 epochs, the cached model of
tutorials/_zoo.py), L-inf eps 0.1, wall clock, median of ``repeats`` runs after
``warmup`` untimed runs (the first traces the attack's graph):

- at batch 250 (one batch of the first 250 test images) and at the paper's batch
  size 1 (the first ``batch1_n`` test images one at a time);
- FGSM; FGSM++ NJS with ``beta_1`` estimated once per model beforehand (the paper
  estimates it once, from 100 test images, App. C.1; that one-off cost is timed
  separately) and, for reference, FGSM++ NJS estimating ``beta_1`` from every batch
  (tfbnn's default without ``njs_beta1``); FGSM++ HNS (the paper's 100-point grid);
- for reference, PGD, PGD++ NJS and PGD++ HNS (20 iterations of step eps / 4).

Default: B only, 5 timed repeats at batch 250, 3 repeats over 20 single images: about
3 minutes on 2 CPU cores once B is cached. ``--full`` times A, B, C and W as well and
uses 10 repeats and 100 single images (W is trained on first use). Times measured on a
shared machine are noisy; the medians and all repeats are saved.

The verdict applies the rule of paper_numbers/rules/gupta2022_timing.json (`_verdicts`),
on ratios of medians measured on one machine, each with the standard error its repeats
give it, at batch 1 and on one batch: FGSM++ NJS costs less than 1.5 FGSMs (the paper's
'negligible overhead', 1.08x), and FGSM++ HNS more than FGSM++ NJS. Absolute seconds and
the size of the HNS ratio depend on the hardware and are no claim.

    python tutorials/gupta2022_timing.py [--full] [--models B] [--repeats 5]
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import tensorflow as tf

import _common
import _verdicts
import _zoo
from _common import mnist_test
from tfbnn import attacks, temperature

NAME = "gupta2022_timing"
DEFAULT = {"models": ["B"], "k1": 64, "epochs": 15, "train_size": 60000, "n": 250,
           "batch1_n": 20, "repeats": 5, "batch1_repeats": 3, "warmup": 1, "eps": 0.1,
           "iters": 20, "njs_samples": 100, "full": False,
           "out": str(_common.RESULTS / f"{NAME}.json")}
FULL = {"models": ["A", "B", "C", "W"], "repeats": 10, "batch1_n": 100}
PAPER_ATTACKS = {"FGSM": "FGSM", "FGSM++ NJS": "FGSM++ (NJS)", "FGSM++ HNS": "FGSM++ (HNS)"}
SETTINGS = {"batch1": "batch 1", "batch": "one batch"}
"""Stored timing setting -> its name in the rule's cells."""
RATIOS = (("FGSM++ NJS", "FGSM"), ("FGSM++ HNS", "FGSM++ NJS"))
"""The ratios the rule names: ``"<model> <a> / <b>, <setting>"``."""


def attack_table(config, beta1):
    """The timed attacks: name -> ``f(model_fn, x, y)``."""
    eps, box = config["eps"], dict(clip_min=0.0, clip_max=1.0)
    pgd = dict(eps=eps, eps_iter=eps / 4, nb_iter=config["iters"], norm=np.inf,
               rand_init="paper", seed=0, **box)
    return {
        "FGSM": lambda f, x, y: attacks.fast_gradient_method(f, x, eps, np.inf, y=y, **box),
        "FGSM++ NJS": lambda f, x, y: attacks.fgsm_plus_plus(
            f, x, eps, np.inf, y=y, variant="njs", njs_beta1=beta1, **box),
        "FGSM++ NJS (beta_1 from each batch)": lambda f, x, y: attacks.fgsm_plus_plus(
            f, x, eps, np.inf, y=y, variant="njs", njs_max_samples=config["njs_samples"], **box),
        "FGSM++ HNS": lambda f, x, y: attacks.fgsm_plus_plus(
            f, x, eps, np.inf, y=y, variant="hns", **box),
        "PGD": lambda f, x, y: attacks.projected_gradient_descent(f, x, y=y, **pgd),
        "PGD++ NJS": lambda f, x, y: attacks.pgd_plus_plus(
            f, x, y=y, variant="njs", njs_beta1=beta1, **pgd),
        "PGD++ HNS": lambda f, x, y: attacks.pgd_plus_plus(f, x, y=y, variant="hns", **pgd),
    }


def time_attack(attack, model_fn, x, y, batch, repeats, warmup) -> list:
    """Seconds per adversarial example of each timed repeat (all of x, ``batch`` at a time)."""
    def run():
        _common.in_batches(lambda a, b: attack(model_fn, a, b), x, y, batch=batch)

    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) / len(x))
    return times


def time_beta1(model_fn, x, repeats) -> float:
    """Median seconds of one NJS beta_1 estimate (after one untimed call)."""
    temperature.njs_beta1(model_fn, x)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        float(temperature.njs_beta1(model_fn, x))
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def ratio(a: dict, b: dict) -> _verdicts.Estimate:
    """``a``'s median seconds over ``b``'s, with the standard error the repeats give it.

    A median's standard error is about sqrt(pi / 2) times a mean's; on the log scale
    the two attacks' errors add in quadrature, and the ratio's error is that times the
    ratio. One repeat gives no spread: the ratio is then taken as exact.
    """
    def log_se(row):
        logs = np.log(row["times_s"])
        return (np.sqrt(np.pi / 2) * np.std(logs, ddof=1) / np.sqrt(len(logs))
                if len(logs) > 1 else 0.0)

    value = a["median_s"] / b["median_s"]
    return _verdicts.Estimate(value, std=value * float(np.hypot(log_se(a), log_se(b))),
                              scale=1.0)


def estimates(results: dict) -> dict:
    """Cell name -> `_verdicts.Estimate`: ``"<model> <a> / <b>, <setting>"`` for the rule's
    `RATIOS` in every timed `SETTINGS`."""
    ours = {}
    for model, entry in results["models"].items():
        for setting, label in SETTINGS.items():
            rows = entry.get(setting, {})
            for a, b in RATIOS:
                if a in rows and b in rows:
                    ours[f"{model} {a} / {b}, {label}"] = ratio(rows[a], rows[b])
    return ours


def _command(config) -> str:
    return _common.command(NAME, config, DEFAULT, FULL)


def summarize(results: dict) -> dict:
    """The section of docs/RESULTS.md; verdict: the rule of
    paper_numbers/rules/gupta2022_timing.json."""
    config = {**DEFAULT, **results["config"]}
    paper = _common.paper("gupta2022_table7")
    ref = dict(zip(paper["columns"], paper["rows"]["seconds per adversarial sample"]))
    models = [m for m in config["models"] if m in results["models"]
              and all(s in results["models"][m] for s in SETTINGS)]
    header = ["attack", "paper s/sample (RTX 2080, batch 1)", "paper ratio to FGSM"]
    for m in models:
        header += [f"tfbnn {m} s/sample (batch {config['n']})", f"tfbnn {m} ratio (batch "
                   f"{config['n']})", f"tfbnn {m} ratio (batch 1)"]
    rows = []
    for name in attack_table(config, 1.0):
        paper_s = ref.get(PAPER_ATTACKS.get(name))
        row = [name, "—" if paper_s is None else f"{paper_s:.4g}",
               "—" if paper_s is None else f"{paper_s / ref['FGSM']:.2f}"]
        for m in models:
            e = results["models"][m]
            row += [f"{e['batch'][name]['median_s']:.3g}"] + [
                "1" if name == "FGSM" else _text(ratio(e[s][name], e[s]["FGSM"]))
                for s in ("batch", "batch1")]
        rows.append(row)
    row = [f"NJS beta_1 estimate, once per model ({config['njs_samples']} images), s", "—", "—"]
    for m in models:
        row += [f"{results['models'][m]['beta1_seconds']:.3g}", "", ""]
    rows.append(row)
    njs, hns = (ref[f"FGSM++ ({v})"] for v in ("NJS", "HNS"))
    row = ["FGSM++ HNS / FGSM++ NJS", "—", f"{hns / njs:.2f}"]
    for m in models:
        e = results["models"][m]
        row += [""] + [_text(ratio(e[s]["FGSM++ HNS"], e[s]["FGSM++ NJS"]))
                       for s in ("batch", "batch1")]
    rows.append(row)
    rule = _verdicts.load_rule(NAME)
    judged = _verdicts.judge(rule, estimates(results), {})
    why = judged["why"] + (" Not claims: " + "; ".join(rule.get("not_claims", [])) + "."
                           if rule.get("not_claims") else "")
    machine = results.get("machine", {})
    return _common.summary(
        title="Gupta & Ajanthan, Table 7 (cost of FGSM++ relative to FGSM, MNIST)",
        command=_command(config),
        paper_scale="CIFAR-10 ResNet-18 (which precision not stated), NVIDIA RTX 2080, batch "
                    "size 1, seconds per adversarial example",
        tfbnn_scale=f"MNIST CleverHans CNN(s) {', '.join(models)} k1={config['k1']}, "
                    f"{config['epochs']} epochs, {machine.get('cpus', '?')} CPU cores "
                    f"({machine.get('processor') or machine.get('machine', '?')}, TensorFlow "
                    f"{machine.get('tensorflow', '?')}), L-inf eps {config['eps']}, wall-clock "
                    f"median of {config['repeats']} repeats of one batch of {config['n']} test "
                    f"images and of {config['batch1_repeats']} repeats over {config['batch1_n']} "
                    f"single images, after {config['warmup']} warm-up run(s); a ratio's ± is "
                    "its standard error from the spread of the repeats (see the rule's "
                    "estimates)",
        table=_common.markdown_table(header, rows), verdict=judged["verdict"], why=why)


def _text(estimate: _verdicts.Estimate) -> str:
    """A ratio with its standard error (``± se``), or alone when it has none."""
    if estimate.se == 0:
        return f"{estimate.mean:.2f}"
    return f"{estimate.mean:.2f} ± {estimate.se:.2f}"


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``); nothing is
    timed, and the tutorial draws no figure."""
    return summarize(results)


def main(config: dict) -> dict:
    run = _common.Run(config, DEFAULT, FULL)
    config, results, models = run.config, run.results, run.section("models")
    results.setdefault("machine", {"cpus": os.cpu_count(), "processor": platform.processor(),
                                   "machine": platform.machine(), "tensorflow": tf.__version__})
    x_test, y_test = mnist_test()
    settings = {"batch": (config["n"], config["n"], config["repeats"]),
                "batch1": (config["batch1_n"], 1, config["batch1_repeats"])}
    for variant in config["models"]:
        spec = _zoo.model_spec(variant, config)
        model_fn, info = _zoo.classifier(spec)
        entry = run.entry(models, variant, spec, {"model": info["spec"]})
        samples = x_test[: config["njs_samples"]]
        run.step(entry, "beta1", lambda: float(temperature.njs_beta1(model_fn, samples)))
        run.step(entry, "beta1_seconds",
                 lambda: time_beta1(model_fn, samples, config["batch1_repeats"]))
        table = attack_table(config, entry["beta1"])
        for setting, (count, batch, repeats) in settings.items():
            rows = entry.setdefault(setting, {})
            x, y = x_test[:count], y_test[:count]
            for name, attack in table.items():
                run.step(rows, name, lambda: _median(time_attack(
                    attack, model_fn, x, y, batch, repeats, config["warmup"])),
                    say=lambda row: f"{variant} {setting:6s} {name:36s} {row['median_s']:.3g} "
                                    "s/example")
    return run.finish(resummarize(results, run.out))


def _median(times: list) -> dict:
    return {"median_s": float(np.median(times)), "times_s": times}


if __name__ == "__main__":
    main(_common.cli(__doc__, {**FULL, "full": True}, ("models", "k1", "epochs", "out"),
                     repeats=dict(type=int, help="timing repeats")))
