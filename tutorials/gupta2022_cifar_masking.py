"""Do the CIFAR-10 BNNs look robust to PGD, and is it gradient masking? Table 1 and Figure 1.

Gupta & Ajanthan, "Improved Gradient based Adversarial Attacks for Quantized Networks"
(AAAI 2022), in the paper's own setting: ResNet-18 and VGG-16 on CIFAR-10 as REF (full
precision), BNN-WQ (binary weights, MD-tanh-S, as Table 1 says) and BNN-WAQ (binary
weights and activations). The networks are those of `gupta2022_cifar_models.py`, built
through the same specs (`gupta2022_cifar_models.spec_for`, `_zoo.trained_model`), so all
the CIFAR tutorials share them; their clean accuracy on the whole test split is the one
that tutorial measured (read back from the model cache's info, not measured again).

- Table 1: L-inf PGD at eps 8/255, step 2/255, 20 iterations, the paper's random start
  (``rand_init="paper"``, as in `gupta2022_cifar_attack_strength.py`, so that Adv.(1)
  is the PGD column of Tables 2 and 3, as in the paper), with 1 and 20 random restarts.
  Restart r starts from attack seed + r and runs only on the images every earlier
  restart left correctly classified: the same per-example worst case as running all
  twenty on every image (an image counts as broken as soon as one restart fools the
  model), at a fraction of the cost where few survive; Adv.(20) <= Adv.(1) by
  construction. The paper: BNNs keep a far higher PGD accuracy than REF, even with 20
  restarts.
- Figure 1, the gradient-masking checks of Athalye, Carlini & Wagner (2018), run by
  `tfbnn.evaluation.diagnostics` as in the MNIST tutorial `gupta2022_masking_checks.py`
  (its `_transfer` and `BOX` are reused), on the images each BNN classifies correctly:
  (a) accuracy against PGD iterations (FGSM for 1, then PGD 5, 10, 20, 50, 100 with the
  catalog's step 2.5 eps / T and uniform start); (b) accuracy against the radius (PGD-20
  at eps/4 ... 4 eps and the whole input range); (c) black-box against white-box PGD-20.
  The black box is the paper's own: PGD crafted on "the analogous floating point
  network trained on the same dataset" (its REF of the same architecture, trained here
  by the same recipe on the same images) and transferred to the BNN. No stand-in is
  needed, so none is used for the verdict. A score-based black box is reported beside
  it: Square (Andriushchenko et al.), the last stage of `tfbnn.evaluation.evaluate`'s
  ``standard`` version below, which queries only the BNN's outputs; the images only
  Square broke after every gradient attack of the cascade are counted (a gradient-free
  attack succeeding where gradients failed is Athalye et al.'s other black-box sign).
  The paper: (a) and (c) show signs of gradient masking on ResNet-18 (and (c) on VGG-16),
  (b) does not. (a) and (b) run on ResNet-18, the network of the paper's Figure 1
  (``--figure1 resnet18 vgg16`` adds VGG-16); (c) on every architecture run.
- Beside them: PGD++ NJS and HNS (one start, the paper's parameters, as Tables 2 and 3)
  at 8/255; tfbnn's answer, `tfbnn.evaluation.evaluate` with ``version="standard"`` at
  8/255 and the per-example worst case of it joined with PGD (all restarts) and both
  PGD++; an eps sweep, L-inf 1, 2 and 4 /255 (step eps/4, 20 iterations) for PGD and
  both PGD++, where 8/255 may leave every attack at 0 % (saturated); and each network's
  logit scale (`gupta2022_cifar_attack_strength.logit_scale`).

The verdict applies paper_numbers/rules/gupta2022_cifar_masking.json (`_verdicts`): each
BNN's PGD accuracy exceeds its REF's at 1 and at 20 restarts; (a) the better of PGD-50
and PGD-100 leaves no less than PGD-20 minus 1 point; (b) PGD-20's accuracy falls from
eps to 4 eps and reaches about 0 at the whole input range; (c) the black-box PGD from REF
leaves less than white-box PGD. All beyond two binomial standard errors of the images
they are measured on; pairs at 0 % on both sides count for nothing (saturated), and a
run where everything saturates reads "not comparable".

Scale. Paper: full-width networks trained 100,000 iterations on the official CIFAR-10,
the whole test set (its size not stated). Default here (2 CPU cores): width 0.25, 10
epochs, training seed 1234 (the networks of `gupta2022_cifar_models.py`), on whatever
`tfbnn.data.load_cifar10` finds (here the JPEG stand-in, labelled "CIFAR-10 (JPEG
stand-in, 20k train)"), n = 150 test images (a seeded draw: the stand-in's split is
ordered by class). Measured time of the default once the six networks were cached: 702 s
(11.7 minutes, loading and tracing included; 2026-12-05, on the 2 CPU cores shared with
a training run beside it); the attacks' share grows with n (n = 250: an estimated 20
minutes). The cost is counted in PGD-20 runs over the n images: per BNN, Table 1's
PGD-20 plus the restarts on what survives, PGD++ 2.6, the sweep 10.8, the ensemble about
5 (APGD-CE's 100 iterations on the correctly classified images, its later stages on what
it leaves), Figure 1 about 19 on ResNet-18 ((a) 11.6, (b) 5.6, (c) 1.6) and 2 ((c) only)
on VGG-16; per REF about 19. The networks themselves, if not cached, take about 4-8
minutes each to train (`gupta2022_cifar_models.py`). ``--full``: full width, the
authors' 100,000 training iterations, the whole test set and Figure 1's (a) and (b) on
VGG-16 too (GPU work, the same code path). Results are written after every measured unit
(one attack or one check of one network), so a killed run resumes.

    python tutorials/gupta2022_cifar_masking.py [--full] [--n 150] [--seed 1234]
"""

