"""PGD++ against the DLR loss, APGD and the Square attack on CIFAR-10: Tables 5 and 8.

Gupta & Ajanthan, "Improved Gradient based Adversarial Attacks for Quantized Networks"
(AAAI 2022), Table 5 (ResNet-18: REF, BNN-WQ, BNN-WAQ and the PGD-trained REF* and
BNN-WQ*; FGSM, FGSM (DLR), FGSM++ NJS and HNS, PGD, PGD (DLR), APGD with the DLR loss,
Square, PGD++ NJS and HNS) and Table 8 (VGG-16: REF, BNN-WQ, BNN-WAQ; APGD, Square,
PGD++ NJS and HNS), in the paper's own setting: L-inf 8/255 on CIFAR-10. The networks are
those of `gupta2022_cifar_models.py`, built through the same specs
(`gupta2022_cifar_models.spec_for`, `_zoo.trained_model`) so every CIFAR tutorial shares
them: BNN-WQ is MD-tanh-S, BNN-WAQ binarizes weights and activations, and the '*' rows
(variants ``REF*``, ``WQ-MD*``) are trained with Madry's PGD-7 (8/255, step 2/255) for the
last ``pgd_last_epochs`` epochs (2 by default; throughout with ``--full``, as the paper).

Attacks, all L-inf at 8/255 with one random start and attack seed 0:

- FGSM, FGSM++ NJS and HNS, PGD, PGD++ NJS and HNS exactly as in
  `gupta2022_cifar_attack_strength.py` (the paper's Table 6: FGSM one step of 8/255; PGD
  step 2/255, 20 iterations, the paper's Uniform(-1, 1) start; HNS on the linear grid of
  100 betas; NJS rho 0.01), so the non-'*' networks get the same numbers there;
- FGSM (DLR) and PGD (DLR): the same attacks with ``loss_fn=tfbnn.attacks.dlr_loss``
  (Croce & Hein's Difference of Logits Ratio; `fast_gradient_method` and
  `projected_gradient_descent` take a loss, so nothing had to be added to tfbnn);
- APGD (DLR) and, beside the paper, APGD-CE: `tfbnn.evaluation.catalog`'s ``apgd_dlr`` and
  ``apgd_ce``, at the catalog's budget, 100 iterations and 1 restart (the paper states no
  APGD budget; "the attack parameters are same as used for the other experiments" fixes
  only eps);
- Square: the catalog's ``square`` (margin loss, p_init 0.8), at 1,000 queries per image,
  the catalog's ``quick`` version (its ``standard`` version's 5,000 with ``--full``; the
  paper states no query budget);
- tfbnn's answer to "how robust is it really": `tfbnn.evaluation.evaluate` with
  ``version="standard"`` (APGD-CE, PGD++ NJS and HNS, APGD-T, FAB-T, Square 5,000; cascade)
  at 8/255, its per-example worst case joined with every attack above
  (`gupta2022_cifar_attack_strength.ensemble`);
- an eps sweep, L-inf 1, 2 and 4 /255, of PGD, APGD (DLR), Square and both PGD++ (PGD steps
  eps/4, the paper's ratio; APGD and Square at the budgets above), and each network's
  logit scale (mean |logit|, mean top-1 minus top-2 margin on the clean test images): at
  the CPU scale 8/255 leaves many attacks at 0 %, where nothing can be ordered.

Test images: n drawn with a fixed seed from the test split
(`gupta2022_cifar_attack_strength.cifar_test`), the same for every network; accuracy is
over all n (a misclassified image counts as broken; an attack's robust image must also be
classified correctly before the attack), one attack run per training seed.

The verdict applies paper_numbers/rules/gupta2022_cifar_apgd_square.json (`_verdicts`): the
better PGD++ is not weaker than PGD (DLR), APGD-DLR or Square by more than 1 accuracy point
beyond two standard errors on every row of both tables (1 point: two binomial standard
errors of a 50 % accuracy on the paper's 10,000 images; the paper's own printed tables
leave one item inside that noise, Table 5's BNN-WQ* APGD 40.85 against PGD++ HNS 40.67,
so they themselves would read "inconclusive"); FGSM (DLR) leaves more than the
better FGSM++; on BNN-WAQ, PGD (DLR) and APGD-DLR leave more than PGD++ (the DLR loss alone
does not close the gap); on REF* and BNN-WQ*, FGSM (DLR) and Square leave more than FGSM
and PGD. Pairs with both attacks at 0 (or 100) % are saturated and count for nothing (the
PGD-trained networks are judged only where their attacks are not saturated); a run where
everything saturates reads "not comparable". APGD-CE and the sweep are findings beside it.

Scale. Paper: full-width networks trained 100,000 iterations on the official CIFAR-10,
the '*' ones on PGD throughout, the whole test set. Default here (2 CPU cores): width
0.25, 10 epochs, training seed 1234, the '*' networks PGD-trained for the last 2 epochs,
on whatever `tfbnn.data.load_cifar10` finds (here the JPEG stand-in, labelled "CIFAR-10
(JPEG stand-in, 20k train)"), n = 48 test images. Measured time of the default once the
eight networks were cached: 1,788 s (29.8 minutes, loading and tracing included;
2026-12-05, on the 2 CPU cores shared with three other jobs: a PGD training run and two
tutorials). How it divides, from timing each attack once on one batch of 50 images of
untrained width-0.25 networks (in CPU seconds of the process): per 50 images PGD-20 takes
0.9-2.7 s (VGG-16 REF to ResNet-18 BNN-WAQ), each PGD++ 1.1-1.4x that, APGD (100
iterations) 4.5-14 s, the four FGSM attacks together 0.8-2.5 s, a forward pass 0.4-0.7 ms
per image and Square 0.7-1.9 ms per image and query, so its 1,000 queries cost about 1 s
per image left robust (it stops at an image's first success); APGD-T and FAB-T of the
standard ensemble take 9.6 and 15.7 s per target (ResNet-18 REF; VGG-16 REF 5.9 and 10.2)
on the images APGD-CE and PGD++ leave, and its Square 5,000 about 4.5 s per image left.
n = 100 would take an estimated hour (the '*' networks' share moves with how many of their
images survive), hence 48. The networks themselves, if not cached, take about 4-8 minutes
each to train (`gupta2022_cifar_models.py`), the '*' ones about 2-3x that (PGD-7 for 2 of
10 epochs). ``--full``: full width, the authors' 100,000 training iterations with PGD
throughout for the '*' networks, Square at 5,000 queries, the whole test set (GPU work;
the same code path). Results are written after every attack of every network, so a killed
run resumes.

    python tutorials/gupta2022_cifar_apgd_square.py [--full] [--n 48] [--seeds 1234]
"""

