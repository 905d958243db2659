"""Substitute black-box attack on CIFAR-10 oracles A, A+, C, C+ (and B, B+): Table 5.

Mirrors: Galloway, Taylor, Moussa, "Attacking Binarized Neural Networks" (ICLR 2018),
section 3.2 and Table 5: Papernot et al.'s substitute black-box attack, run with
CleverHans 2.0.0 on CIFAR-10 oracles (the CleverHans tutorial CNN on 32x32x3 images,
trained for 20 epochs); the numbers are each oracle's clean test accuracy and its
accuracy on test images attacked with FGSM (eps 0.3) crafted on the substitute
("transfer accuracy"). The MNIST version, Table 4, is galloway2018_substitute.py; its
protocol and its `_aggregate` are reused here.

The attack (`tfbnn.attacks.substitute.substitute_blackbox_attack`, the paper's protocol,
unchanged from the MNIST version): the attacker holds out 150 test images, labels them
with the oracle, trains a 2 x 200 ReLU MLP substitute for 10 epochs, and augments its set
along the substitute's Jacobian (lambda = 0.1, CleverHans's sign schedule) 5 times, i.e.
6 substitute rounds and 4,800 oracle queries; then FGSM eps 0.3 on the substitute (its own
predictions as labels) attacks ``n`` other test images and the oracle is scored on them.
The held-out and the attacked images never overlap: the attacked ones are
`gupta2022_cifar_attack_strength.cifar_test`'s seeded draw (the JPEG stand-in's test
split is ordered by class), the held-out ones the last ``holdout`` of the same seeded
permutation (on data not ordered by class: the first ``n`` and the last ``holdout``).
The substitute is trained with ``seeds`` = 3 seeds (0-2) per oracle; tfbnn's number is
the mean ± sample std over those substitutes of *one* trained oracle (the paper: mean ±
std over runs whose number it does not state).

Oracles: `_zoo.model_spec` with ``"dataset": "cifar10"`` (k1 = 64, 20 epochs as the paper,
Adam 1e-3, batch 128, seed 1234, no augmentation, on every training image found: 20,000
in the stand-in). '+' is FGSM adversarial training, which Table 5's caption names without
details: tfbnn uses the paper's only definition of '+' (Table 1: Kurakin et al.'s FGSM with
per-example eps, eps_max 0.3, half clean and half adversarial loss, for the last 5 epochs),
the MNIST models' `_zoo.ADVERSARIES["+"]`. Table 5 has no B rows; B (binary, no scalar)
and B+ are trained and attacked for reference only (shown, never judged); ``--oracles A A+
C C+`` runs the table's rows alone.

Beside the table, as every CIFAR tutorial of issue 14:

- an eps sweep of the transfer attack: FGSM at 1, 2, 4 and 8 /255 on the same substitutes
  (eps 0.3 = 76.5/255 is the table's, far beyond CIFAR's usual 8/255);
- each oracle's logit scale (`gupta2022_cifar_attack_strength.logit_scale`) and clean
  accuracy on the whole test split;
- tfbnn's own answer, white-box: `tfbnn.evaluation.evaluate` with ``version="standard"``
  (cascade) at the table's L-inf eps 0.3 on the first ``ensemble_n`` attacked images, and
  the per-example worst case over it and the transfer attacks of every substitute seed
  (`gupta2022_cifar_attack_strength.ensemble`): a transfer accuracy is an upper bound on
  robustness, not a measure of it.

Scale. Paper: the official CIFAR-10, k1 = 64/128/256, 20 epochs, every test image but
the held-out ones (not stated), runs not stated. Default here (2 CPU cores): k1 = 64, 20
epochs, the paper's substitute protocol (150 held out, 6 rounds, 10 epochs, lambda 0.1,
FGSM eps 0.3), n = 2,000 attacked test images, 3 substitute seeds, the ensemble on the
first 250 of them; ``--full``: every test image but the held-out ones (9,850 on the real
test split), the ensemble on all of them (GPU work). Measured time of the default from an
empty model cache, the six oracles trained included: 85 minutes (2026-12-05; the first
hour beside up to three other jobs at the lowest CPU priority, the last 25 minutes about
alone on the 2 cores, where one clean epoch took about 10 s). Once the oracles are
cached, one substitute seed took 11-13 s alone on the cores (110-594 s under that load),
so the default then takes a few minutes. Earlier estimates under heavier load (51-105 s
per clean epoch, about 330 s per FGSM epoch) put the training at 3-4.5 hours; the
ensemble at eps 0.3 takes about 20-40 s per oracle (APGD-CE breaks almost every image at
once; measured at 16-24 s on 100 images of briefly trained A and C). The results file
is written after every substitute seed, so a killed run resumes; a run with other
``--oracles`` but otherwise the same settings adds to the same file, and the summary covers
every oracle in it.

Verdict: the committed rule of paper_numbers/rules/galloway2018_cifar_substitute.json,
applied by `_verdicts.judge` to each oracle's transfer accuracy (mean ± sample std over
the substitute seeds, plus the binomial noise of the n attacked images): the order of
Table 5's pairs the paper compares (full precision vs scaled binary, A vs C and A+ vs C+,
the conclusion's "binary models were slightly more robust for CIFAR-10"; FGSM training, A
vs A+ and C vs C+) is a claim only where the paper's own k1 column separates the pair
beyond 2 of its standard errors, and must then go the paper's way beyond 2 of tfbnn's
("refuted" when it clearly goes the other way, "inconclusive" inside the noise); pairs
both at 0 or 100 % are saturated and count for nothing; "not comparable" when k1 is not a
paper column or nothing could be compared. `resummarize` recomputes the summary and the
plot from the stored results alone.

    python tutorials/galloway2018_cifar_substitute.py                      # ~25 min + training
    python tutorials/galloway2018_cifar_substitute.py --oracles A A+ C C+  # Table 5's rows
    python tutorials/galloway2018_cifar_substitute.py --full               # 9,850 images
"""