from __future__ import annotations

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import _common
import _verdicts
import _zoo
import gupta2022_cifar_attack_strength as strength
import gupta2022_cifar_models as cifar_models
import gupta2022_masking_checks as mnist_masking
from _common import RESULTS, markdown_table, paper
from tfbnn import attacks, checks
from tfbnn.evaluation import diagnostics, prepare
from tfbnn.evaluation.catalog import VERSIONS

NAME = RULE = "gupta2022_cifar_masking"
TITLES = {"resnet18": "ResNet-18", "vgg16": "VGG-16"}
ROWS = {"REF": "REF", "WQ-MD": "BNN-WQ", "WAQ": "BNN-WAQ"}
"""`_zoo.CIFAR_VARIANTS` short names -> Table 1's rows (its BNN-WQ is MD-tanh-S)."""
BINARY = ("WQ-MD", "WAQ")
PLUSPLUS = ("PGD++ NJS", "PGD++ HNS")
SWEEP = strength.SWEEP
"""PGD, PGD++ NJS, PGD++ HNS: the attacks of the eps sweep."""
SOURCE = "REF"
"""The black box's source: the paper's "analogous floating point network"."""

DEFAULT = {"architectures": ["resnet18", "vgg16"], "variants": ["REF", "WQ-MD", "WAQ"],
           "width": 0.25, "epochs": 10, "iterations": None, "seed": 1234,
           "n": 150, "batch": 150, "eps": 8, "step": 2, "iters": 20, "restarts": [1, 20],
           "attack_seed": 0, "sweep": [1, 2, 4], "figure1": ["resnet18"],
           "ensemble": "standard", "ensemble_iters": None,
           "out": str(RESULTS / f"{NAME}.json")}
"""``eps``, ``step`` and ``sweep`` in pixels of the [0, 255] scale (Table 1: 8 and 2);
``seed``: the networks' training seed (`gupta2022_cifar_models`'s); ``attack_seed``:
the random starts (restart r uses attack_seed + r); ``figure1``: the architectures
Figure 1's (a) and (b) run on ((c) runs on all); ``ensemble_iters``: None keeps the
version's own iteration counts."""
FULL = {"width": 1.0, "iterations": 100_000, "n": 10_000, "figure1": ["resnet18", "vgg16"]}