from __future__ import annotations

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import _common
import _verdicts
import gupta2022_cifar_attack_strength as strength
import gupta2022_cifar_models as cifar_models
from _common import RESULTS, markdown_table, paper
from gupta2022_cifar_attack_strength import setting_key
from tfbnn import attacks, checks
from tfbnn.evaluation.catalog import ATTACKS, VERSIONS, Stage

NAME = RULE = "gupta2022_cifar_apgd_square"
TITLES = {"resnet18": "ResNet-18", "vgg16": "VGG-16"}
ROWS = {"REF": "REF", "WQ-MD": "BNN-WQ", "WAQ": "BNN-WAQ", "REF*": "REF*", "WQ-MD*": "BNN-WQ*"}
"""Variants (`gupta2022_cifar_models.spec_for`; a trailing '*' is PGD-trained) -> the paper's
row names (BNN-WQ is MD-tanh-S)."""
PAPER_TABLES = {"resnet18": "gupta2022_table5", "vgg16": "gupta2022_table8"}
"""Where the paper prints each network's row: Table 5 (ResNet-18), Table 8 (VGG-16)."""

APGD_BUDGET = Stage("apgd_dlr")
"""The catalog's APGD budget (`Stage` defaults: 100 iterations, 1 restart), the one its
``quick`` version runs APGD-DLR at."""
_QUICK_SQUARE, _STANDARD_SQUARE = (
    next(s for s in VERSIONS[v] if s.attack == "square").queries for v in ("quick", "standard"))
"""Square's query budget in the catalog's ``quick`` (1,000) and ``standard`` (5,000)
versions: the default and ``--full``."""

DEFAULT = {"networks": [f"resnet18 {v}" for v in ROWS] + [f"vgg16 {v}" for v in
                                                          ("REF", "WQ-MD", "WAQ")],
           "width": 0.25, "epochs": 10, "iterations": None,
           "pgd_last_epochs": cifar_models.PGD_LAST_EPOCHS, "seeds": [1234],
           "n": 48, "batch": 250, "iters": 20, "seed": 0, "linf_eps": 8, "linf_step": 2,
           "apgd_iters": APGD_BUDGET.nb_iter, "apgd_restarts": APGD_BUDGET.restarts,
           "square_queries": _QUICK_SQUARE, "sweep": [1, 2, 4],
           "ensemble": "standard", "ensemble_iters": None,
           "out": str(RESULTS / f"{NAME}.json")}