from __future__ import annotations

import time
import warnings

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import _common
import _verdicts
import _zoo
import galloway2018_substitute as mnist_substitute
from _common import RESULTS, markdown_table, paper
from _zoo import trained_model
from gupta2022_cifar_attack_strength import cifar_test, ensemble, logit_scale
from tfbnn import checks
from tfbnn.attacks.fgsm import fast_gradient_method
from tfbnn.attacks.substitute import substitute_blackbox_attack
from tfbnn.batching import map_batches
from tfbnn.evaluation.catalog import VERSIONS

NAME = RULE = "galloway2018_cifar_substitute"
PAPER_TABLE = "galloway2018_table5"
ORDER = ["A", "A+", "B", "B+", "C", "C+"]
PAPER_ROWS = ("A", "A+", "C", "C+")
"""Table 5's oracles; B and B+ are run for reference (Table 5 has no B rows)."""

DEFAULT = {"oracles": list(ORDER), "k1": 64, "epochs": 20, "train_size": None,
           "holdout": 150, "rounds": 6, "lmbda": 0.1, "sub_epochs": 10, "eps": 0.3,
           "sweep": [1, 2, 4, 8], "n": 2000, "seeds": [0, 1, 2], "batch": 250,
           "ensemble": "standard", "ensemble_n": 250, "ensemble_iters": None,
           "out": str(RESULTS / f"{NAME}.json")}
"""``train_size``: training images (None: all found; a number: a seeded draw); ``n``:
attacked test images (None: all but the held-out ones); ``sweep``: the transfer attack's
extra radii in pixels of the [0, 255] scale; ``ensemble``: the `tfbnn.evaluation` version
run white-box at ``eps`` on the first ``ensemble_n`` attacked images (None: all n), or
None for none."""
FULL = {"n": None, "ensemble_n": None}