def check_config(config: dict) -> None:
    """Refuse a config that cannot run, before any network is trained or attacked."""
    checks.check_choices("architectures", config["architectures"], TITLES,
                         hint=" (The paper's Table 1.)")
    checks.check_choices("variants", config["variants"], ROWS,
                         hint=" (BNN-WQ is WQ-MD, the paper's MD-tanh-S.)")
    unknown = [a for a in config["figure1"] if a not in config["architectures"]]
    if unknown:
        raise ValueError(f"figure1={config['figure1']!r}: {unknown} not among "
                         f"architectures={config['architectures']!r}; Figure 1's checks run "
                         "on networks this run trains (the paper: resnet18).")
    checks.check_int("n", config["n"], 1, hint=" Pass --n with a positive count of images.")
    checks.check_int("batch", config["batch"], 1)
    checks.check_int("iters", config["iters"], 1, hint=" Table 1: 20.")
    checks.check_int("seed", config["seed"], 0)
    checks.check_int("attack_seed", config["attack_seed"], 0)
    checks.check_int("ensemble_iters", config["ensemble_iters"], 1, allow_none=True)
    checks.check_int_list("restarts", config["restarts"], 1,
                          example="[1, 20] (Table 1's Adv.(1) and Adv.(20))")
    for name in ("eps", "step"):
        checks.check_number(name, config[name], positive=True)
    for eps in config["sweep"]:
        checks.check_number("sweep", eps, positive=True)
    checks.check_choice("ensemble", config["ensemble"], VERSIONS)


def pgd(config: dict, eps: float, step: float, seed: int):
    """Table 1's L-inf PGD (radius and step in pixels), one start from ``seed``."""
    return lambda f, x, y: attacks.projected_gradient_descent(
        f, x, eps / 255, step / 255, config["iters"], np.inf, y=y, rand_init="paper",
        seed=seed, clip_min=0.0, clip_max=1.0)


def restarts(model_fn, x, y, robust, done: int, total: int, config: dict) -> dict:
    """PGD restarts ``done`` .. ``total - 1`` on the images still ``robust`` after the first
    ``done`` (restart r from ``attack_seed + r``): accuracy, and which images every one of
    the ``total`` restarts left correctly classified."""
    robust = np.array(robust, bool)
    for r in range(done, total):
        idx = np.flatnonzero(robust)
        if not idx.size:
            break
        attack = pgd(config, config["eps"], config["step"], config["attack_seed"] + r)
        robust[idx] &= _common.attack_correct(attack, model_fn, x[idx], y[idx],
                                              config["batch"])
    return {"accuracy": float(robust.mean()), "robust": robust.astype(int).tolist()}


def _ensemble_config(config: dict) -> dict:
    """`gupta2022_cifar_attack_strength.ensemble`'s config at Table 1's radius."""
    return {"linf_eps": config["eps"], "ensemble": config["ensemble"],
            "ensemble_iters": config["ensemble_iters"], "batch": config["batch"],
            "seed": config["attack_seed"]}


def figure1(model_fn, source_fn, x, y, clean, architecture: str, config: dict) -> list:
    """``(name, compute)`` of the Figure 1 checks this network gets, on the images it
    classifies correctly (the checks' own convention)."""
    target = prepare(model_fn, x[:8], stochastic=False)
    xc, yc = x[clean], y[clean]
    eps, seed, box = config["eps"] / 255, config["attack_seed"], mnist_masking.BOX
    units = []
    if architecture in config["figure1"]:
        units += [("iterations", lambda: diagnostics.check_iterations(
                      target, xc, yc, eps, "linf", seed, box)),
                  ("radius", lambda: diagnostics.check_radius(
                      target, xc, yc, eps, "linf", seed, box))]
    if source_fn is not None:
        source = {"eps": eps, "seed": seed, "source": f"{TITLES[architecture]} {SOURCE}"}
        units.append(("transfer", lambda: mnist_masking._transfer(source, target, source_fn,
                                                                   xc, yc)))
    return units


