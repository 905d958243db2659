"""FGSM and PGD against FGSM++ and PGD++ (NJS, HNS) on the CIFAR-10 networks: Tables 2 and 3.

Gupta & Ajanthan, "Improved Gradient based Adversarial Attacks for Quantized Networks"
(AAAI 2022), Table 2 (BNN-WQ) and Table 3 (REF and BNN-WAQ), in the paper's own setting:
ResNet-18 and VGG-16 on CIFAR-10 as BNN-WQ (binary weights, trained with MD-tanh-S, as
the paper's Preliminaries say), REF (full precision) and BNN-WAQ (binary weights and
activations). The networks are those of `gupta2022_cifar_models.py`, trained and cached
through the same specs (`gupta2022_cifar_models.spec_for`, `_zoo.trained_model`), so the
two tutorials share them; a network not cached yet is trained here the same way.

Attacks, with the paper's CIFAR-10 parameters (its Table 6, in pixels of the [0, 255]
scale, here divided by 255): FGSM, FGSM++ NJS and HNS at eps 8; PGD, PGD++ NJS and HNS
(L-inf) at eps 8, step 2, 20 iterations; PGD, PGD++ NJS and HNS (L2) at eps 120, step 15,
20 iterations; one random start (the paper's Uniform(-1, 1) start projected on the box for
L-inf, `rand_init="paper"`, as in the MNIST tutorial `gupta2022_attack_strength.py`), HNS
on the paper's linear grid of 100 betas, NJS with rho 0.01, attack seed 0. Beside them:

- tfbnn's answer to "how robust is it really": `tfbnn.evaluation.evaluate` with
  ``version="standard"`` (APGD-CE, PGD++ NJS and HNS, APGD-T, FAB-T, Square; cascade) at
  L-inf 8/255, its worst case per example joined with every attack above;
- an eps sweep, L-inf 1, 2 and 4 /255 (8 is the table's), for PGD and both PGD++, and each
  network's logit scale (mean |logit| and mean top-1 minus top-2 margin on the clean test
  images): at the CPU scale 8/255 often leaves every attack at 0 %, where nothing can be
  ordered; the sweep shows the ordering where it is not saturated (a tfbnn finding, kept
  beside the verdict, not in it).

Test images: n drawn with a fixed seed from the test split (`tfbnn.data.first_examples`:
the JPEG stand-in's test split is ordered by class), the same n for every network; accuracy
is over all n (a misclassified image counts as broken), one attack run per training seed.

The verdict applies paper_numbers/rules/gupta2022_cifar_attack_strength.json (`_verdicts`):
on BNN-WQ and BNN-WAQ the better PGD++ leaves a lower accuracy than PGD (L-inf and L2) and
the better FGSM++ a lower one than FGSM, beyond two standard errors (the binomial noise of
the n images, and the spread over training seeds when there are several); on REF PGD++ is
at least as strong as PGD (not weaker by more than 1 point beyond the noise); and PGD++
leaves at most 5 % of a BNN correct at L-inf 8/255 ("about 0 %"), judged only where PGD
itself leaves more than that. Pairs with both attacks at 0 (or 100) % are saturated and
count for nothing; a run where everything saturates reads "not comparable".

Scale. Paper: full-width networks trained 100,000 iterations on the official CIFAR-10,
the whole test set. Default here (2 CPU cores): width 0.25, 10 epochs, training seed
1234, on whatever `tfbnn.data.load_cifar10` finds (here the JPEG stand-in, labelled
"CIFAR-10 (JPEG stand-in, 20k train)"), n = 250 test images. Measured time of the default
once the six networks were cached: 1,099 s (18.3 minutes, loading and tracing included;
2026-12-05, on the 2 CPU cores shared with a training run beside it). Timed once on one
batch of 50 images of untrained networks, one PGD-20 takes 0.9-2.5 s (VGG-16 REF to
ResNet-18 BNN-WAQ) and each PGD++ about 1.3x that; the ensemble's APGD-CE runs on the
correctly classified images, its later stages only on what it leaves. n = 500 would take
an estimated 35 minutes, over the 30-minute budget, hence 250. The networks themselves,
if not cached, take about 4-8 minutes each to train (`gupta2022_cifar_models.py`).
``--full``: full width, the authors' 100,000 training iterations, the whole test set (GPU
work; the same code path), and the paper's ResNet-50 and DenseNet-121 rows, which tfbnn
does not build: they are listed as "not run: network not built in tfbnn", never stubbed.
Results are written after every attack of every network, so a killed run resumes.

    python tutorials/gupta2022_cifar_attack_strength.py [--full] [--n 250] [--seeds 1234]
"""

