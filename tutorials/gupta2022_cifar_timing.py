"""Cost of FGSM++ (NJS, HNS) relative to FGSM on the CIFAR-10 ResNet-18s (Table 7).

Gupta & Ajanthan, "Improved Gradient based Adversarial Attacks for Quantized Networks"
(AAAI 2022), Appendix C.1, Table 7: seconds to generate one adversarial example with
FGSM (0.01492 s), FGSM++ NJS (0.01604 s, 1.08x FGSM) and FGSM++ HNS (0.0932 s, 6.25x) on
a CIFAR-10 ResNet-18, on an NVIDIA RTX 2080 at batch size 1. Seconds belong to the
hardware; what compares across machines is the ratio to FGSM measured on one machine,
which is what the verdict uses. The paper does not say which ResNet-18 it timed, so
all three are timed and judged: REF, BNN-WQ (MD-tanh-S) and BNN-WAQ, the networks of
`gupta2022_cifar_models.py` (same specs through `gupta2022_cifar_models.spec_for`, so
the cached networks are shared; trained here the same way if not cached yet).

The timing code is the MNIST tutorial's (`gupta2022_timing.py`: `time_attack`,
`time_beta1`, `ratio`, its attack table): wall clock per adversarial example, the
median of ``repeats`` timed runs after ``warmup`` untimed runs (the first traces the
attack's graph), every repeat saved; at the paper's batch size 1 (the first
``batch1_n`` test images one at a time) and on one batch of ``n`` images. FGSM at L-inf
8/255 (the paper's Table 6), FGSM++ NJS with ``beta_1`` estimated once per network from
100 test images beforehand (the paper's App. C.1; that one-off cost is timed
separately and is not in Table 7), FGSM++ HNS on the paper's linear grid of 100 betas.

The verdict applies paper_numbers/rules/gupta2022_cifar_timing.json (`_verdicts`), at
batch size 1 on each network: FGSM++ NJS costs between 0.67 and 1.5 FGSMs (the paper
1.08) and FGSM++ HNS between 3.1 and 12.4 FGSMs (the paper 6.25, within a factor of 2),
each ratio's whole two-standard-error band inside (its noise from the spread of the
timed repeats); the one-batch ratios are a finding beside it. The rule's text says why
those tolerances.

Scale. Paper: full-width ResNet-18, RTX 2080 GPU. Default here: the width-0.25
ResNet-18s (10 epochs on the CIFAR-10 JPEG stand-in, seed 1234), the 2 CPU cores of this
machine (shared with other jobs: the load average is recorded at start and end), 3
timed repeats over 20 single images and 5 of one batch of 100, after one warm-up run.
Measured time of the default once the networks were cached: 139 s (2026-12-05, loading
and tracing included, on the 2 CPU cores shared with two other jobs). Earlier estimate,
from timing untrained width-0.25 ResNet-18s (REF and BNN-WAQ) here, 2 repeats after one
warm-up, with a load average of 15 on the 2 cores (so the seconds are inflated and noisy:
the same FGSM call took 0.03-0.4 s): batch 1, FGSM and FGSM++ NJS 0.03-0.3 s, FGSM++ HNS
0.1-0.3 s per image; one batch of 100, FGSM 0.2-1.3 s, NJS 0.4-3.4 s, HNS 1.8-4.6 s; the
NJS beta_1 estimate 8-12 s (its first call, tracing included). Per network about 45 s at
batch 1 (20 images x 4 runs x 3 attacks), 40 s for the batch (6 runs x 3 attacks) and 40
s for beta_1 (4 estimates): about 2 minutes, with loading and tracing about 8 minutes for
the three. ``--full``: full width, the authors' 100,000 training iterations, 10 repeats
and 100 single images (the widths only change the seconds; the network must be trained at
that width first: GPU work). Results are written after every timed attack, so a killed
run resumes.

    python tutorials/gupta2022_cifar_timing.py [--full] [--variants REF WQ-MD WAQ]
"""

from __future__ import annotations

import os
import platform

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import tensorflow as tf