"""Radii and steps in pixels of the [0, 255] scale (the paper's Table 6); ``networks``:
``"<architecture> <variant>"``, Table 5's five ResNet-18 rows and Table 8's three VGG-16
ones; ``seed``: the attacks' random starts; ``seeds``: the networks' training seeds (one
network each); ``apgd_iters``, ``apgd_restarts``, ``square_queries``: the evaluation
catalog's budgets (the paper states none); ``ensemble_iters``: None keeps the version's own
iteration counts."""
FULL = {"width": 1.0, "iterations": 100_000, "pgd_last_epochs": None, "n": 10_000,
        "square_queries": _STANDARD_SQUARE}

LINF = ("FGSM", "FGSM (DLR)", "FGSM++ NJS", "FGSM++ HNS", "PGD", "PGD (DLR)", "APGD (DLR)",
        "Square", "PGD++ NJS", "PGD++ HNS", "APGD-CE")
"""The attacks at the paper's 8/255, in Table 5's column order, APGD-CE (not in the paper)
last."""
SWEEP = ("PGD", "APGD (DLR)", "Square", "PGD++ NJS", "PGD++ HNS")
PAPER_COLUMNS = {"FGSM": "FGSM", "FGSM (DLR)": "FGSM (DLR)", "FGSM++ NJS": "FGSM++ NJS",
                 "FGSM++ HNS": "FGSM++ HNS", "PGD": "PGD", "PGD (DLR)": "PGD (DLR)",
                 "APGD (DLR)": "APGD", "Square": "Square Attack", "PGD++ NJS": "PGD++ NJS",
                 "PGD++ HNS": "PGD++ HNS"}
"""tfbnn's attack names -> the columns of the paper's Tables 5 and 8 (its APGD uses DLR)."""


def check_config(config: dict) -> None:
    """Refuse a config that cannot run, before any network is trained or attacked."""
    networks = config["networks"]
    if isinstance(networks, str) or not networks:
        raise ValueError(f"networks={networks!r}: give a list of '<architecture> <variant>', "
                         "e.g. ['resnet18 REF', 'vgg16 WAQ'].")
    for network in networks:
        parts = str(network).split()
        if len(parts) != 2 or parts[0] not in TITLES or parts[1] not in ROWS:
            raise ValueError(f"networks={networks!r}: {network!r} is not "
                             "'<architecture> <variant>' with architecture in "
                             f"{list(TITLES)} and variant in {list(ROWS)} (BNN-WQ is WQ-MD, "
                             "the paper's MD-tanh-S; '*' is PGD-trained).")
    if len(set(networks)) != len(networks):
        raise ValueError(f"networks={networks!r}: a network is named twice.")
    checks.check_int("n", config["n"], 1, hint=" Pass --n with a positive count of images.")
    checks.check_int("batch", config["batch"], 1)
    checks.check_int("iters", config["iters"], 1, hint=" The paper's Table 6: 20.")
    checks.check_int("apgd_iters", config["apgd_iters"], 1,
                     hint=" The evaluation catalog's: 100.")
    checks.check_int("apgd_restarts", config["apgd_restarts"], 1)
    checks.check_int("square_queries", config["square_queries"], 1,
                     hint=" The catalog's quick version: 1000; standard: 5000.")
    checks.check_int("ensemble_iters", config["ensemble_iters"], 1, allow_none=True)
    checks.check_int("pgd_last_epochs", config["pgd_last_epochs"], 1, allow_none=True,
                     hint=" None trains the '*' networks on PGD throughout.")
    checks.check_int("epochs", config["epochs"], 1)
    checks.check_int("iterations", config["iterations"], 1, allow_none=True)
    checks.check_number("width", config["width"], positive=True)
    checks.check_int_list("seeds", config["seeds"], 0, example="--seeds 1234")
    for name in ("linf_eps", "linf_step"):
        checks.check_number(name, config[name], positive=True)
    for eps in config["sweep"]:
        checks.check_number("sweep", eps, positive=True)
    if config["linf_eps"] in config["sweep"] or len(set(config["sweep"])) != len(
            config["sweep"]):
        raise ValueError(f"sweep={config['sweep']!r}: give each radius once and leave out "
                         f"linf_eps={config['linf_eps']!r}, which the table measures already.")
    checks.check_choice("ensemble", config["ensemble"], VERSIONS)