def check_config(config: dict) -> None:
    """Refuse a config that cannot run, before any data is read or oracle trained."""
    checks.check_choices("oracles", config["oracles"], ORDER,
                         hint=" (Table 5: A, A+, C, C+; B, B+ for reference.)")
    checks.check_int("k1", config["k1"], 1, hint=" The paper's columns: 64, 128, 256.")
    checks.check_int("epochs", config["epochs"], 1, hint=" The paper: 20 for CIFAR-10.")
    checks.check_int("train_size", config["train_size"], 1, allow_none=True,
                     hint=" None trains on every training image found.")
    checks.check_int("holdout", config["holdout"], 1, hint=" The paper: 150.")
    checks.check_int("rounds", config["rounds"], 1, hint=" The paper: 6.")
    checks.check_int("sub_epochs", config["sub_epochs"], 1, hint=" The paper: 10.")
    checks.check_number("lmbda", config["lmbda"], positive=True)
    if not (checks.is_number(config["eps"]) and 0 < config["eps"] <= 1):
        raise ValueError(f"eps={config['eps']!r}: the FGSM radius must be in (0, 1] (images "
                         "in [0, 1]); the paper's is 0.3.")
    for eps in config["sweep"]:
        checks.check_number("sweep", eps, positive=True)
    checks.check_int("n", config["n"], 1, allow_none=True,
                     hint=" Pass --n with a positive count of images (or --full).")
    checks.check_int("batch", config["batch"], 1)
    checks.check_int_list("seeds", config["seeds"], 0, example="--seeds 0 1 2")
    checks.check_choice("ensemble", config["ensemble"], VERSIONS, allow_none=True,
                        hint=" (None: no white-box evaluation.)")
    checks.check_int("ensemble_n", config["ensemble_n"], 1, allow_none=True)
    checks.check_int("ensemble_iters", config["ensemble_iters"], 1, allow_none=True)


def _cifar10():
    from tfbnn import data

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="CIFAR-10 was not found")
        return data.load_cifar10()


def test_split(n: int | None, holdout: int):
    """``(x_holdout, x, y, drawn)``: the attacker's ``holdout`` images and ``n`` disjoint
    attacked images with their labels (n None: all but the held-out ones).

    The attacked images are `cifar_test`'s (the other CIFAR tutorials' draw); where that is
    a seeded draw (a split ordered by class), the held-out ones are the last ``holdout`` of
    the same permutation, else the last ``holdout`` of the split.
    """
    from tfbnn import data

    _, (x_all, y_all) = _cifar10()
    size = len(y_all)
    n = size - holdout if n is None else n
    if n + holdout > size:
        raise ValueError(f"n={n} attacked and holdout={holdout} held-out images overlap in "
                         f"the {size:,} test images; lower --n (at most {size - holdout}).")
    x, y, drawn = cifar_test(n)
    if drawn:
        order = np.random.default_rng(data.pipeline.SUBSET_SEED).permutation(size)
        keep = np.sort(order[size - holdout:])
    else:
        keep = np.arange(size - holdout, size)
    return np.asarray(x_all[keep], np.float32), x, y, drawn


def spec(name: str, config: dict, train_images: int) -> dict:
    """The cache spec of oracle ``name``: the MNIST tutorials' `_zoo.model_spec` on CIFAR-10,
    with the number of training images used (so the stand-in's oracles and the real data's
    never share a key)."""
    return _zoo.model_spec(name, {**config, "dataset": "cifar10", "train_size": train_images})


def _train_images(config: dict) -> int:
    (x_train, _), _ = _cifar10()
    found = len(x_train)
    return found if config["train_size"] is None else min(config["train_size"], found)


def sweep_key(eps_pixels: float) -> str:
    return f"{eps_pixels:g}/255"


def _bits(mask) -> str:
    """A per-example boolean array as a compact ``"0110..."`` string (JSON stays small)."""
    return "".join("1" if b else "0" for b in np.asarray(mask, bool))


def _mask(bits: str) -> np.ndarray:
    return np.array([c == "1" for c in bits], bool)