from __future__ import annotations

import warnings

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import _common
import _verdicts
import _zoo
import gupta2022_cifar_models as cifar_models
from _common import RESULTS, markdown_table, paper
from tfbnn import attacks, checks, evaluation, export
from tfbnn.evaluation.catalog import VERSIONS

NAME = RULE = "gupta2022_cifar_attack_strength"
TITLES = {"resnet18": "ResNet-18", "vgg16": "VGG-16", "resnet50": "ResNet-50",
          "densenet121": "DenseNet-121"}
NOT_BUILT = ("resnet50", "densenet121")
"""The paper's Table 2 and 3 networks that tfbnn.models does not build (``--full`` lists
them as not run)."""
ROWS = {"WQ-MD": "BNN-WQ", "REF": "REF", "WAQ": "BNN-WAQ"}
"""`_zoo.CIFAR_VARIANTS` short names -> the paper's row names (BNN-WQ is MD-tanh-S)."""
NOT_RUN = "not run: network not built in tfbnn"
MAGNITUDE = " best PGD++ where PGD leaves more"
"""The suffix of the rule's magnitude cells (`estimates`)."""

DEFAULT = {"architectures": ["resnet18", "vgg16"], "variants": ["WQ-MD", "REF", "WAQ"],
           "width": 0.25, "epochs": 10, "iterations": None, "seeds": [1234],
           "n": 250, "batch": 250, "iters": 20, "seed": 0,
           "linf_eps": 8, "linf_step": 2, "l2_eps": 120, "l2_step": 15, "sweep": [1, 2, 4],
           "ensemble": "standard", "ensemble_iters": None,
           "out": str(RESULTS / f"{NAME}.json")}
"""Radii and steps in pixels of the [0, 255] scale (the paper's Table 6); ``seed``: the
attacks' random starts; ``seeds``: the networks' training seeds (one network each);
``ensemble_iters``: None keeps the version's own iteration counts."""
FULL = {"width": 1.0, "iterations": 100_000, "n": 10_000,
        "architectures": ["resnet18", "vgg16", "resnet50", "densenet121"]}

LINF = ("FGSM", "FGSM++ NJS", "FGSM++ HNS", "PGD", "PGD++ NJS", "PGD++ HNS")
L2 = ("PGD L2", "PGD++ NJS L2", "PGD++ HNS L2")
SWEEP = ("PGD", "PGD++ NJS", "PGD++ HNS")
PAPER_COLUMNS = {"FGSM": "FGSM", "FGSM++ NJS": "FGSM++ NJS", "FGSM++ HNS": "FGSM++ HNS",
                 "PGD": "PGD (L_inf)", "PGD++ NJS": "PGD++ (L_inf) NJS",
                 "PGD++ HNS": "PGD++ (L_inf) HNS", "PGD L2": "PGD (L_2)",
                 "PGD++ NJS L2": "PGD++ (L_2) NJS", "PGD++ HNS L2": "PGD++ (L_2) HNS"}
"""tfbnn's attack names -> the columns of the paper's Tables 2 and 3."""


