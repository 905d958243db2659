"""FGSM and PGD against FGSM++ and PGD++ on CIFAR-100 REF networks: Table 9.

Gupta & Ajanthan, "Improved Gradient based Adversarial Attacks for Quantized Networks"
(AAAI 2022), Appendix C.3, Table 9: adversarial accuracy of floating-point (REF)
ResNet-18, VGG-16, ResNet-50 and DenseNet-121 on the CIFAR-100 test set under FGSM,
L-inf PGD and L2 PGD and their temperature-scaled versions FGSM++ / PGD++ (NJS and HNS),
at the paper's CIFAR-100 parameters (its Table 6, in pixels of the [0, 255] scale, here
divided by 255): FGSM and FGSM++ at eps 4; L-inf PGD and PGD++ at eps 4, step 1, 10
iterations; L2 PGD and PGD++ at eps 60, step 15, 10 iterations; one random start (the
paper's, ``rand_init="paper"``, for L-inf), HNS on the paper's linear grid of 100 betas,
NJS with rho 0.01, attack seed 0: the attacks of `gupta2022_cifar_attack_strength.py`
(its `settings`, `measure`, `ensemble` and `logit_scale` are reused) at Table 6's
CIFAR-100 row. Beside them, as in every CIFAR tutorial: tfbnn's answer
(`tfbnn.evaluation.evaluate`, ``version="standard"``, at L-inf 4/255, its worst case per
example joined with every L-inf attack above), an eps sweep (L-inf 1 and 2 /255 beside
the table's 4, same step/eps ratio, for PGD and both PGD++) and the logit scale.

Data: `tfbnn.data.load_cifar100` (fine labels, 100 classes), which reads
``TFBNN_CIFAR100_PATH`` (the official ``cifar-100-python.tar.gz``, its extracted
``cifar-100-python/`` directory, or an ``.npz`` with x_train/y_train/x_test/y_test), else
the Keras cache (``$KERAS_HOME/datasets``, ``~/.keras/datasets``,
``/tmp/.keras/datasets``), else the Keras download when ``download`` is on. There is no
CIFAR-100 stand-in: where none of these has the data (this project's offline machines),
the tutorial trains and attacks nothing, writes every row as "not run: no data" with
the list of places looked, and reads "not comparable" (no data), never a stand-in
number.

Networks: REF ResNet-18 and VGG-16 with a 100-class head (`tfbnn.models.cifar`'s
``num_classes=100``), trained the authors' way (`tfbnn.training.cifar_recipe`: Adam 1e-3,
batch 128, the stepped learning rate, seeded crop-and-flip) through the shared model cache
(`_zoo.cifar_spec` with ``dataset="cifar100"``, `_zoo.trained_model`: cached under
``cifar100-...`` keys, checkpointed every epoch so a killed training resumes).

The verdict applies paper_numbers/rules/gupta2022_cifar100.json (`_verdicts`): on each
REF network the better FGSM++ leaves a lower accuracy than FGSM, the better L-inf PGD++
than L-inf PGD and the better L2 PGD++ than L2 PGD, beyond two standard errors (the
binomial noise of the n images); pairs at 0 % on both sides are saturated and count for
nothing.

Scale. Paper: full-width networks on the official CIFAR-100 (50,000 training images),
trained as its CIFAR-10 networks (100,000 iterations), the whole test set. Default here
(2 CPU cores): width 0.25, 10 epochs, training seed 1234, n = 250 test images. Estimate
once the two networks are trained (about 10-20 minutes each for 10 epochs of 50,000
images, from `gupta2022_cifar_models.py`'s 4-8 minutes for 20,000), from
`gupta2022_cifar_attack_strength.py`'s timing of one batch of 50 images of untrained
width-0.25 networks (one PGD-20 0.9-2.5 s): the attacks here take 10 iterations, half
of theirs, and the 15 attack runs per network come to about 1.2 s per image for the
two networks, 5 minutes for 250 images, plus the ensemble (about 3 minutes if few
survive) and tracing: about 10 minutes. ``--full``: full width, the authors' 100,000
iterations, the whole test set (GPU work), and the paper's ResNet-50 and DenseNet-121
rows, which tfbnn does not build: listed as "not run: network not built in tfbnn".
On this machine (no CIFAR-100) the run takes seconds and writes "not run: no data".

    python tutorials/gupta2022_cifar100.py [--full] [--n 250] [--seed 1234]
"""