def _run(config: dict, model, holdout, x, y, clean, seed: int) -> dict:
    """One substitute (one seed) against one oracle: Table 5's transfer accuracy, the sweep
    on the same substitute, and which images the transfer attack left correct."""
    oracle = lambda t: model(t, training=False)  # noqa: E731
    started = time.time()
    result = substitute_blackbox_attack(
        oracle, holdout, x, y, eps=config["eps"], rounds=config["rounds"],
        lmbda=config["lmbda"], epochs=config["sub_epochs"], seed=seed)
    substitute = lambda t: result.substitute(t, training=False)  # noqa: E731
    sweep = {}
    for pixels in config["sweep"]:  # the same FGSM (substitute's labels), smaller radii
        x_adv = map_batches(lambda chunk: fast_gradient_method(
            substitute, chunk, pixels / 255, np.inf, clip_min=0.0, clip_max=1.0), x,
            batch_size=config["batch"])
        sweep[sweep_key(pixels)] = _common.accuracy(oracle, x_adv, y)
    robust = _common.correct(oracle, result.x_adv, y) & clean
    return {"clean_accuracy": result.clean_accuracy,
            "transfer_accuracy": result.transfer_accuracy,
            "agreement": result.agreement,
            "substitute_train_agreement": result.info["train_agreement"][-1],
            "sizes": result.info["sizes"], "lambdas": result.info["lambdas"],
            "oracle_queries": result.info["oracle_queries"], "sweep": sweep,
            "robust": _bits(robust), "seconds": round(time.time() - started, 1)}


def _worst_case(entry: dict, m: int) -> float | None:
    """Per example, robust under the ensemble and every substitute's transfer attack, on the
    first ``m`` images; None before the ensemble ran."""
    if "ensemble" not in entry:
        return None
    worst = np.array(entry["ensemble"]["robust"], bool)[:m]
    for run in entry["runs"].values():
        worst &= _mask(run["robust"])[:m]
    return float(worst.mean())


def main(config: dict) -> dict:
    from tfbnn import data

    config = _common.resolve(config, DEFAULT, FULL)
    config.pop("full", None)
    check_config(config)
    # Matching excludes the oracle list: another --oracles run adds to the same results.
    run = _common.Run(config, DEFAULT, ignore=("oracles",))
    holdout, x, y, drawn = test_split(config["n"], config["holdout"])
    n = len(x)
    m = n if config["ensemble_n"] is None else min(config["ensemble_n"], n)
    train_images = _train_images(config)
    run.results.update({"data": data.cifar10_title(), "n": n, "drawn": drawn,
                        "train_images": train_images})
    oracles = run.section("oracles")
    for name in config["oracles"]:
        oracle_spec = spec(name, config, train_images)
        entry = run.entry(oracles, name, oracle_spec, {"runs": {}})
        todo = [s for s in config["seeds"] if str(s) not in entry["runs"]]
        wants_ensemble = config["ensemble"] is not None and "ensemble" not in entry
        if not todo and not wants_ensemble and "transfer_accuracy" in entry:
            continue
        model, info = trained_model(oracle_spec)
        model_fn = lambda t, model=model: model(t, training=False)  # noqa: E731
        clean = _common.correct(model_fn, x, y)
        if "key" not in entry:
            _, (x_all, y_all) = _cifar10()
            entry.update(spec=info["spec"], key=info["key"],
                         train_seconds=info["train_seconds"], data=info.get("data"),
                         test_accuracy=_common.accuracy(model_fn, x_all, y_all),
                         logits=logit_scale(model_fn, x))
        for seed in todo:
            entry.pop("transfer_accuracy", None)
            run.step(entry["runs"], str(seed),
                     lambda: _run(config, model, holdout, x, y, clean, seed),
                     say=lambda r: f"{name:3s} seed {seed}: clean {r['clean_accuracy']:.3f}, "
                                   f"transfer {r['transfer_accuracy']:.3f} ({r['seconds']:.0f} s)")
        mnist_substitute._aggregate(entry)
        if config["ensemble"] is not None:
            run.step(entry, "ensemble", lambda: {**ensemble(
                model, x[:m], y[:m], {"linf_eps": config["eps"] * 255,
                                      "ensemble": config["ensemble"],
                                      "ensemble_iters": config["ensemble_iters"],
                                      "batch": config["batch"], "seed": 0}), "n": m},
                     seconds=True,
                     say=lambda r: f"{name:3s} evaluate ({r['version']}, eps {config['eps']:g}"
                                   f", {m} images): {r['accuracy']:.3f}")
            entry["worst_case_accuracy"] = _worst_case(entry, m)
        run.save()
    return run.finish(resummarize(run.results, run.out))