def attack_table(eps: float, step: float, config: dict, names=LINF) -> dict:
    """The L-inf attacks ``names`` at radius ``eps`` and PGD step ``step`` (both in [0, 1]
    units): name -> ``f(model_fn, x, y)``. FGSM, FGSM++, PGD and PGD++ are the Tables 2/3
    tutorial's (`gupta2022_cifar_attack_strength._linf_attacks`); the DLR variants are the
    same attacks with `tfbnn.attacks.dlr_loss`; APGD and Square run through the evaluation
    catalog (`tfbnn.evaluation.catalog.ATTACKS`) at the config's budgets."""
    box = dict(clip_min=0.0, clip_max=1.0)
    iters, seed = config["iters"], config["seed"]
    pgd = dict(eps=eps, eps_iter=step, nb_iter=iters, norm=np.inf, seed=seed,
               rand_init="paper", **box)
    restarts = config["apgd_restarts"]

    def catalog(name, nb_iter, **budget):
        run = ATTACKS[name].run
        return lambda f, x, y: run(f, x, y, eps, "linf", nb_iter, seed, box, **budget)

    table = {
        **strength._linf_attacks(eps, step, iters, seed,
                                 names=[n for n in names if n in strength.LINF]),
        "FGSM (DLR)": lambda f, x, y: attacks.fast_gradient_method(
            f, x, eps, np.inf, attacks.dlr_loss, y=y, **box),
        "PGD (DLR)": lambda f, x, y: attacks.projected_gradient_descent(
            f, x, y=y, loss_fn=attacks.dlr_loss, **pgd),
        "APGD (DLR)": catalog("apgd_dlr", config["apgd_iters"], restarts=restarts),
        "APGD-CE": catalog("apgd_ce", config["apgd_iters"], restarts=restarts),
        "Square": catalog("square", config["apgd_iters"], queries=config["square_queries"]),
    }
    return {name: table[name] for name in names}


def settings(config: dict):
    """``(key, attacks)`` per setting: L-inf at the paper's eps, then the sweep's radii."""
    px = 1 / 255
    yield (setting_key("linf", config["linf_eps"]),
           attack_table(config["linf_eps"] * px, config["linf_step"] * px, config))
    for eps in config["sweep"]:
        # the paper's step/eps ratio (2/8) at every radius of the sweep
        step = eps * config["linf_step"] / config["linf_eps"]
        yield setting_key("linf", eps), attack_table(eps * px, step * px, config, SWEEP)


def measure(attack, model_fn, x, y, clean, batch: int) -> dict:
    """One attack: accuracy, seconds, which examples it left robust
    (`gupta2022_cifar_attack_strength.measure`; looked up here so a test can replace it)."""
    return strength.measure(attack, model_fn, x, y, clean, batch)


def ensemble(model, x, y, config: dict) -> dict:
    """tfbnn's evaluation at the paper's eps (`gupta2022_cifar_attack_strength.ensemble`)."""
    return strength.ensemble(model, x, y, config)


def main(config: dict) -> dict:
    run, x, y, train_images = strength.start(config, NAME, DEFAULT, FULL, check_config)
    config, models = run.config, run.section("models")
    for network in config["networks"]:
        architecture, variant = network.split()
        per_seed = models.setdefault(network, {})
        for seed in config["seeds"]:
            spec = cifar_models.spec_for({**config, "seed": seed}, architecture, variant,
                                         train_images)
            strength.attack_network(run, per_seed, str(seed), spec, x, y, config,
                                    settings(config),
                                    f"{TITLES[architecture]} {ROWS[variant]} seed {seed}",
                                    measure=measure, ensemble=ensemble)
    return run.finish(resummarize(run.results, run.out))


def _runs(results: dict):
    """``(network, row, seed, entry)`` for every measured network and training seed."""
    return strength._runs(results, ROWS)