def check_config(config: dict) -> None:
    """Refuse a config that cannot run, before any network is trained or attacked."""
    checks.check_choices("architectures", config["architectures"], TITLES,
                         hint=" (The paper's Tables 2 and 3.)")
    checks.check_choices("variants", config["variants"], ROWS,
                         hint=" (BNN-WQ is WQ-MD, the paper's MD-tanh-S.)")
    checks.check_int("n", config["n"], 1, hint=" Pass --n with a positive count of images.")
    checks.check_int("batch", config["batch"], 1)
    checks.check_int("iters", config["iters"], 1, hint=" The paper's Table 6: 20.")
    checks.check_int("ensemble_iters", config["ensemble_iters"], 1, allow_none=True)
    checks.check_int_list("seeds", config["seeds"], 0, example="--seeds 1234")
    for name in ("linf_eps", "linf_step", "l2_eps", "l2_step"):
        checks.check_number(name, config[name], positive=True)
    for eps in config["sweep"]:
        checks.check_number("sweep", eps, positive=True)
    checks.check_choice("ensemble", config["ensemble"], VERSIONS)


def setting_key(norm: str, eps: float) -> str:
    """``"linf eps=8/255"``: the name of a setting, its radius in pixels."""
    return f"{norm} eps={eps:g}/255"


def _linf_attacks(eps: float, step: float, iters: int, seed: int, names=LINF) -> dict:
    """The L-inf attacks ``names`` at radius ``eps`` and PGD step ``step`` (both in [0, 1]
    units), as the MNIST tutorial builds them."""
    box = dict(clip_min=0.0, clip_max=1.0)
    pgd = dict(eps=eps, eps_iter=step, nb_iter=iters, norm=np.inf, seed=seed,
               rand_init="paper", **box)
    table = {
        "FGSM": lambda f, x, y: attacks.fast_gradient_method(f, x, eps, np.inf, y=y, **box),
        "FGSM++ NJS": lambda f, x, y: attacks.fgsm_plus_plus(f, x, eps, np.inf, y=y,
                                                             variant="njs", **box),
        "FGSM++ HNS": lambda f, x, y: attacks.fgsm_plus_plus(f, x, eps, np.inf, y=y,
                                                             variant="hns", **box),
        "PGD": lambda f, x, y: attacks.projected_gradient_descent(f, x, y=y, **pgd),
        "PGD++ NJS": lambda f, x, y: attacks.pgd_plus_plus(f, x, y=y, variant="njs", **pgd),
        "PGD++ HNS": lambda f, x, y: attacks.pgd_plus_plus(f, x, y=y, variant="hns",
                                                           hns_spacing="linear", **pgd),
    }
    return {name: table[name] for name in names}


def _l2_attacks(eps: float, step: float, iters: int, seed: int) -> dict:
    pgd = dict(eps=eps, eps_iter=step, nb_iter=iters, norm=2, seed=seed,
               clip_min=0.0, clip_max=1.0)
    return {
        "PGD L2": lambda f, x, y: attacks.projected_gradient_descent(f, x, y=y, **pgd),
        "PGD++ NJS L2": lambda f, x, y: attacks.pgd_plus_plus(f, x, y=y, variant="njs", **pgd),
        "PGD++ HNS L2": lambda f, x, y: attacks.pgd_plus_plus(f, x, y=y, variant="hns", **pgd),
    }


def settings(config: dict):
    """``(key, attacks)`` per setting: L-inf at the paper's eps, L2, then the sweep."""
    px, iters, seed = 1 / 255, config["iters"], config["seed"]
    yield (setting_key("linf", config["linf_eps"]),
           _linf_attacks(config["linf_eps"] * px, config["linf_step"] * px, iters, seed))
    yield (setting_key("l2", config["l2_eps"]),
           _l2_attacks(config["l2_eps"] * px, config["l2_step"] * px, iters, seed))
    for eps in config["sweep"]:
        # the paper's step/eps ratio (2/8) at every radius of the sweep
        step = eps * config["linf_step"] / config["linf_eps"]
        yield (setting_key("linf", eps),
               _linf_attacks(eps * px, step * px, iters, seed, names=SWEEP))


def measure(attack, model_fn, x, y, clean, batch: int) -> dict:
    """One attack: accuracy, seconds, and which examples it left correctly classified.

    An image counts as robust only when it was classified correctly before the attack too
    (``clean``): the paper attacks the correctly classified images only, and a step that
    happens to move a misclassified image onto its label is no robustness."""
    robust, seconds = _common.timed(_common.attack_correct, attack, model_fn, x, y, batch)
    robust &= clean
    return {"accuracy": float(robust.mean()), "seconds": seconds,
            "robust": robust.astype(int).tolist()}