# --- the verdict and the summary, from stored results alone -------------------------------


def estimates(results: dict) -> dict:
    """``"<oracle> transfer"`` -> its transfer accuracy (%), a `_verdicts.Estimate`: the
    mean ± sample std over the substitute seeds run, with the binomial noise of the n
    attacked images (`_verdicts.over_seeds`); ``"<oracle> clean"`` -> its clean accuracy
    on the same images."""
    n = results["n"]
    ours = {}
    for name, entry in results["oracles"].items():
        if not entry.get("runs") or "transfer_accuracy" not in entry:  # every seed done
            continue
        runs = entry["runs"].values()
        ours[f"{name} transfer"] = _verdicts.over_seeds(
            [100 * r["transfer_accuracy"] for r in runs], n=n)
        ours[f"{name} clean"] = _verdicts.over_seeds(
            [100 * r["clean_accuracy"] for r in runs], n=n)
    return ours


def judge(results: dict) -> dict:
    """The committed rule (`RULE`) on `estimates` against Table 5's k1 column:
    `_verdicts.judge`'s ``{"verdict", "checks", "why"}``; "not comparable" when the paper
    has no column for the run's k1."""
    rule = _verdicts.load_rule(RULE)
    table = paper(PAPER_TABLE)
    column = _common.column(table, results["config"]["k1"])
    if column is None:
        return {"verdict": _verdicts.NOT_COMPARABLE, "checks": [],
                "why": f"Rule of tutorials/paper_numbers/rules/{RULE}.json not applied: the "
                       f"paper has no k1={results['config']['k1']} column (Table 5: "
                       f"{', '.join(table['columns'])})."}
    theirs = {row: _verdicts.paper_cell(cells[column], rule["paper_runs"])
              for row, cells in table["rows"].items()}
    return _verdicts.judge(rule, estimates(results), theirs)


def _paper(row: str, column) -> str:
    cells = paper(PAPER_TABLE)["rows"].get(row)
    if cells is None or column is None:
        return "—"
    mean, std = cells[column]
    return f"{mean:g} ± {std:g}"


def _seeds(cfg: dict) -> str:
    count = len(cfg["seeds"])
    return f"{count} substitute seed{'s' * (count > 1)}"


def _names(results: dict) -> list:
    return [o for o in ORDER if o in results["oracles"]
            and "transfer_accuracy" in results["oracles"][o]]