def estimates(results: dict) -> dict:
    """``"<network> <row> <setting> <attack>"`` (``"ResNet-18 BNN-WQ* linf eps=8/255
    APGD (DLR)"``) -> accuracy (%) under that attack over the training seeds run, a
    `_verdicts.Estimate` (mean ± sample std over the seeds with the binomial noise of the n
    images, `_verdicts.over_seeds`)."""
    n = results.get("n", results["config"]["n"])
    values: dict[str, list[float]] = {}
    for network, row, _, entry in _runs(results):
        for key, setting in entry["settings"].items():
            for name, measured in setting["attacks"].items():
                values.setdefault(f"{network} {row} {key} {name}", []).append(
                    100 * measured["accuracy"])
    return {cell: _verdicts.over_seeds(v, n=n) for cell, v in values.items()}


def _paper_rows() -> dict:
    """``(network, row)`` -> the paper's printed cells (Tables 5 and 8) by tfbnn's attack
    name, with the clean accuracy of Table 1 where it has one."""
    table1 = paper("gupta2022_table1")
    rows = {}
    for architecture, name in PAPER_TABLES.items():
        table, network = paper(name), TITLES[architecture]
        for row, printed in table["rows"].items():
            cells = dict(zip(table["columns"], printed))
            got = {a: cells[c] for a, c in PAPER_COLUMNS.items() if c in cells}
            clean = f"{network} Clean"
            if row in table1["rows"] and clean in table1["columns"]:
                got["clean"] = table1["rows"][row][table1["columns"].index(clean)]
            rows[(network, row)] = got
    return rows


def _cell(values: list, n) -> str:
    values = [100 * v for v in values if v is not None]
    return _verdicts.over_seeds(values, n=n).text(1) if values else "—"