def ensemble(model, x, y, config: dict) -> dict:
    """tfbnn's evaluation (``config["ensemble"]``, cascade) at the paper's L-inf eps: its
    robust accuracy, which examples it left robust, and which attack broke how many."""
    report = evaluation.evaluate(
        model, x, y, eps=config["linf_eps"] / 255, norm="linf", version=config["ensemble"],
        nb_iter=config["ensemble_iters"], batch_size=config["batch"], seed=config["seed"],
        run_diagnostics=False, progress=False)
    (result,) = report["results"]
    return {"accuracy": result["robust_accuracy"],
            "robust": [int(r) for r in result["robust_per_example"]],
            "broken_by": result["broken_by"], "version": config["ensemble"]}


def logit_scale(model_fn, x) -> dict:
    """Mean |logit| and mean top-1 minus top-2 logit margin on the clean images ``x``:
    large logits saturate the softmax, the paper's explanation of why PGD fails on BNNs."""
    logits = export.predict_in_batches(model_fn, x)
    top = np.sort(logits, axis=-1)
    return {"mean_abs_logit": float(np.mean(np.abs(logits))),
            "mean_margin": float(np.mean(top[:, -1] - top[:, -2]))}


def cifar_test(n: int):
    """``(x, y, drawn)``: ``n`` CIFAR-10 test images (`tfbnn.data.first_examples`)."""
    from tfbnn import data

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="CIFAR-10 was not found")
        _, (x, y) = data.load_cifar10()
    x, y, drawn = data.first_examples(x, y, n)
    return np.asarray(x, np.float32), np.asarray(y).astype(np.int64), drawn


def start(config: dict, name: str, default: dict, full: dict, check) -> tuple:
    """``(run, x, y, train_images)``: the opening the CIFAR attack tutorials share. Their
    resumable run (`_common.Run`), its config refused by ``check`` before any work, the
    training-set size their networks' specs need (`gupta2022_cifar_models.training_set`),
    and the ``n`` test images (`cifar_test`), recorded in the results."""
    run = _common.Run(config, default, full, name=name)
    check(run.config)
    title, train_images = cifar_models.training_set()
    x, y, drawn = cifar_test(run.config["n"])
    run.results.update({"data": title, "n": len(x), "drawn": drawn})
    return run, x, y, train_images


def main(config: dict) -> dict:
    run, x, y, train_images = start(config, NAME, DEFAULT, FULL, check_config)
    config, models = run.config, run.section("models")
    not_run = run.section("not_run")
    for architecture in config["architectures"]:
        if architecture in NOT_BUILT:
            not_run[architecture] = NOT_RUN
            continue
        for variant in config["variants"]:
            per_seed = models.setdefault(f"{architecture} {variant}", {})
            for seed in config["seeds"]:
                spec = cifar_models.spec_for({**config, "seed": seed}, architecture, variant,
                                             train_images)
                attack_network(run, per_seed, str(seed), spec, x, y, config, settings(config),
                               f"{TITLES[architecture]} {ROWS[variant]} seed {seed}",
                               measure=measure, ensemble=ensemble)
    return run.finish(resummarize(run.results, run.out))