def _tables(results: dict) -> list[str]:
    """Table 5 beside tfbnn's numbers, the eps sweep, and the white-box check."""
    cfg, n = results["config"], results["n"]
    column = _common.column(paper(PAPER_TABLE), cfg["k1"])
    ours = estimates(results)
    rows, sweep_rows, white_rows = [], [], []
    for name in _names(results):
        entry = results["oracles"][name]
        rows.append([name, _paper(f"{name} clean", column),
                     f"{100 * entry['clean_accuracy']:.1f}",  # the same for every seed
                     f"{100 * entry['test_accuracy']:.1f}",
                     _paper(f"{name} transfer", column), ours[f"{name} transfer"].text(1),
                     f"{100 * entry['agreement']:.1f}"])
        runs = list(entry["runs"].values())
        sweep = [_verdicts.over_seeds([100 * r["sweep"][sweep_key(p)] for r in runs],
                                      n=n).text(1) for p in cfg["sweep"]]
        sweep_rows.append([name] + sweep + [ours[f"{name} transfer"].text(1)])
        white = entry.get("ensemble")
        m = white["n"] if white else None
        transfer_m = (f"{100 * np.mean([_mask(r['robust'])[:m].mean() for r in runs]):.1f}"
                      if white else "—")
        white_rows.append([name, m or "—", transfer_m,
                           f"{100 * white['accuracy']:.1f}" if white else "not run",
                           f"{100 * entry['worst_case_accuracy']:.1f}" if white else "—",
                           f"{entry['logits']['mean_abs_logit']:.3g}",
                           f"{entry['logits']['mean_margin']:.3g}"])
    k1 = f"k1={cfg['k1']}"
    lines = [f"Table 5 ({k1}); accuracy %, the paper's mean ± std over its runs, tfbnn's mean "
             f"± sample std over {_seeds(cfg)} on {n} test images:", ""]
    lines += markdown_table(
        ["oracle", "paper clean", "tfbnn clean", "tfbnn clean (whole test split)",
         "paper transfer", "tfbnn transfer", "substitute-oracle agreement %"], rows)
    lines += ["", "Transfer accuracy % against the FGSM radius on the same substitutes "
              "(tfbnn only; the paper reports eps 0.3):", ""]
    lines += markdown_table(["oracle"] + [f"eps {sweep_key(p)}" for p in cfg["sweep"]]
                            + [f"eps {cfg['eps']:g}"], sweep_rows)
    ensemble_name = cfg["ensemble"] or "—"
    lines += ["", f"White-box, tfbnn's own answer at L-inf eps {cfg['eps']:g} (robust = "
              "correct before and after; the first images of the attacked ones), and the "
              "oracles' logit scale on the clean attacked images:", ""]
    lines += markdown_table(
        ["oracle", "images", "transfer, robust (mean over seeds)",
         f"evaluate --version {ensemble_name}", "worst case (evaluate and every transfer)",
         "mean abs logit", "mean top-1 minus top-2 margin"], white_rows)
    return lines


def plot(results: dict, out) -> list:
    """Transfer accuracy against the FGSM radius, one line per oracle (mean over seeds),
    Table 5's eps 0.3 cells as markers: ``STEM.png``."""
    names = _names(results)
    if not names or out is None:
        return []
    cfg = results["config"]
    column = _common.column(paper(PAPER_TABLE), cfg["k1"])
    rows = paper(PAPER_TABLE)["rows"]
    plt = _common.pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    radii = [p / 255 for p in cfg["sweep"]] + [cfg["eps"]]
    for i, name in enumerate(names):
        runs = list(results["oracles"][name]["runs"].values())
        values = [np.mean([r["sweep"][sweep_key(p)] for r in runs]) for p in cfg["sweep"]]
        values.append(np.mean([r["transfer_accuracy"] for r in runs]))
        ax.plot(radii, [100 * v for v in values], marker="o", color=f"C{i}",
                label=f"tfbnn {name}")
        if column is not None and f"{name} transfer" in rows:
            ax.errorbar([cfg["eps"]], [rows[f"{name} transfer"][column][0]],
                        yerr=[rows[f"{name} transfer"][column][1]], marker="x",
                        markersize=9, linestyle="none", color=f"C{i}", label=f"paper {name}")
    ax.set(xscale="log", xlabel="FGSM L-inf eps on the substitute", ylim=(0, 100),
           ylabel="oracle accuracy on transferred examples (%)",
           title=f"Table 5 on {results.get('data', 'CIFAR-10')}, k1={cfg['k1']}")
    ax.legend(fontsize=6, ncol=2)
    return [_common.save_figure(fig, out)]