def _pct_paper(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def _tables(results: dict) -> list[str]:
    """The paper's rows beside tfbnn's (Tables 5 and 8 at 8/255), the sweep, and the
    networks' logit scale."""
    cfg, n = results["config"], results.get("n", results["config"]["n"])
    linf = setting_key("linf", cfg["linf_eps"])
    theirs = _paper_rows()
    header = (["network", "type", "source", "clean"] + list(LINF)
              + ["worst case (these attacks)",
                 f"worst case with evaluate --version {cfg['ensemble']}"])
    rows, sweep_rows, scale_rows = [], [], []
    by_model: dict = {}
    for network, row, seed, entry in _runs(results):
        by_model.setdefault((network, row), []).append((seed, entry))
    order = [(TITLES[a], ROWS[v]) for a, v in (k.split() for k in cfg["networks"])]
    for network, row in order:
        printed = theirs.get((network, row))
        if printed:
            best = min(v for a, v in printed.items() if a != "clean")
            rows.append([network, row, "paper", _pct_paper(printed.get("clean"))]
                        + [_pct_paper(printed.get(a)) for a in LINF]
                        + [f"{best:.2f} (its best attack)", "—"])
        runs = by_model.get((network, row))
        if not runs:
            continue
        groups = ([(f"tfbnn, mean ± std ({len(runs)} seeds)", [e for _, e in runs])]
                  if len(runs) > 1 else []) + [(f"tfbnn, seed {s}", [e]) for s, e in runs]
        for source, entries in groups:
            def attack(key, name):
                return _cell([e["settings"].get(key, {}).get("attacks", {}).get(name, {})
                              .get("accuracy") for e in entries], n)
            rows.append([network, row, source, _cell([e["clean_accuracy"] for e in entries], n)]
                        + [attack(linf, a) for a in LINF]
                        + [_cell([e.get("worst_case_accuracy") for e in entries], n),
                           _cell([e.get("ensemble", {}).get("accuracy") for e in entries], n)])
            for eps in sorted(list(cfg["sweep"]) + [cfg["linf_eps"]]):
                key = setting_key("linf", eps)
                sweep_rows.append([network, row, source, f"{eps:g}/255"]
                                  + [attack(key, a) for a in SWEEP])
            scale_rows.append([network, row, source,
                               _cell([e["test_accuracy"] for e in entries], None),
                               f"{np.mean([e['logits']['mean_abs_logit'] for e in entries]):.3g}",
                               f"{np.mean([e['logits']['mean_margin'] for e in entries]):.3g}"])
    lines = ["Tables 5 (ResNet-18) and 8 (VGG-16) at L-inf 8/255; adversarial accuracy % "
             "(lower = stronger attack); APGD-CE is tfbnn's addition, the paper's APGD uses "
             "the DLR loss:", ""]
    lines += markdown_table(header, rows)
    lines += ["", "L-inf eps sweep (tfbnn only; the paper reports 8/255), accuracy %:", ""]
    lines += markdown_table(["network", "type", "source", "eps"] + list(SWEEP), sweep_rows)
    lines += ["", "Logit scale on the clean test images (large logits saturate the softmax, "
              "which the DLR loss is built to ignore):", ""]
    lines += markdown_table(["network", "type", "source", "clean % (whole test split)",
                             "mean abs logit", "mean top-1 minus top-2 margin"], scale_rows)
    return lines


def plot(results: dict, out) -> list:
    """Accuracy against the L-inf radius for PGD, APGD (DLR), Square and both PGD++, one
    panel per network (first training seed), the paper's 8/255 numbers as crosses:
    ``STEM.png`` (drawn by `gupta2022_cifar_attack_strength.plot`)."""
    return strength.plot(results, out, attacks=SWEEP, rows=ROWS, paper_rows=_paper_rows(),
                         columns=4)


def summarize(results: dict, plots: list | None = None) -> dict:
    """The section of docs/RESULTS.md: Tables 5 and 8 beside tfbnn's numbers, the sweep,
    the logit scale, and the committed rule's verdict (`RULE`) with its findings."""
    cfg = results["config"]
    n = results.get("n", cfg["n"])
    rule = _verdicts.load_rule(RULE)
    ours = estimates(results)
    judged = _verdicts.judge(rule, ours, {})
    seeds = sorted({int(s) for per_seed in results["models"].values() for s in per_seed})
    entries = [e for *_, e in _runs(results)]
    starred = any(k.endswith("*") for k in results["models"])
    last = cfg.get("pgd_last_epochs", cifar_models.PGD_LAST_EPOCHS)
    why = judged["why"]
    finding = _verdicts.finding(rule, ours)
    if finding:
        why += " " + finding
    return _common.summary(
        title=f"Gupta & Ajanthan, Tables 5 and 8, ResNet-18 and VGG-16 on "
              f"{strength.data_title(results, entries)}: "
              "PGD++ vs the DLR loss, APGD and Square",
        command=_common.command(NAME, cfg, DEFAULT, FULL),
        paper_scale="the official CIFAR-10 (50,000 training images), full-width networks "
                    "trained 100,000 iterations at batch 128, BNN-WQ by MD-tanh-S, REF* and "
                    "BNN-WQ* PGD-7-trained (8/255) throughout; attacks at its Table 6 "
                    "parameters, one random start, APGD iterations and Square queries not "
                    "stated, on the whole test set (10,000 images); one number per cell, no "
                    "spread",
        tfbnn_scale=(strength.networks_scale(
                         results, entries, strength.seeds_text(seeds),
                         training=(", '*' networks PGD-7-trained (8/255, step 2/255) "
                                   + ("throughout" if last is None
                                      else f"for the last {last} epochs")) if starred else "")
                     + f"; FGSM/PGD/PGD++ at the paper's Table 6 parameters ({cfg['iters']} "
                       f"iterations, L-inf eps {cfg['linf_eps']:g}/255 step "
                       f"{cfg['linf_step']:g}/255), one random start, attack seed "
                       f"{cfg['seed']}; the DLR variants with tfbnn.attacks.dlr_loss; APGD "
                       f"(DLR and CE) and Square from tfbnn.evaluation.catalog at its budgets: "
                       f"APGD {cfg['apgd_iters']} iterations x {cfg['apgd_restarts']} "
                       f"restart{'s' if cfg['apgd_restarts'] > 1 else ''}, Square "
                       f"{cfg['square_queries']:,} queries (p_init 0.8, margin loss); "
                     + strength.sweep_and_worst_case(cfg, seeds, n)),
        table=_tables(results), verdict=judged["verdict"], why=why, plots=plots)


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``), the plot
    redrawn beside ``out`` from the stored numbers."""
    return summarize(results, plot(results, out))


if __name__ == "__main__":
    main(_common.cli(__doc__, FULL, ("n", "seed", "seeds", "epochs", "out", "width", "iterations"),
                     networks=dict(nargs="+", help="'<architecture> <variant>' items, e.g. "
                                                   "'resnet18 REF*' 'vgg16 WAQ'"),
                     iters=dict(type=int, help="FGSM/PGD attack iterations (the paper: 20)"),
                     apgd_iters=dict(type=int, help="APGD iterations (catalog: 100)"),
                     square_queries=dict(type=int, help="Square queries per image"),
                     sweep=dict(type=float, nargs="+", help="extra L-inf radii, pixels")))