def main(config: dict) -> dict:
    run, x, y, train_images = strength.start(config, NAME, DEFAULT, FULL, check_config)
    config, models = run.config, run.section("models")
    # REF first: it is the black-box source of its architecture's BNNs
    variants = sorted(config["variants"], key=lambda v: v != SOURCE)
    for architecture in config["architectures"]:
        source_fn = None
        for variant in variants:
            spec = cifar_models.spec_for(config, architecture, variant, train_images)
            model, info = _zoo.trained_model(spec)
            model_fn = lambda t, model=model: model(t, training=False)  # noqa: E731
            if variant == SOURCE:
                source_fn = model_fn
            clean = _common.correct(model_fn, x, y)
            entry = run.entry(models, f"{architecture} {variant}", spec, {
                "key": info["key"], "clean_accuracy": float(clean.mean()),
                "test_accuracy": info["test_accuracy"], "data": info["data"],
                "iterations": info["iterations"],
                "logits": strength.logit_scale(model_fn, x), "pgd": {}, "plusplus": {},
                "sweep": {}, "checks": {}, "checks_n": int(clean.sum())})
            label = f"{TITLES[architecture]} {ROWS[variant]}"
            robust, done = clean, 0
            for total in sorted(set(config["restarts"])):
                row = run.step(entry["pgd"], str(total), lambda: restarts(
                    model_fn, x, y, robust, done, total, config), seconds=True,
                    say=lambda r: f"{label} PGD {total:2d} restart(s) acc {r['accuracy']:.3f}")
                robust, done = np.array(row["robust"], bool), total
            table = strength._linf_attacks(config["eps"] / 255, config["step"] / 255,
                                           config["iters"], config["attack_seed"],
                                           names=PLUSPLUS)
            for name, attack in table.items():
                run.step(entry["plusplus"], name, lambda: strength.measure(
                    attack, model_fn, x, y, clean, config["batch"]),
                    say=lambda r: f"{label} {name} acc {r['accuracy']:.3f}")
            for eps in config["sweep"]:
                key = strength.setting_key("linf", eps)
                setting = entry["sweep"].setdefault(key, {})
                # Table 1's step/eps ratio (2/8) at every radius of the sweep
                table = strength._linf_attacks(eps / 255, eps * config["step"] / config["eps"]
                                               / 255, config["iters"], config["attack_seed"],
                                               names=SWEEP)
                for name in SWEEP:
                    run.step(setting, name, lambda: strength.measure(
                        table[name], model_fn, x, y, clean, config["batch"]),
                        say=lambda r: f"{label} {key} {name} acc {r['accuracy']:.3f}")
            if variant in BINARY and clean.any():
                for name, check in figure1(model_fn, source_fn, x, y, clean,
                                           architecture, config):
                    run.step(entry["checks"], name, check, seconds=True,
                             say=lambda c: f"{label} check {name}: {c['verdict']}: "
                                           f"{c['explanation']}")
            result = run.step(entry, "ensemble", lambda: strength.ensemble(
                model, x, y, _ensemble_config(config)),
                say=lambda r: f"{label} ensemble ({r['version']}) acc {r['accuracy']:.3f}")
            worst = np.array(result["robust"], bool)
            for row in [entry["pgd"][str(max(config["restarts"]))],
                        *entry["plusplus"].values()]:
                worst &= np.array(row["robust"], bool)
            entry["worst_case_accuracy"] = float(worst.mean())
            run.save()
    return run.finish(resummarize(run.results, run.out))


def _runs(results: dict):
    """``(network, row, entry)`` for every measured network, in the config's order."""
    cfg = results["config"]
    for architecture in cfg["architectures"]:
        for variant in cfg["variants"]:
            entry = results["models"].get(f"{architecture} {variant}")
            if entry is not None:
                yield TITLES[architecture], ROWS[variant], entry


def _at(data: dict, key: str, value: float):
    """The accuracy of a diagnostics check's ``data`` where ``data[key]`` is ``value``."""
    for v, accuracy in zip(data[key], data["accuracy"]):
        if np.isclose(v, value):
            return accuracy
    return None


RADIUS_TOP = "radius whole range"
RADIUS_NOTE = " (where PGD-20 leaves more at eps)"