def summarize(results: dict, plots: list | None = None) -> dict:
    """The section of docs/RESULTS.md; the verdict is the committed rule's (`judge`)."""
    cfg, n = results["config"], results["n"]
    table = paper(PAPER_TABLE)
    column = _common.column(table, cfg["k1"])
    names = _names(results)
    ours = estimates(results)
    judged = judge(results)
    why = judged["why"]
    if column is not None and {"A clean", "C clean"} <= set(ours):
        paper_gap = table["rows"]["A clean"][column][0] - table["rows"]["C clean"][column][0]
        why += (" Not judged: Sec. 3's 'the binary models converge to approximately the same "
                f"error rate as the full-precision model on ... CIFAR-10', clean A - C = "
                f"{paper_gap:+.1f} points in the paper, "
                f"{ours['A clean'].mean - ours['C clean'].mean:+.1f} in tfbnn (a claim of no "
                "difference, which the paper gives no tolerance for).")
    reference = [o for o in names if o not in PAPER_ROWS]
    if reference:
        why += (f" {', '.join(reference)}: no row in Table 5, shown for reference and not "
                "judged.")
    why += (" tfbnn's numbers come from one training run of each oracle (the paper's from "
            "several); its ± is the sample std over substitute seeds, and the judged noise "
            f"adds the binomial noise of the {n} attacked images, not the spread over "
            "training runs.")
    data_title = results.get("data", "CIFAR-10")
    command = _common.command(NAME, {**cfg, "oracles": DEFAULT["oracles"]}, DEFAULT, FULL)
    if sorted(names) != sorted(DEFAULT["oracles"]):  # --oracles runs share the results
        base = f"python tutorials/{NAME}.py"
        command = command.replace(base, f"{base} --oracles {' '.join(names)}", 1)
    plus = [o for o in names if o.endswith("+")]
    return _common.summary(
        title=f"Galloway et al., Table 5 (substitute black-box attack on {data_title} "
              "oracles)",
        command=command,
        paper_scale=("the official CIFAR-10, k1 = 64/128/256, 20 epochs; CleverHans 2.0.0 "
                     "substitute: 2x200 MLP, 150 held-out test images, 6 rounds of Jacobian "
                     "augmentation at lambda 0.1, 10 epochs per round, FGSM eps 0.3 on the "
                     "substitute; number of attacked test images and of runs not stated; "
                     "mean ± std over runs; '+' = FGSM adversarial training (no details)"),
        tfbnn_scale=(f"{data_title}, {results['train_images']:,} training images, k1 = "
                     f"{cfg['k1']}, {cfg['epochs']} epoch{'s' * (cfg['epochs'] > 1)}, one "
                     "training run per oracle (seed "
                     "1234); the same substitute protocol (" f"{cfg['holdout']} held-out "
                     f"test images, {cfg['rounds']} rounds, lambda {cfg['lmbda']}, "
                     f"{cfg['sub_epochs']} epochs, FGSM eps {cfg['eps']:g}) on {n} other test "
                     "images" + (" (a seeded draw: the split is ordered by class)"
                                 if results.get("drawn") else "")
                     + f"; ± is the sample std over {_seeds(cfg)}"
                     + ("; '+' = Table 1's FGSM training (Kurakin et al., eps_max 0.3, half "
                        "clean and half adversarial loss) for the last "
                        f"{min(_zoo.DEFAULT_SPEC['last_epochs'], cfg['epochs'])} epochs"
                        if plus else "")
                     + f"; sweep at FGSM eps {', '.join(map(sweep_key, cfg['sweep']))}"
                     + (f"; white-box `evaluate --version {cfg['ensemble']}` at eps "
                        f"{cfg['eps']:g} on the first {min(cfg['ensemble_n'] or n, n)} images"
                        if cfg["ensemble"] else "")),
        table=_tables(results), verdict=judged["verdict"], why=why, plots=plots)


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``, and `main`),
    the plot redrawn beside ``out`` from the stored numbers; nothing is trained or
    attacked."""
    return summarize(results, plot(results, out))


if __name__ == "__main__":
    main(_common.cli(__doc__, FULL, ("n", "k1", "epochs", "out"),
                     oracles=dict(nargs="+", choices=ORDER, help="oracles (default: all)"),
                     seeds=dict(type=int, nargs="+", help="substitute seeds"),
                     ensemble_n=dict(type=int, help="images of the white-box evaluation")))