def attack_network(run, where: dict, key: str, spec: dict, x, y, config: dict, plan,
                   label: str, *, measure=measure, ensemble=ensemble) -> dict:
    """Attack the network ``spec`` names with every attack of ``plan`` (``(setting key,
    {name: attack})`` pairs, `settings`), then tfbnn's ensemble at the paper's L-inf eps:
    ``where[key]``, resumed cell by cell (`_common.Run.entry`, `Run.step`), with the worst
    case per setting and, joined with the ensemble, at the paper's eps. The CIFAR tutorials
    that attack networks this way share it; ``measure`` and ``ensemble`` are passed by the
    caller, so a test can replace them in the caller's module."""
    model, info = _zoo.trained_model(spec)
    model_fn = lambda t: model(t, training=False)  # noqa: E731
    clean = _common.correct(model_fn, x, y)
    entry = run.entry(where, key, spec, {
        "key": info["key"], "clean_accuracy": float(clean.mean()),
        "test_accuracy": info["test_accuracy"], "data": info["data"],
        "iterations": info["iterations"], "logits": logit_scale(model_fn, x),
        "settings": {}})
    for setting_name, table in plan:
        setting = entry["settings"].setdefault(setting_name, {"attacks": {}})
        worst = clean.copy()
        for name, attack in table.items():
            row = run.step(setting["attacks"], name,
                           lambda: measure(attack, model_fn, x, y, clean, config["batch"]),
                           say=lambda r: f"{label} {setting_name:15s} {name:13s} "
                                         f"acc {r['accuracy']:.3f} ({r['seconds']} s)")
            worst &= np.array(row["robust"], bool)
        setting["worst_case_accuracy"] = float(worst.mean())
        run.save()
    linf = entry["settings"][setting_key("linf", config["linf_eps"])]
    result = run.step(entry, "ensemble", lambda: ensemble(model, x, y, config),
                      say=lambda r: f"{label} ensemble ({r['version']}) acc {r['accuracy']:.3f}")
    worst = np.array(result["robust"], bool)
    for row in linf["attacks"].values():
        worst &= np.array(row["robust"], bool)
    entry["worst_case_accuracy"] = float(worst.mean())
    run.save()
    return entry


def _runs(results: dict, rows: dict = ROWS):
    """``(network, row, seed, entry)`` for every measured network and training seed;
    ``rows`` names the variants (the Tables 5/8 tutorial passes its own, with '*')."""
    for key, per_seed in results["models"].items():
        architecture, variant = key.split()
        for seed, entry in per_seed.items():
            yield TITLES[architecture], rows[variant], seed, entry


def estimates(results: dict) -> dict:
    """``"<network> <row> <setting> <attack>"`` (``"ResNet-18 BNN-WQ linf eps=8/255
    PGD++ NJS"``) -> accuracy (%) under that attack over the training seeds run, a
    `_verdicts.Estimate` (mean ± sample std over the seeds with the binomial noise of the n
    images, `_verdicts.over_seeds`); plus, for the rule's magnitude check,
    ``"<network> <row> <setting> best PGD++ where PGD leaves more"``: the better PGD++
    variant, present only where PGD itself leaves more than the check's bound (elsewhere
    "about 0 %" would say nothing about PGD++: the cell is saturated and left out)."""
    n = results.get("n", results["config"]["n"])
    values: dict[str, list[float]] = {}
    for network, row, _, entry in _runs(results):
        for key, setting in entry["settings"].items():
            for name, measured in setting["attacks"].items():
                values.setdefault(f"{network} {row} {key} {name}", []).append(
                    100 * measured["accuracy"])
    ours = {cell: _verdicts.over_seeds(v, n=n) for cell, v in values.items()}
    for check in _verdicts.load_rule(RULE)["checks"]:
        if check["kind"] != "in_range":
            continue
        for binding in _verdicts._bindings(check):
            name = check["a"].format_map(binding)
            base = name.removesuffix(MAGNITUDE)
            pgd, pp = ours.get(f"{base} PGD"), [ours.get(f"{base} PGD++ {v}")
                                                for v in ("NJS", "HNS")]
            if pgd is None or None in pp or pgd.mean <= check["high"]:
                continue
            ours[name] = min(pp, key=lambda e: e.mean)
    return ours


def _cell(values: list, n: int) -> str:
    values = [100 * v for v in values if v is not None]
    return _verdicts.over_seeds(values, n=n).text(1) if values else "—"