def estimates(results: dict) -> dict:
    """Cell name -> accuracy (%) as a `_verdicts.Estimate` with the binomial noise of the
    images it is measured on (one training seed and one attack seed, so no spread over
    runs is known):

    - ``"<network> <row> PGD restarts=<r>"``, ``"<network> <row> PGD++ NJS"`` (8/255) and
      ``"<network> <row> linf eps=<e>/255 <attack>"`` (the sweep, 8/255 included): over
      the n test images;
    - Figure 1, over the images the BNN classifies correctly: ``"<network> <row>
      iterations PGD-<T>"``; ``"<network> <row> radius eps"``, ``"... radius 4 eps"`` and
      ``"... radius whole range (where PGD-20 leaves more at eps)"``, the last only where
      PGD-20 at eps leaves more than the rule's bound (elsewhere "it reaches 0" says
      nothing PGD at eps did not); ``"<network> <row> white-box PGD-20"`` and ``"...
      black-box PGD-20 from REF"``.
    """
    cfg = results["config"]
    n = results.get("n", cfg["n"])
    top = [c for c in _verdicts.load_rule(RULE)["checks"] if c["kind"] == "in_range"]
    bound = top[0]["high"] if top else 0.0
    ours = {}
    for network, row, entry in _runs(results):
        base = f"{network} {row}"

        def put(name, fraction, images=n):
            if fraction is not None:
                ours[f"{base} {name}"] = _verdicts.Estimate(100 * fraction, n=images)

        for r, measured in entry["pgd"].items():
            put(f"PGD restarts={r}", measured["accuracy"])
        eight = strength.setting_key("linf", cfg["eps"])
        if "1" in entry["pgd"]:
            put(f"{eight} PGD", entry["pgd"]["1"]["accuracy"])
        for name, measured in entry["plusplus"].items():
            put(name, measured["accuracy"])
            put(f"{eight} {name}", measured["accuracy"])
        for key, setting in entry["sweep"].items():
            for name, measured in setting.items():
                put(f"{key} {name}", measured["accuracy"])
        found, images = entry["checks"], entry.get("checks_n") or 1
        if "iterations" in found:
            data = found["iterations"]["data"]
            for t, accuracy in zip(data["iterations"], data["accuracy"]):
                put(f"iterations PGD-{t}", accuracy, images)
        if "radius" in found:
            data = found["radius"]["data"]
            eps = cfg["eps"] / 255
            at_eps = _at(data, "eps", eps)
            put("radius eps", at_eps, images)
            put("radius 4 eps", _at(data, "eps", min(4 * eps, 1.0)), images)
            if at_eps is not None and 100 * at_eps > bound:
                put(RADIUS_TOP + RADIUS_NOTE, data["accuracy"][-1], images)
        if "transfer" in found:
            data = found["transfer"]["data"]
            put("white-box PGD-20", data["white_box_accuracy"], images)
            put(f"black-box PGD-20 from {SOURCE}", data["black_box_accuracy"], images)
    return ours


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _paper(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def _tables(results: dict) -> list[str]:
    """Table 1 beside the paper's, the sweep, Figure 1's checks and the logit scale."""
    cfg, n = results["config"], results.get("n", results["config"]["n"])
    table1 = paper("gupta2022_table1")
    counts = sorted({int(r) for r in cfg["restarts"]})
    header = (["network", "type", "source", "clean % (test split)", f"clean % ({n} images)"]
              + [f"PGD Adv.({r})" for r in counts] + list(PLUSPLUS)
              + [f"worst case (PGD, PGD++ and evaluate --version {cfg['ensemble']})",
                 f"evaluate --version {cfg['ensemble']}",
                 "only Square broke (score-based black box)"])
    rows, sweep_rows, scale_rows, fig_rows = [], [], [], []
    done = {(network, row): entry for network, row, entry in _runs(results)}
    for architecture in cfg["architectures"]:
        network = TITLES[architecture]
        for variant in cfg["variants"]:
            row = ROWS[variant]
            printed = table1["rows"].get(row)
            if printed:
                cells = dict(zip(table1["columns"], printed))
                adv = {1: cells.get(f"{network} Adv.(1)"), 20: cells.get(f"{network} Adv.(20)")}
                rows.append([network, row, "paper", _paper(cells.get(f"{network} Clean")), "—"]
                            + [_paper(adv.get(r)) for r in counts]
                            + ["—"] * (len(header) - 5 - len(counts)))
            entry = done.get((network, row))
            if entry is None:
                continue
            ensemble = entry.get("ensemble", {})
            square = ensemble.get("broken_by", {}).get("square")
            rows.append([network, row, f"tfbnn, seed {cfg['seed']}",
                         _pct(entry["test_accuracy"]), _pct(entry["clean_accuracy"])]
                        + [_pct(entry["pgd"].get(str(r), {}).get("accuracy")) for r in counts]
                        + [_pct(entry["plusplus"].get(a, {}).get("accuracy")) for a in PLUSPLUS]
                        + [_pct(entry.get("worst_case_accuracy")), _pct(ensemble.get("accuracy")),
                           "—" if square is None else str(square)])
            radii = list(cfg["sweep"]) + [cfg["eps"]]
            for eps in sorted(radii):
                if eps == cfg["eps"]:
                    cells = [entry["pgd"].get("1", {}).get("accuracy")] + [
                        entry["plusplus"].get(a, {}).get("accuracy") for a in PLUSPLUS]
                else:
                    setting = entry["sweep"].get(strength.setting_key("linf", eps), {})
                    cells = [setting.get(a, {}).get("accuracy") for a in SWEEP]
                sweep_rows.append([network, row, f"{eps:g}/255"] + [_pct(c) for c in cells])
            scale_rows.append([network, row, f"{entry['logits']['mean_abs_logit']:.3g}",
                               f"{entry['logits']['mean_margin']:.3g}"])
            found = entry["checks"]
            if found:
                it = found.get("iterations", {}).get("data")
                rad = found.get("radius", {}).get("data")
                tr = found.get("transfer", {}).get("data")
                fig_rows.append([
                    network, row, str(entry.get("checks_n", "—")),
                    (" → ".join(_pct(a) for a in it["accuracy"])
                     + f" ({found['iterations']['verdict']})") if it else "not run",
                    (" → ".join(_pct(a) for a in rad["accuracy"])
                     + f" ({found['radius']['verdict']})") if rad else "not run",
                    (f"{_pct(tr['black_box_accuracy'])} vs {_pct(tr['white_box_accuracy'])} "
                     f"({found['transfer']['verdict']})") if tr else "not run"])
    fig_rows.append(["paper (caption)", "its BNNs", "—", "masking (WARN)", "no masking (PASS)",
                     "masking (WARN)"])
    lines = [f"Table 1, L-inf PGD at {cfg['eps']:g}/255 (step {cfg['step']:g}/255, "
             f"{cfg['iters']} iterations), accuracy % (lower = stronger attack); the paper "
             "prints no spread, and tfbnn's cells are one training seed whose noise in the "
             f"verdict is the binomial standard error of {n} images:", ""]
    lines += markdown_table(header, rows)
    lines += ["", "L-inf eps sweep (tfbnn only; Table 1 is at "
              f"{cfg['eps']:g}/255, the row of one restart), accuracy %:", ""]
    lines += markdown_table(["network", "type", "eps", "PGD (1 start)"] + list(PLUSPLUS),
                            sweep_rows)
    iterations = "/".join(map(str, diagnostics.ITERATIONS))
    lines += ["", "Figure 1 checks on the BNNs (tfbnn.evaluation.diagnostics; accuracy % of "
              "the images the network classifies correctly; in brackets the diagnostics' own "
              "label, PASS = no sign of masking, WARN = a sign; the verdict uses the numbers "
              "under the rule, not these labels; the paper prints only its caption):", ""]
    lines += markdown_table(
        ["network", "type", "images", f"(a) iterations {iterations} (1 = FGSM)",
         "(b) radius eps/4, eps/2, eps, 2 eps, 4 eps, whole range (PGD-20)",
         f"(c) black-box (PGD-20 from {SOURCE}) vs white-box PGD-20"], fig_rows)
    lines += ["", "Logit scale on the clean test images (large logits saturate the softmax, "
              "the paper's reason why PGD's gradients vanish on BNNs):", ""]
    lines += markdown_table(["network", "type", "mean abs logit",
                             "mean top-1 minus top-2 margin"], scale_rows)
    return lines


def plot(results: dict, out) -> list:
    """Four panels: Table 1 (clean, Adv.(1), Adv.(20) and the best PGD++ per network, the
    paper's Adv. as markers) and Figure 1 (a), (b), (c): ``STEM.png``."""
    runs = list(_runs(results))
    if not runs or out is None:
        return []
    cfg = results["config"]
    table1 = paper("gupta2022_table1")
    counts = sorted({int(r) for r in cfg["restarts"]})
    plt = _common.pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.8))
    width = 0.8 / (2 + len(counts))
    for i, (network, row, entry) in enumerate(runs):
        bars = ([entry["clean_accuracy"]] + [entry["pgd"].get(str(r), {}).get("accuracy", np.nan)
                                             for r in counts]
                + [min([entry["plusplus"][a]["accuracy"] for a in entry["plusplus"]] or [np.nan])])
        names = ["clean"] + [f"PGD, {r} restart(s)" for r in counts] + ["best PGD++"]
        for j, (value, name) in enumerate(zip(bars, names)):
            axes[0].bar(i + (j - len(bars) / 2) * width, 100 * value, width, color=f"C{j}",
                        label=None if i else name)
        printed = dict(zip(table1["columns"], table1["rows"].get(row, [])))
        for j, r in enumerate(counts):
            value = printed.get(f"{network} Adv.({r})")
            if value is not None:
                axes[0].plot(i + (j + 1 - len(bars) / 2) * width, value, "kx",
                             label=None if i or j else "paper Adv.")
    axes[0].set_xticks(range(len(runs)), [f"{n}\n{r}" for n, r, _ in runs], fontsize=7)
    axes[0].set(ylabel="accuracy (%)", title=f"Table 1: PGD L-inf {cfg['eps']:g}/255")
    transfer = []
    for network, row, entry in runs:
        found = entry["checks"]
        if "iterations" in found:
            d = found["iterations"]["data"]
            axes[1].plot(d["iterations"], 100 * np.array(d["accuracy"]), "o-",
                         label=f"{network} {row}")
        if "radius" in found:
            d = found["radius"]["data"]
            axes[2].plot(255 * np.array(d["eps"]), 100 * np.array(d["accuracy"]), "o-",
                         label=f"{network} {row}")
        if "transfer" in found:
            transfer.append((f"{network}\n{row}", found["transfer"]["data"]))
    for i, (name, d) in enumerate(transfer):
        axes[3].bar(i - 0.2, 100 * d["white_box_accuracy"], 0.4, color="C0",
                    label=None if i else "white-box PGD-20")
        axes[3].bar(i + 0.2, 100 * d["black_box_accuracy"], 0.4, color="C1",
                    label=None if i else f"black-box (PGD-20 from {SOURCE})")
    axes[3].set_xticks(range(len(transfer)), [t for t, _ in transfer], fontsize=7)
    axes[1].set(xscale="log", xlabel="PGD iterations (1 = FGSM)", ylabel="accuracy (%)",
                title="(a) accuracy vs iterations")
    axes[2].set(xscale="log", xlabel="L-inf radius (/255)", ylabel="accuracy (%)",
                title="(b) accuracy vs radius (PGD-20)")
    axes[3].set(ylabel="accuracy (%)", title=f"(c) black-box vs white-box, {cfg['eps']:g}/255")
    for ax in axes:
        ax.set_ylim(-2, 100)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
    fig.suptitle(f"Table 1 and Figure 1 on {results.get('data', 'CIFAR-10')} "
                 f"(Figure 1: images each BNN classifies correctly)", fontsize=9)
    return [_common.save_figure(fig, out)]