from __future__ import annotations


import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)

import _common
import _verdicts
import _zoo
import gupta2022_cifar_attack_strength as strength
from _common import RESULTS, markdown_table, paper
from tfbnn import checks, data
from tfbnn.evaluation.catalog import VERSIONS

NAME = RULE = "gupta2022_cifar100"
TITLES = strength.TITLES
NOT_BUILT = strength.NOT_BUILT
NOT_BUILT_TEXT = strength.NOT_RUN
NO_DATA = "not run: no data"
TITLE = "CIFAR-100"
CLASSES = 100
ENV = "TFBNN_CIFAR100_PATH"

DEFAULT = {"architectures": ["resnet18", "vgg16"], "width": 0.25, "epochs": 10,
           "iterations": None, "seed": 1234, "n": 250, "batch": 250, "iters": 10,
           "attack_seed": 0, "linf_eps": 4, "linf_step": 1, "l2_eps": 60, "l2_step": 15,
           "sweep": [1, 2], "ensemble": "standard", "ensemble_iters": None,
           "download": True, "out": str(RESULTS / f"{NAME}.json")}
"""Radii and steps in pixels of the [0, 255] scale (Table 6's CIFAR-100 row; FGSM at
``linf_eps``, as Table 6); ``seed``: the networks' training seed; ``attack_seed``: the
attacks' random starts; ``download``: let `tfbnn.data.load_cifar100` try the Keras
download when the data are nowhere local."""
FULL = {"width": 1.0, "iterations": 100_000, "n": 10_000,
        "architectures": ["resnet18", "vgg16", "resnet50", "densenet121"]}

LINF, L2, SWEEP = strength.LINF, strength.L2, strength.SWEEP
PAPER_COLUMNS = strength.PAPER_COLUMNS
"""tfbnn's attack names -> Table 9's columns (those of Tables 2 and 3)."""


def check_config(config: dict) -> None:
    """Refuse a config that cannot run, before any data are read or networks trained."""
    checks.check_choices("architectures", config["architectures"], TITLES,
                         hint=" (The paper's Table 9.)")
    checks.check_int("n", config["n"], 1, hint=" Pass --n with a positive count of images.")
    checks.check_int("batch", config["batch"], 1)
    checks.check_int("iters", config["iters"], 1, hint=" Table 6 (CIFAR-100): 10.")
    checks.check_int("seed", config["seed"], 0)
    checks.check_int("attack_seed", config["attack_seed"], 0)
    checks.check_int("epochs", config["epochs"], 1)
    checks.check_int("iterations", config["iterations"], 1, allow_none=True)
    checks.check_int("ensemble_iters", config["ensemble_iters"], 1, allow_none=True)
    checks.check_number("width", config["width"], positive=True)
    for name in ("linf_eps", "linf_step", "l2_eps", "l2_step"):
        checks.check_number(name, config[name], positive=True)
    for eps in config["sweep"]:
        checks.check_number("sweep", eps, positive=True)
    checks.check_choice("ensemble", config["ensemble"], VERSIONS)
    if not isinstance(config["download"], bool):
        raise ValueError(f"download={config['download']!r}: pass True (try the Keras "
                         "download when the data are nowhere local) or False.")


def load_data(config: dict):
    """``(((x_train, y_train), (x_test, y_test)), None)``, or ``(None, where)`` when
    `tfbnn.data.load_cifar100` finds CIFAR-100 nowhere: ``where`` is its message, which
    lists every place it looked and how to provide the data."""
    try:
        return data.load_cifar100(download=config["download"]), None
    except FileNotFoundError as err:
        return None, str(err)