def _paper_rows() -> dict:
    """``(network, row)`` -> the paper's printed cells by tfbnn's attack name, with the
    clean accuracy of Table 1 where it has one."""
    table2, table3 = paper("gupta2022_table2"), paper("gupta2022_table3")
    table1 = paper("gupta2022_table1")
    rows = {}
    for network in TITLES.values():
        for row, (table, printed) in {"BNN-WQ": (table2, f"CIFAR-10 {network}"),
                                      "REF": (table3, f"REF {network}"),
                                      "BNN-WAQ": (table3, f"BNN-WAQ {network}")}.items():
            if printed not in table["rows"]:
                continue
            cells = dict(zip(table["columns"], table["rows"][printed]))
            got = {name: cells[column] for name, column in PAPER_COLUMNS.items()}
            clean = f"{network} Clean"
            if clean in table1["columns"]:
                got["clean"] = table1["rows"][row][table1["columns"].index(clean)]
            rows[(network, row)] = got
    return rows


def _tables(results: dict) -> list[str]:
    """The paper's rows beside tfbnn's (Tables 2 and 3 at the paper's radii), the sweep,
    and the networks' logit scale."""
    cfg, n = results["config"], results.get("n", results["config"]["n"])
    linf, l2 = setting_key("linf", cfg["linf_eps"]), setting_key("l2", cfg["l2_eps"])
    theirs = _paper_rows()
    header = (["network", "type", "source", "clean"] + list(LINF) + list(L2)
              + ["worst case (these attacks)", f"worst case with evaluate --version "
                                               f"{cfg['ensemble']}"])
    rows, sweep_rows, scale_rows = [], [], []
    by_model: dict = {}
    for network, row, seed, entry in _runs(results):
        by_model.setdefault((network, row), []).append((seed, entry))
    order = [(TITLES[a], ROWS[v]) for a in cfg["architectures"] for v in cfg["variants"]]
    for network, row in order:
        printed = theirs.get((network, row))
        if printed:
            rows.append([network, row, "paper", _pct_paper(printed.get("clean"))]
                        + [_pct_paper(printed[a]) for a in LINF + L2]
                        + [f"{min(printed[a] for a in LINF):.2f} (its best attack)", "—"])
        runs = by_model.get((network, row))
        if not runs:
            if network in (TITLES[a] for a in NOT_BUILT):
                rows.append([network, row, "tfbnn", NOT_RUN] + ["—"] * (len(header) - 4))
            continue
        groups = ([(f"tfbnn, mean ± std ({len(runs)} seeds)", [e for _, e in runs])]
                  if len(runs) > 1 else []) + [(f"tfbnn, seed {s}", [e]) for s, e in runs]
        for source, entries in groups:
            def attack(key, name):
                return _cell([e["settings"].get(key, {}).get("attacks", {}).get(name, {})
                              .get("accuracy") for e in entries], n)
            rows.append([network, row, source, _cell([e["clean_accuracy"] for e in entries], n)]
                        + [attack(linf, a) for a in LINF] + [attack(l2, a) for a in L2]
                        + [_cell([e.get("worst_case_accuracy") for e in entries], n),
                           _cell([e.get("ensemble", {}).get("accuracy") for e in entries], n)])
            for eps in list(cfg["sweep"]) + [cfg["linf_eps"]]:
                key = setting_key("linf", eps)
                sweep_rows.append([network, row, source, f"{eps:g}/255"]
                                  + [attack(key, a) for a in SWEEP])
            scale_rows.append([network, row, source,
                               _cell([e["test_accuracy"] for e in entries], None),
                               _mean([e["logits"]["mean_abs_logit"] for e in entries]),
                               _mean([e["logits"]["mean_margin"] for e in entries])])
    lines = ["Tables 2 and 3 at the paper's radii (L-inf 8/255, L2 120/255); adversarial "
             "accuracy % (lower = stronger attack):", ""]
    lines += markdown_table(header, rows)
    lines += ["", "L-inf eps sweep (tfbnn only; the paper reports 8/255), accuracy %:", ""]
    lines += markdown_table(["network", "type", "source", "eps"] + list(SWEEP), sweep_rows)
    lines += ["", "Logit scale on the clean test images (large logits saturate the softmax, "
              "the paper's reason why PGD's gradients vanish on BNNs):", ""]
    lines += markdown_table(["network", "type", "source", "clean % (whole test split)",
                             "mean abs logit", "mean top-1 minus top-2 margin"], scale_rows)
    return lines