def summarize(results: dict, plots: list | None = None) -> dict:
    """The section of docs/RESULTS.md: Table 1 beside tfbnn's numbers, Figure 1's checks,
    the sweep, the logit scale, and the committed rule's verdict (`RULE`)."""
    cfg = results["config"]
    rule = _verdicts.load_rule(RULE)
    ours = estimates(results)
    judged = _verdicts.judge(rule, ours, {})
    why = judged["why"]
    entries = [e for *_, e in _runs(results)]
    bound = next((c["high"] for c in rule["checks"] if c["kind"] == "in_range"), 0.0)
    left = [f"{network} {row}" for network, row, e in _runs(results)
            if f"{network} {row} radius eps" in ours
            and f"{network} {row} {RADIUS_TOP}{RADIUS_NOTE}" not in ours]
    if left:
        why += (f" Whole-range cells left out because PGD-20 at eps already leaves at most "
                f"{bound:g} % there (listed as not run above): {', '.join(left)}.")
    finding = _verdicts.finding(rule, ours)
    if finding:
        why += " " + finding
    square = {f"{network} {row}": e["ensemble"]["broken_by"].get("square", 0)
              for network, row, e in _runs(results) if row != "REF" and "ensemble" in e}
    if square:
        why += (" Score-based black box (Square, the last stage of evaluate --version "
                f"{cfg['ensemble']}): images only it broke after every gradient attack of the "
                "cascade: " + ", ".join(f"{k} {v}" for k, v in square.items()) + ".")
    data_title = strength.data_title(results, entries)
    return _common.summary(
        title=f"Gupta & Ajanthan, Table 1 and Figure 1 on {data_title}: PGD with restarts "
              "and the gradient-masking checks (ResNet-18, VGG-16)",
        command=_common.command(NAME, cfg, DEFAULT, FULL),
        paper_scale="the official CIFAR-10, full-width ResNet-18 and VGG-16 (REF, BNN-WQ by "
                    "MD-tanh-S, BNN-WAQ) trained 100,000 iterations; PGD L-inf 8/255, step "
                    "2/255, 20 iterations, 1 and 20 random restarts, on the test set (its "
                    "size not stated); Figure 1 on ResNet-18 ((c) also VGG-16), its black "
                    "box PGD crafted on the floating-point network trained on the same data; "
                    "one number per cell, no spread, and no curve values in the text",
        tfbnn_scale=(strength.networks_scale(
                         results, entries, f"training seed {cfg['seed']} (one network per "
                                           "cell, so no ± is printed)")
                     + f"; PGD L-inf {cfg['eps']:g}/255, step {cfg['step']:g}/255, "
                       f"{cfg['iters']} iterations, the paper's random start, restarts "
                       f"{sorted(set(cfg['restarts']))} from attack seed {cfg['attack_seed']} "
                       "(restart r on what the earlier ones left); accuracy % over all the "
                       "images (a misclassified one counts as broken); Figure 1 by "
                       "tfbnn.evaluation.diagnostics on the images each BNN classifies "
                       f"correctly ((a), (b) on {', '.join(TITLES[a] for a in cfg['figure1'])})"
                       f"; sweep at L-inf {', '.join(f'{e:g}' for e in cfg['sweep'])} /255 "
                       "with the same step/eps ratio"),
        table=_tables(results), verdict=judged["verdict"], why=why, plots=plots)


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``), the plot
    redrawn beside ``out`` from the stored numbers; nothing is trained or attacked."""
    return summarize(results, plot(results, out))


if __name__ == "__main__":
    main(_common.cli(__doc__, FULL, ("n", "seed", "epochs", "out", "width", "iterations"),
                     architectures=dict(nargs="+", help=" ".join(TITLES)),
                     variants=dict(nargs="+", help=" ".join(ROWS)),
                     figure1=dict(nargs="+", help="architectures of Figure 1's (a) and (b)"),
                     restarts=dict(type=int, nargs="+", help="PGD restart counts (1 20)"),
                     sweep=dict(type=float, nargs="+", help="extra L-inf radii, pixels")))