import _common
import _verdicts
import _zoo
import gupta2022_cifar_attack_strength as strength
import gupta2022_cifar_models as cifar_models
import gupta2022_timing as timing
from tfbnn import checks, temperature

NAME = RULE = "gupta2022_cifar_timing"
TITLES = {"resnet18": "ResNet-18", "vgg16": "VGG-16"}
ROWS = {"REF": "REF", "WQ-MD": "BNN-WQ", "WAQ": "BNN-WAQ"}
DEFAULT = {"architecture": "resnet18", "variants": ["REF", "WQ-MD", "WAQ"], "width": 0.25,
           "epochs": 10, "iterations": None, "seed": 1234, "n": 100, "batch1_n": 20,
           "repeats": 5, "batch1_repeats": 3, "warmup": 1, "eps": 8, "njs_samples": 100,
           "out": str(_common.RESULTS / f"{NAME}.json")}
"""``eps`` in pixels of the [0, 255] scale (Table 6: 8); ``seed``: the networks' training
seed; ``architecture``: the paper times ResNet-18 (VGG-16 is allowed for other uses)."""
FULL = {"width": 1.0, "iterations": 100_000, "repeats": 10, "batch1_n": 100}
ATTACKS = ("FGSM", "FGSM++ NJS", "FGSM++ HNS")
PAPER_ATTACKS = timing.PAPER_ATTACKS
SETTINGS = timing.SETTINGS
"""Stored timing setting -> its name in the rule's cells: batch 1, one batch."""


def check_config(config: dict) -> None:
    """Refuse a config that cannot run, before any network is trained or timed."""
    checks.check_choice("architecture", config["architecture"], TITLES,
                        hint=" (Table 7 times resnet18.)")
    checks.check_choices("variants", config["variants"], ROWS)
    for name in ("n", "batch1_n", "repeats", "batch1_repeats", "njs_samples"):
        checks.check_int(name, config[name], 1)
    checks.check_int("warmup", config["warmup"], 0)
    checks.check_int("seed", config["seed"], 0)
    checks.check_number("eps", config["eps"], positive=True)


def network_name(config: dict, variant: str) -> str:
    """``"ResNet-18 BNN-WQ"``: a timed network as the rule's cells name it."""
    return f"{TITLES[config['architecture']]} {ROWS[variant]}"


def _load() -> list:
    return [round(v, 2) for v in os.getloadavg()]


def main(config: dict) -> dict:
    run = _common.Run(config, DEFAULT, FULL, name=NAME)
    config, results = run.config, run.results
    check_config(config)
    results.setdefault("machine", {"cpus": os.cpu_count(), "processor": platform.processor(),
                                   "machine": platform.machine(),
                                   "tensorflow": tf.__version__,
                                   "gpus": len(tf.config.list_physical_devices("GPU"))})
    results["machine"].setdefault("load_average_start", _load())
    title, train_images = cifar_models.training_set()
    x_test, y_test, drawn = strength.cifar_test(
        max(config["n"], config["batch1_n"], config["njs_samples"]))
    results.update({"data": title, "drawn": drawn})
    models = run.section("models")
    settings = {"batch": (config["n"], config["n"], config["repeats"]),
                "batch1": (config["batch1_n"], 1, config["batch1_repeats"])}
    attack_config = {"eps": config["eps"] / 255, "iters": 1,
                     "njs_samples": config["njs_samples"]}
    for variant in config["variants"]:
        spec = cifar_models.spec_for(config, config["architecture"], variant, train_images)
        model, info = _zoo.trained_model(spec)
        model_fn = lambda t, model=model: model(t, training=False)  # noqa: E731
        label = network_name(config, variant)
        entry = run.entry(models, label, spec, {"key": info["key"], "data": info["data"],
                                                "test_accuracy": info["test_accuracy"],
                                                "iterations": info["iterations"]})
        samples = x_test[: config["njs_samples"]]
        run.step(entry, "beta1", lambda: float(temperature.njs_beta1(model_fn, samples)))
        run.step(entry, "beta1_seconds",
                 lambda: timing.time_beta1(model_fn, samples, config["batch1_repeats"]))
        table = timing.attack_table(attack_config, entry["beta1"])
        for setting, (count, batch, repeats) in settings.items():
            rows = entry.setdefault(setting, {})
            x, y = x_test[:count], y_test[:count]
            for name in ATTACKS:
                run.step(rows, name, lambda: timing._median(timing.time_attack(
                    table[name], model_fn, x, y, batch, repeats, config["warmup"])),
                    say=lambda row: f"{label} {setting:6s} {name:11s} "
                                    f"{row['median_s']:.3g} s/example")
    results["machine"]["load_average_end"] = _load()
    return run.finish(resummarize(results, run.out))