def ref_spec(config: dict, architecture: str, train_images: int) -> dict:
    """The cache spec of the CIFAR-100 REF ``architecture`` at ``config``'s width,
    epochs (or iterations: the epochs that make them) and training seed."""
    epochs = config["epochs"]
    if config.get("iterations"):
        epochs = -(-config["iterations"] // -(-train_images // 128))
    return _zoo.cifar_spec(architecture, "REF", dataset="cifar100", width=config["width"],
                           epochs=int(epochs), seed=config["seed"])


def main(config: dict) -> dict:
    run = _common.Run(config, DEFAULT, FULL, name=NAME)
    config = run.config
    check_config(config)
    loaded, missing = load_data(config)
    results = run.results
    for stale in ("no_data", "not_run"):  # a resumed run may find data it lacked before
        results.pop(stale, None)
    not_run = run.section("not_run")
    if loaded is None:
        results.update({"data": None, "no_data": missing})
        for architecture in config["architectures"]:
            not_run[architecture] = NO_DATA
        return run.finish(resummarize(results, run.out))
    (x_train, y_train), (x_test, y_test) = loaded
    x, y, drawn = data.first_examples(np.asarray(x_test, np.float32),
                                      np.asarray(y_test).astype(np.int64), config["n"])
    results.update({"data": TITLE, "n": len(x), "drawn": drawn})
    models_done = run.section("models")
    attack_config = {**config, "seed": config["attack_seed"]}
    for architecture in config["architectures"]:
        if architecture in NOT_BUILT:
            not_run[architecture] = NOT_BUILT_TEXT
            continue
        spec = ref_spec(config, architecture, len(x_train))
        model, info = _zoo.trained_model(spec)
        model_fn = lambda t, model=model: model(t, training=False)  # noqa: E731
        clean = _common.correct(model_fn, x, y)
        run.entry(models_done, architecture, spec, {
            "key": info["key"], "clean_accuracy": float(clean.mean()),
            "test_accuracy": info["test_accuracy"], "iterations": info["iterations"],
            "train_images": info["train_images"],
            "logits": strength.logit_scale(model_fn, x), "settings": {}})
        entry = models_done[architecture]
        label = f"{TITLES[architecture]} REF"
        for key, table in strength.settings(attack_config):
            setting = entry["settings"].setdefault(key, {"attacks": {}})
            for name, attack in table.items():
                run.step(setting["attacks"], name, lambda: strength.measure(
                    attack, model_fn, x, y, clean, config["batch"]),
                    say=lambda r: f"{label} {key:15s} {name:13s} acc {r['accuracy']:.3f}")
        result = run.step(entry, "ensemble", lambda: strength.ensemble(
            model, x, y, attack_config),
            say=lambda r: f"{label} ensemble ({r['version']}) acc {r['accuracy']:.3f}")
        worst = np.array(result["robust"], bool)
        linf = entry["settings"][strength.setting_key("linf", config["linf_eps"])]
        for row in linf["attacks"].values():
            worst &= np.array(row["robust"], bool)
        entry["worst_case_accuracy"] = float(worst.mean())
        run.save()
    return run.finish(resummarize(results, run.out))


def estimates(results: dict) -> dict:
    """``"<network> REF <setting> <attack>"`` (``"ResNet-18 REF linf eps=4/255 PGD++
    NJS"``) -> accuracy (%) over the n test images, a `_verdicts.Estimate` with their
    binomial noise (one training seed, one attack seed: no spread over runs known)."""
    n = results.get("n", results["config"]["n"])
    ours = {}
    for architecture, entry in results.get("models", {}).items():
        for key, setting in entry["settings"].items():
            for name, measured in setting["attacks"].items():
                ours[f"{TITLES[architecture]} REF {key} {name}"] = _verdicts.Estimate(
                    100 * measured["accuracy"], n=n)
    return ours


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _tables(results: dict) -> list[str]:
    """Table 9 beside tfbnn's rows (or "not run"), the sweep and the logit scale."""
    cfg = results["config"]
    linf, l2 = (strength.setting_key("linf", cfg["linf_eps"]),
                strength.setting_key("l2", cfg["l2_eps"]))
    table9 = paper("gupta2022_table9")
    header = (["network", "source", "clean %"] + list(LINF) + list(L2)
              + ["worst case (these attacks)",
                 f"worst case with evaluate --version {cfg['ensemble']}"])
    rows, sweep_rows, scale_rows = [], [], []
    models_done, not_run = results.get("models", {}), results.get("not_run", {})
    for architecture in cfg["architectures"]:
        network = TITLES[architecture]
        printed = table9["rows"].get(network)
        if printed:
            cells = dict(zip(table9["columns"], printed))
            rows.append([network, "paper", "—"]
                        + [f"{cells[PAPER_COLUMNS[a]]:.2f}" for a in LINF + L2]
                        + [f"{min(cells[PAPER_COLUMNS[a]] for a in LINF):.2f} (its best "
                           "attack)", "—"])
        entry = models_done.get(architecture)
        if entry is None:
            why = not_run.get(architecture, "not run")
            rows.append([network, "tfbnn", why] + ["—"] * (len(header) - 3))
            continue

        def attack(key, name, entry=entry):
            return _pct(entry["settings"].get(key, {}).get("attacks", {}).get(name, {})
                        .get("accuracy"))

        rows.append([network, f"tfbnn, seed {cfg['seed']}", _pct(entry["clean_accuracy"])]
                    + [attack(linf, a) for a in LINF] + [attack(l2, a) for a in L2]
                    + [_pct(entry.get("worst_case_accuracy")),
                       _pct(entry.get("ensemble", {}).get("accuracy"))])
        for eps in sorted(list(cfg["sweep"]) + [cfg["linf_eps"]]):
            key = strength.setting_key("linf", eps)
            sweep_rows.append([network, f"{eps:g}/255"] + [attack(key, a) for a in SWEEP])
        scale_rows.append([network, _pct(entry["test_accuracy"]),
                           f"{entry['logits']['mean_abs_logit']:.3g}",
                           f"{entry['logits']['mean_margin']:.3g}"])
    lines = [f"Table 9 (REF networks) at the paper's CIFAR-100 parameters (FGSM and L-inf "
             f"{cfg['linf_eps']:g}/255, L2 {cfg['l2_eps']:g}/255); adversarial accuracy % "
             "(lower = stronger attack):", ""]
    lines += markdown_table(header, rows)
    if sweep_rows:
        lines += ["", "L-inf eps sweep (tfbnn only; Table 9 is at "
                  f"{cfg['linf_eps']:g}/255), accuracy %:", ""]
        lines += markdown_table(["network", "eps"] + list(SWEEP), sweep_rows)
        lines += ["", "Logit scale on the clean test images:", ""]
        lines += markdown_table(["network", "clean % (whole test split)", "mean abs logit",
                                 "mean top-1 minus top-2 margin"], scale_rows)
    return lines


def summarize(results: dict, plots: list | None = None) -> dict:
    """The section of docs/RESULTS.md: Table 9 beside tfbnn's numbers, and the verdict of
    the committed rule (`RULE`), "not comparable" when there were no data."""
    cfg = results["config"]
    rule = _verdicts.load_rule(RULE)
    not_built = "; ".join(f"{TITLES[a]}: {why}" for a, why in results.get("not_run", {}).items()
                          if why == NOT_BUILT_TEXT)
    if results.get("no_data"):
        verdict = _verdicts.NOT_COMPARABLE
        claims = "; ".join(c["claim"] for c in rule["checks"])
        reason = rule["not_comparable"]
        where = results["no_data"].replace(":\n  - ", ": ").replace("\n  - ", "; ")
        why = (f"{reason[0].upper()}{reason[1:]}: nothing was trained or attacked, and no "
               f"number stands in for tfbnn's. Where the data would be read from "
               f"(tfbnn.data.load_cifar100): {' '.join(where.split())} What the rule "
               f"compares once they are there: {claims}. "
               + _verdicts.explain(rule, [], verdict))
        scale = "no CIFAR-100 data: nothing measured"
    else:
        ours = estimates(results)
        judged = _verdicts.judge(rule, ours, {})
        verdict, why = judged["verdict"], judged["why"]
        finding = _verdicts.finding(rule, ours)
        if finding:
            why += " " + finding
        n = results.get("n", cfg["n"])
        entries = list(results.get("models", {}).values())
        iterations = sorted({e["iterations"] for e in entries})
        scale = (f"{TITLE} ({entries[0]['train_images'] if entries else '?':,} training "
                 f"images), width {cfg['width']:g}, "
                 f"{', '.join(f'{i:,}' for i in iterations)} training iterations at batch "
                 f"128, training seed {cfg['seed']} (one network per row, so no ± is "
                 f"printed; the verdict takes each cell's noise as the binomial standard "
                 f"error of {n} images); {n} test images"
                 + (" (a seeded draw: the split is ordered by class)"
                    if results.get("drawn") else "")
                 + f"; attacks at Table 6's CIFAR-100 parameters ({cfg['iters']} iterations, "
                   f"L-inf eps {cfg['linf_eps']:g}/255 step {cfg['linf_step']:g}/255, L2 eps "
                   f"{cfg['l2_eps']:g}/255 step {cfg['l2_step']:g}/255), one random start, "
                   f"attack seed {cfg['attack_seed']}; accuracy % over all the images")
    if not_built:
        why += f" Not run: {not_built}."
    return _common.summary(
        title="Gupta & Ajanthan, Table 9 (CIFAR-100 REF networks): FGSM/PGD vs "
              "FGSM++/PGD++",
        command=_common.command(NAME, cfg, DEFAULT, FULL),
        paper_scale="the official CIFAR-100, full-width REF ResNet-18, VGG-16, ResNet-50 "
                    "and DenseNet-121; attacks at its Table 6 parameters (FGSM eps 4; PGD "
                    "L-inf eps 4 step 1, L2 eps 60 step 15, 10 iterations), one random "
                    "start, on the test set; one number per cell, no spread",
        tfbnn_scale=scale, table=_tables(results), verdict=verdict, why=why, plots=plots)


def plot(results: dict, out) -> list:
    """Accuracy against the L-inf radius for PGD and both PGD++ per network, Table 9's
    numbers at its radius as markers: ``STEM.png`` (none without data)."""
    models_done = results.get("models") or {}
    if not models_done or out is None:
        return []
    cfg = results["config"]
    table9 = paper("gupta2022_table9")
    radii = sorted(set(cfg["sweep"]) | {cfg["linf_eps"]})
    plt = _common.pyplot()
    fig, axes = plt.subplots(1, len(models_done), figsize=(4 * len(models_done), 3.2),
                             squeeze=False)
    for ax, (architecture, entry) in zip(axes.flat, models_done.items()):
        printed = dict(zip(table9["columns"], table9["rows"].get(TITLES[architecture], [])))
        for i, name in enumerate(SWEEP):
            points = [(eps, entry["settings"].get(strength.setting_key("linf", eps), {})
                       .get("attacks", {}).get(name)) for eps in radii]
            points = [(eps, 100 * r["accuracy"]) for eps, r in points if r]
            if points:
                ax.plot(*zip(*points), marker="o", color=f"C{i}", label=f"tfbnn {name}")
            if PAPER_COLUMNS[name] in printed:
                ax.plot([cfg["linf_eps"]], [printed[PAPER_COLUMNS[name]]], marker="x",
                        markersize=9, linestyle="none", color=f"C{i}", label=f"paper {name}")
        ax.set(title=f"{TITLES[architecture]} REF, CIFAR-100", xlabel="L-inf eps (/255)",
               ylabel="accuracy (%)", ylim=(-2, 100), xscale="log", xticks=radii)
        ax.set_xticklabels([f"{r:g}" for r in radii])
        ax.legend(fontsize=6)
    return [_common.save_figure(fig, out)]


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``), the plot
    redrawn beside ``out`` from the stored numbers (none without data)."""
    return summarize(results, plot(results, out))


if __name__ == "__main__":
    main(_common.cli(__doc__, FULL, ("n", "seed", "epochs", "out", "width", "iterations"),
                     architectures=dict(nargs="+", help=" ".join(TITLES)),
                     iters=dict(type=int, help="attack iterations (Table 6: 10)"),
                     sweep=dict(type=float, nargs="+", help="extra L-inf radii, pixels")))