def _pct_paper(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def _mean(values) -> str:
    return f"{np.mean(values):.3g}"


def plot(results: dict, out, *, attacks=SWEEP, rows: dict = ROWS, paper_rows=None,
         columns: int = 3) -> list:
    """Accuracy against the L-inf radius for ``attacks`` (PGD and both PGD++), one panel
    per network (first training seed, variants named by ``rows``), the paper's 8/255
    numbers (``paper_rows``, default Tables 2 and 3) as crosses, at most ``columns``
    panels a line: ``STEM.png``. The Tables 5/8 tutorial draws its figure here too."""
    cfg = results["config"]
    panels = [(network, row, entry) for network, row, seed, entry in _runs(results, rows)
              if seed == str(cfg["seeds"][0])]
    if not panels or out is None:
        return []
    theirs = _paper_rows() if paper_rows is None else paper_rows
    plt = _common.pyplot()
    columns = min(columns, len(panels))
    lines = -(-len(panels) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(4 * columns, 3.2 * lines), squeeze=False)
    radii = sorted(set(cfg["sweep"]) | {cfg["linf_eps"]})
    for ax, (network, row, entry) in zip(axes.flat, panels):
        printed = theirs.get((network, row), {})
        for i, name in enumerate(attacks):
            points = [(eps, entry["settings"].get(setting_key("linf", eps), {})
                       .get("attacks", {}).get(name)) for eps in radii]
            points = [(eps, 100 * r["accuracy"]) for eps, r in points if r]
            if points:
                ax.plot(*zip(*points), marker="o", color=f"C{i}", label=f"tfbnn {name}")
            if printed.get(name) is not None:
                ax.plot([cfg["linf_eps"]], [printed[name]], marker="x", markersize=9,
                        linestyle="none", color=f"C{i}", label=f"paper {name}")
        ax.set(title=f"{network} {row}", xlabel="L-inf eps (/255)", ylabel="accuracy (%)",
               ylim=(-2, 100), xscale="log", xticks=radii)
        ax.set_xticklabels([f"{r:g}" for r in radii])
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    return [_common.save_figure(fig, out)]


def data_title(results: dict, entries: list) -> str:
    """The CIFAR-10 a run measured on (its stored title, else its networks')."""
    return results.get("data") or (entries[0]["data"] if entries else "CIFAR-10")


def networks_scale(results: dict, entries: list, seeds: str, *, network: str = "",
                   training: str = "", images: str = "test images") -> str:
    """The start of a CIFAR tutorial's ``tfbnn_scale``, shared so that every section
    states its networks alike: ``"<data>, <network>width w, I training iterations at
    batch 128<training>, <seeds>; <n> <images>"`` and whether the images were a seeded
    draw."""
    cfg = results["config"]
    iterations = ", ".join(f"{i:,}" for i in sorted({e["iterations"] for e in entries}))
    drawn = " (a seeded draw: the split is ordered by class)" if results.get("drawn") else ""
    return (f"{data_title(results, entries)}, {network}width {cfg['width']:g}, {iterations} "
            f"training iterations at batch 128{training}, {seeds}; "
            f"{results.get('n', cfg['n'])} {images}{drawn}")


def seeds_text(seeds) -> str:
    """``"training seeds 1234, 1235"`` (``"training seed 1234"`` for one)."""
    return f"training seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


_ONE_SEED = ("one training seed, so no ± is printed: the verdict takes each cell's noise "
             "as the binomial standard error of an accuracy on {n} images")
_SPREAD = ("the first tfbnn row of each network is the mean ± sample standard deviation "
           "over the training seeds, the rows below it one per seed; the verdict takes each "
           "cell's noise as that spread plus the binomial standard error of an accuracy on "
           "{n} images (the same images for every seed, so that part does not shrink with the "
           "seeds)")


def sweep_and_worst_case(cfg: dict, seeds, n: int, noise=(_ONE_SEED, _SPREAD)) -> str:
    """The end of a CIFAR attack tutorial's ``tfbnn_scale``: the eps sweep, what the
    accuracy and the worst case are over, and what ± means: ``noise`` is the text for one
    training seed and for several (default `_ONE_SEED`, `_SPREAD`)."""
    return (f"sweep at L-inf {', '.join(f'{e:g}' for e in cfg['sweep'])} /255 with the same "
            "step/eps ratio; accuracy % over all the images (lower = stronger attack); worst "
            f"case = per-example worst case over the L-inf {cfg['linf_eps']:g}/255 attacks "
            "and the ensemble; " + noise[len(seeds) > 1].format(n=n))


def summarize(results: dict, plots: list | None = None) -> dict:
    """The section of docs/RESULTS.md: Tables 2 and 3 beside tfbnn's numbers, the sweep,
    the logit scale, and the committed rule's verdict (`RULE`)."""
    cfg = results["config"]
    n = results.get("n", cfg["n"])
    rule = _verdicts.load_rule(RULE)
    ours = estimates(results)
    judged = _verdicts.judge(rule, ours, {})
    seeds = sorted({int(s) for per_seed in results["models"].values() for s in per_seed})
    entries = [e for *_, e in _runs(results)]
    not_run = "; ".join(f"{TITLES[a]}: {why}" for a, why in results.get("not_run", {}).items())
    magnitude = [c for c in rule["checks"] if c["kind"] == "in_range"]
    skipped = [c["a"].format_map(b) for c in magnitude for b in _verdicts._bindings(c)
               if c["a"].format_map(b) not in ours
               and c["a"].format_map(b).replace(MAGNITUDE, " PGD") in ours]
    why = judged["why"]
    if skipped:
        why += (f" Magnitude cells left out because PGD itself leaves at most "
                f"{magnitude[0]['high']:g} % there (so 'about 0 %' says nothing about "
                f"PGD++; listed as not run above): "
                f"{', '.join(c.removesuffix(MAGNITUDE) for c in skipped)}.")
    finding = _verdicts.finding(rule, ours)
    if finding:
        why += " " + finding
    if not_run:
        why += f" Not run: {not_run}."
    return _common.summary(
        title=f"Gupta & Ajanthan, Tables 2 and 3, ResNet-18 and VGG-16 on "
              f"{data_title(results, entries)}: "
              "FGSM/PGD vs FGSM++/PGD++",
        command=_common.command(NAME, cfg, DEFAULT, FULL),
        paper_scale="the official CIFAR-10 (50,000 training images), full-width networks "
                    "trained 100,000 iterations at batch 128, BNN-WQ by MD-tanh-S; attacks "
                    "at its Table 6 parameters, one random start, on the whole test set "
                    "(10,000 images); one number per cell, no spread; also ResNet-50 and "
                    "DenseNet-121 rows",
        tfbnn_scale=(networks_scale(results, entries, seeds_text(seeds))
                     + f"; attacks at the paper's Table 6 parameters ({cfg['iters']} "
                       f"iterations, L-inf eps {cfg['linf_eps']:g}/255 step "
                       f"{cfg['linf_step']:g}/255, L2 eps {cfg['l2_eps']:g}/255 step "
                       f"{cfg['l2_step']:g}/255), one random start, attack seed {cfg['seed']}; "
                     + sweep_and_worst_case(cfg, seeds, n)),
        table=_tables(results), verdict=judged["verdict"], why=why, plots=plots)


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``), the plot
    redrawn beside ``out`` from the stored numbers."""
    return summarize(results, plot(results, out))


if __name__ == "__main__":
    main(_common.cli(__doc__, FULL, ("n", "seed", "seeds", "epochs", "out", "width", "iterations"),
                     architectures=dict(nargs="+", help=" ".join(TITLES)),
                     variants=dict(nargs="+", help=" ".join(ROWS)),
                     iters=dict(type=int, help="attack iterations (the paper: 20)"),
                     sweep=dict(type=float, nargs="+", help="extra L-inf radii, pixels")))