def estimates(results: dict) -> dict:
    """Cell name -> `_verdicts.Estimate` (a ratio, scale 1, with the standard error its
    repeats give it, `gupta2022_timing.ratio`): ``"<network> <attack> / FGSM, <setting>"``
    for FGSM++ NJS and HNS, and ``"<network> FGSM++ HNS / FGSM++ NJS, <setting>"``, in
    both `SETTINGS` (``"batch 1"``, ``"one batch"``)."""
    ours = {}
    for network, entry in results["models"].items():
        for setting, label in SETTINGS.items():
            rows = entry.get(setting, {})
            for a, b in (("FGSM++ NJS", "FGSM"), ("FGSM++ HNS", "FGSM"),
                         ("FGSM++ HNS", "FGSM++ NJS")):
                if a in rows and b in rows:
                    ours[f"{network} {a} / {b}, {label}"] = timing.ratio(rows[a], rows[b])
    return ours


def summarize(results: dict, plots: list | None = None) -> dict:
    """The section of docs/RESULTS.md: Table 7's seconds and ratios beside tfbnn's, and the
    verdict of the committed rule (`RULE`)."""
    config = {**DEFAULT, **results["config"]}
    table7 = _common.paper("gupta2022_table7")
    ref = dict(zip(table7["columns"], table7["rows"]["seconds per adversarial sample"]))
    networks = [network_name(config, v) for v in config["variants"]
                if network_name(config, v) in results["models"]]
    header = ["attack", "paper s/example (RTX 2080, batch 1)", "paper ratio to FGSM"]
    for network in networks:
        header += [f"{network} s/example (batch 1)", f"{network} ratio (batch 1)",
                   f"{network} ratio (batch {config['n']})"]
    rows = []
    for name in ATTACKS:
        seconds = ref.get(PAPER_ATTACKS[name])
        row = [name, f"{seconds:.4g}", f"{seconds / ref['FGSM']:.2f}"]
        for network in networks:
            entry = results["models"][network]
            batch1 = entry.get("batch1", {}).get(name)
            row += ["—" if batch1 is None else f"{batch1['median_s']:.3g}"]
            for setting in ("batch1", "batch"):
                timed = entry.get(setting, {})
                row.append("1" if name == "FGSM" and name in timed else
                           timing._text(timing.ratio(timed[name], timed["FGSM"]))
                           if name in timed and "FGSM" in timed else "—")
        rows.append(row)
    row = [f"NJS beta_1 estimate, once per network ({config['njs_samples']} images), s",
           "—", "—"]
    for network in networks:
        seconds = results["models"][network].get("beta1_seconds")
        row += ["—" if seconds is None else f"{seconds:.3g}", "", ""]
    rows.append(row)
    rule = _verdicts.load_rule(RULE)
    ours = estimates(results)
    judged = _verdicts.judge(rule, ours, {})
    why = judged["why"]
    finding = _verdicts.finding(rule, ours)
    if finding:
        why += " " + finding
    if rule.get("not_claims"):
        why += " Not claims: " + "; ".join(rule["not_claims"]) + "."
    machine = results.get("machine", {})
    load = (f"load average {machine['load_average_start'][0]:g} at the start and "
            f"{machine.get('load_average_end', ['?'])[0]} at the end (1 minute)"
            if "load_average_start" in machine else "load not recorded")
    entries = [results["models"][network] for network in networks]
    iterations = sorted({e["iterations"] for e in entries})
    data_title = results.get("data") or (entries[0]["data"] if entries else "CIFAR-10")
    return _common.summary(
        title=f"Gupta & Ajanthan, Table 7 (cost of FGSM++ relative to FGSM) on {data_title} "
              f"{TITLES[config['architecture']]}",
        command=_common.command(NAME, config, DEFAULT, FULL),
        paper_scale="full-width CIFAR-10 ResNet-18 (which of REF, BNN-WQ, BNN-WAQ not "
                    "stated), NVIDIA GeForce RTX 2080, batch size 1, seconds per "
                    "adversarial example; HNS a sequential 100-point grid search",
        tfbnn_scale=(f"{data_title} {TITLES[config['architecture']]} width "
                     f"{config['width']:g}, {', '.join(f'{i:,}' for i in iterations)} "
                     f"training iterations, seed {config['seed']}; "
                     f"{machine.get('cpus', '?')} CPU cores "
                     f"({machine.get('processor') or machine.get('machine', '?')}, "
                     f"{machine.get('gpus', 0)} GPUs, TensorFlow "
                     f"{machine.get('tensorflow', '?')}; {load}); L-inf eps "
                     f"{config['eps']:g}/255; wall-clock median of {config['batch1_repeats']} "
                     f"repeats over {config['batch1_n']} single images and of "
                     f"{config['repeats']} repeats of one batch of {config['n']} test images, "
                     f"after {config['warmup']} warm-up run(s); a ratio's ± is its standard "
                     "error from the spread of the repeats (the rule's estimates)"),
        table=_common.markdown_table(header, rows), verdict=judged["verdict"], why=why,
        plots=plots)


def plot(results: dict, out) -> list:
    """FGSM++ NJS and HNS over FGSM per network, at batch 1 and on one batch, with the
    paper's ratios and the rule's bands: ``STEM.png``."""
    config = {**DEFAULT, **results["config"]}
    networks = [n for n in results["models"] if results["models"][n].get("batch1")]
    if not networks or out is None:
        return []
    table7 = _common.paper("gupta2022_table7")
    ref = dict(zip(table7["columns"], table7["rows"]["seconds per adversarial sample"]))
    bands = {c["a"].split(" / ")[0].replace("{network} ", ""): (c["low"], c["high"])
             for c in _verdicts.load_rule(RULE)["checks"]}
    plt = _common.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, attack in zip(axes, ("FGSM++ NJS", "FGSM++ HNS")):
        for j, (setting, label) in enumerate(SETTINGS.items()):
            values = [results["models"][n].get(setting, {}) for n in networks]
            ratios = [timing.ratio(v[attack], v["FGSM"]) if attack in v and "FGSM" in v
                      else None for v in values]
            ax.bar([i + (j - 0.5) * 0.4 for i in range(len(networks))],
                   [np.nan if r is None else r.mean for r in ratios], 0.4,
                   yerr=[0 if r is None else 2 * r.se for r in ratios], color=f"C{j}",
                   label=label if label == "batch 1" else f"batch {config['n']}")
        ax.axhline(ref[PAPER_ATTACKS[attack]] / ref["FGSM"], color="k", linestyle="--",
                   label="paper (RTX 2080, batch 1)")
        if attack in bands:
            ax.axhspan(*bands[attack], color="0.9", zorder=0, label="rule's band")
        ax.set_xticks(range(len(networks)), [n.replace(" ", "\n", 1) for n in networks],
                      fontsize=7)
        ax.set(ylabel=f"{attack} / FGSM (time per example)", title=attack)
        ax.legend(fontsize=6)
    return [_common.save_figure(fig, out)]


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``), the plot
    redrawn beside ``out``; nothing is timed."""
    return summarize(results, plot(results, out))


if __name__ == "__main__":
    main(_common.cli(__doc__, FULL, ("seed", "epochs", "n", "out", "width", "iterations"),
                     architecture=dict(help="resnet18 (the paper's) or vgg16"),
                     variants=dict(nargs="+", help=" ".join(ROWS)),
                     repeats=dict(type=int, help="timed repeats of one batch"),
                     batch1_repeats=dict(type=int, help="timed repeats at batch size 1")))
