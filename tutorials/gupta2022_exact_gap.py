"""How far is each attack from the truth? Exact robust accuracy of small BNNs.

Tests the claim behind Gupta & Ajanthan, "Improved Gradient based Adversarial Attacks for
Quantized Networks" (AAAI 2022), Figure 2 and App. C.2 (PGD++ flips a 5 x 100 binary
MLP's predictions more often than the combinatorial IPROP attack) and its abstract (the
improved attacks break BNNs "almost completely"): on networks small enough to verify
exactly, `tfbnn.verify` (OR-Tools CP-SAT) knows the true robust accuracy, so the gap of
each attack to the truth is measured, not guessed from another attack.

Models (MNIST, cached in tutorials/_zoo.py, one training seed):

- ``mlp5x100``: the paper's Figure 2 network, a BNN-WAQ MLP with 5 hidden layers of 100
  units (`tfbnn.models.binary_mlp`), trained the usual way;
- ``conv-small``: EEV's conv-small (Jia & Rinard, NeurIPS 2020), binary in every layer
  (`tfbnn.models.conv_small`), trained the usual way;
- ``...-friendly``: the same networks trained verification-friendly
  (`tfbnn.verify.friendly`): ternary weights and the margin penalty of `MarginTrainer`;
- ``conv-small-cifar``: conv-small trained the usual way on CIFAR-10 (on this machine its
  JPEG stand-in, 20k train, labelled so), verified at eps 2/255 on ``cifar_n`` test images
  drawn with a fixed seed (the stand-in's test split is ordered by class).

Per model and eps, on the first n test images: clean accuracy; PGD-20, PGD++ NJS and
HNS (20 iterations), APGD-CE (20 iterations), each on its own (`tfbnn.evaluation.evaluate`,
``mode="standalone"``); tfbnn's default ensemble (``version="standard"``) followed by the
exact verifier on every example it leaves robust (``certify=``): the counterexamples it
finds, the certified lower bound, the unknown fraction and the solve time per example.
The worst case over the ensemble and the counterexamples is the attack upper bound; when
nothing is unknown it equals the certified lower bound, and the robust accuracy is the
answer. Each attack's gap is its accuracy minus the certified lower bound (an upper bound
on its true gap).

The verdict applies paper_numbers/rules/gupta2022_exact_gap.json, committed before the
first run: PGD++ (the stronger of NJS and HNS) within 5 points of the exact robust
accuracy. Where some images stay unknown, the truth lies between the certified lower
bound and the upper bound, and so does each attack's gap; the verdict holds only what
holds for every truth in between (the rule's ``changes`` say why this replaced the first
version's 2 % cut on unknowns).

Default (CPU): the first 500 test images at eps 0.1, 10 s per example with 2 CP-SAT
workers; about 5 min of training, then up to about 40 min, most of it the solver on the
verification-friendly conv-small (whose attacks leave most images robust). ``--full``:
eps 0.1 and 0.3, 60 s per example. Every (model, eps, part) is written as soon
as it is done, and the exact verifier's answers per example inside it, so a killed run
resumes.

    python tutorials/gupta2022_exact_gap.py [--full] [--n 100] [--models mlp5x100 ...]
"""

from __future__ import annotations

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import _common
import _verdicts
import _zoo
from _common import RESULTS, markdown_table, mnist_test, paper
from tfbnn import evaluation

NAME = "gupta2022_exact_gap"
FRIENDLY = {"weights": "ternary", "ternary_threshold": 0.05,
            "margin": {"weight": 3.0, "eps": 0.1, "flip": 0.3}}
"""The verification-friendly settings: Larq's ternary weights (0 below 0.05 latent) and
the margin penalty for an eps of 0.1 (`tfbnn.verify.friendly.MarginTrainer`), weight 3,
later layers stable against 30 % of their inputs flipping. Chosen on conv-small before the
run, by how many hidden neurons interval bounds decide on 50 test images (a property of
the network, not of any attack): weight 0.1 / flip 0.1 left 313 of 800 second-layer and
all 100 third-layer neurons undecided and every solve unknown after 30 s; weight 3 / flip
0.3 decides 92 % (90.9 % clean accuracy), weight 1 / flip 0.3 89 % (95.4 %)."""
MODELS = {
    "mlp5x100": ("mlp", None), "mlp5x100-friendly": ("mlp", FRIENDLY),
    "conv-small": ("conv_small", None), "conv-small-friendly": ("conv_small", FRIENDLY),
}
CIFAR_MODELS = {"conv-small-cifar": ("conv_small", None)}
"""Trained on CIFAR-10 (here its JPEG stand-in), verified at ``cifar_eps``."""
ATTACKS = {"PGD": "pgd", "PGD++ NJS": "pgdpp_njs", "PGD++ HNS": "pgdpp_hns",
           "APGD-CE": "apgd_ce"}
DEFAULT = {"models": list(MODELS), "n": 500, "eps": [0.1], "iters": 20, "epochs": 10,
           "train_size": 60000, "train_seed": 1234, "seed": 0, "version": "standard",
           "time_limit": 10.0, "workers": 2, "jobs": 1, "batch": 250,
           "cifar_models": list(CIFAR_MODELS), "cifar_n": 200, "cifar_eps": [2 / 255],
           "out": str(RESULTS / f"{NAME}.json")}
FULL = {"eps": [0.1, 0.3], "time_limit": 60.0}
def spec(name: str, config: dict) -> dict:
    """The cache spec of model ``name`` (a key of `MODELS` or `CIFAR_MODELS`)."""
    architecture, friendly = {**MODELS, **CIFAR_MODELS}[name]
    dataset = {"dataset": "cifar10"} if name in CIFAR_MODELS else {}
    return _zoo.verifiable_spec(architecture, friendly=friendly, epochs=config["epochs"],
                                seed=config["train_seed"], train_size=config["train_size"],
                                **dataset)


def _cifar_test(n: int):
    """``n`` CIFAR-10 test images: the first ``n``, or, from the stand-in's test split
    (ordered by class), ``n`` drawn with a fixed seed (`tfbnn.data.first_examples`)."""
    import warnings

    from tfbnn import data

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="CIFAR-10 was not found")
        _, (x, y) = data.load_cifar10()
    x, y, _ = data.first_examples(x, y, n)
    return np.asarray(x, np.float32), np.asarray(y).astype(np.int64)


def attacks(model, x, y, eps: float, config: dict) -> dict:
    """Each attack of `ATTACKS` on its own: its robust accuracy."""
    report = evaluation.evaluate(
        model, x, y, eps=eps, attacks=list(ATTACKS.values()), nb_iter=config["iters"],
        mode="standalone", batch_size=config["batch"], seed=config["seed"],
        run_diagnostics=False, progress=False)
    (result,) = report["results"]
    by_name = {row["name"]: row for row in result["attacks"]}
    return {label: by_name[name]["accuracy"] for label, name in ATTACKS.items()}


def exact(model, x, y, eps: float, config: dict, out_dir) -> dict:
    """The default ensemble, then the exact verifier on what it leaves robust."""
    report = evaluation.evaluate(
        model, x, y, eps=eps, version=config["version"], batch_size=config["batch"],
        seed=config["seed"], run_diagnostics=False, progress=False, out_dir=out_dir,
        certify={"time_limit": config["time_limit"], "workers": config["workers"],
                 "jobs": config["jobs"]})
    (result,) = report["results"]
    cert = result["certification"]
    keep = ("certified", "counterexamples", "unknown", "lower", "upper", "ensemble_upper",
            "gap", "unknown_fraction", "solver_runs", "solve_seconds_mean",
            "solve_seconds_median", "solve_seconds_max", "seconds", "found_by")
    return {"clean_accuracy": result["clean_accuracy"], **{k: cert[k] for k in keep}}


def main(config: dict) -> dict:
    run = _common.Run(config, DEFAULT, FULL)
    config, entries = run.config, run.section("models")
    for key, known in (("models", MODELS), ("cifar_models", CIFAR_MODELS)):
        unknown = set(config[key]) - set(known)
        if unknown:
            raise ValueError(f"{key}: {sorted(unknown)} unknown; choose from {list(known)}.")
    mnist = mnist_test(config["n"])
    cifar = _cifar_test(config["cifar_n"]) if config["cifar_models"] else None
    for name in config["models"] + config["cifar_models"]:
        x, y = cifar if name in CIFAR_MODELS else mnist
        radii = config["cifar_eps"] if name in CIFAR_MODELS else config["eps"]
        model_spec = spec(name, config)
        model, info = _zoo.trained_model(model_spec)
        entry = run.entry(entries, name, model_spec, {
            "key": info["key"], "test_accuracy": info["test_accuracy"],
            "zero_weights": info["zero_weights"], "train_seconds": info["train_seconds"],
            "data": info.get("data", "MNIST"), "n": len(x), "eps": {}})
        for eps in radii:
            cell = entry["eps"].setdefault(str(eps), {})
            run.step(cell, "attacks", lambda: attacks(model, x, y, eps, config), seconds=True,
                     say=lambda r: f"{name} eps {eps:g} attacks: {r}")
            out_dir = (_zoo.cache_dir() / "runs" / NAME
                       / f"{info['key']}-n{len(x)}-eps{eps:g}-t{config['time_limit']:g}")
            run.step(cell, "exact", lambda: exact(model, x, y, eps, config, out_dir),
                     say=lambda r: f"{name} eps {eps:g} exact: lower {r['lower']:.3f} upper "
                                   f"{r['upper']:.3f} unknown {r['unknown_fraction']:.3f}")
    return run.finish(resummarize(run.results, run.out))


def _judgeable(cell: dict, accuracy: float) -> str | None:
    """Why an attack's gap in ``cell`` is not judged (None: it is)."""
    if cell["exact"]["upper"] == 0 and accuracy == 0:
        return "every image broken by the attack itself"
    return None


def gap_interval(accuracy: float, exact: dict) -> tuple[float, float]:
    """Where an attack's true gap to the exact robust accuracy lies, in points:
    ``[accuracy - upper, accuracy - lower]`` (the unknowns between the bounds)."""
    return (100 * (accuracy - exact["upper"]), 100 * (accuracy - exact["lower"]))


def margins(rule: dict) -> dict:
    """``{"PGD++": 5.0, "PGD": 5.0, "ensemble": 2.0}``: the value each check or finding of
    ``rule`` holds an attack's gap below."""
    out = {}
    for check in rule["checks"] + rule.get("findings", []):
        label = check["a"].rsplit("} ", 1)[1].removesuffix(" gap")  # "{model} eps={eps} PGD gap"
        out[label] = float(check["value"])
    return out


def estimates(results: dict) -> dict:
    """``"<model> eps=<eps> <PGD++|PGD|ensemble> gap"`` -> the point of the attack's gap
    interval (`gap_interval`) nearest the margin its rule check names (`margins`), with
    the binomial noise of its own size over the n images: a verdict on it holds for every
    truth the unknowns allow. An attack that leaves 0 % where the upper bound is 0 is left out."""
    limit = margins(_verdicts.load_rule(NAME))
    out = {}
    for name, entry in results["models"].items():
        n = entry.get("n", results["config"]["n"])
        for eps, cell in entry["eps"].items():
            if "exact" not in cell or "attacks" not in cell:
                continue
            accs, e = cell["attacks"], cell["exact"]
            attacks = {"PGD++": min(accs["PGD++ NJS"], accs["PGD++ HNS"]),
                       "PGD": accs["PGD"], "ensemble": e["ensemble_upper"]}
            for label, accuracy in attacks.items():
                if _judgeable(cell, accuracy):
                    continue
                low, high = gap_interval(accuracy, e)
                nearest = min(max(limit[label], low), high)
                out[f"{name} eps={eps} {label} gap"] = _verdicts.Estimate(max(nearest, 0.0), n=n)
    return out


def plot(results: dict, out) -> list:
    """Per model and eps, each attack's robust accuracy as a bar and the exact answer as a
    band from the certified lower bound to the upper bound (a line when nothing is
    unknown): ``STEM.png`` beside ``out``."""
    plt = _common.pyplot()
    cells = [(name, eps, cell) for name, entry in results["models"].items()
             for eps, cell in entry["eps"].items() if "exact" in cell and "attacks" in cell]
    if not cells or out is None:
        return []
    fig, ax = plt.subplots(figsize=(max(6.0, 1.7 * len(cells)), 4))
    bars = ["PGD", "PGD++ NJS", "PGD++ HNS", "APGD-CE", "ensemble"]
    width = 0.8 / len(bars)
    for i, (name, eps, cell) in enumerate(cells):
        e = cell["exact"]
        values = [cell["attacks"][a] for a in bars[:-1]] + [e["ensemble_upper"]]
        for j, value in enumerate(values):
            ax.bar(i - 0.4 + (j + 0.5) * width, 100 * value, width, color=f"C{j}",
                   label=bars[j] if i == 0 else None)
        ax.fill_between([i - 0.45, i + 0.45], 100 * e["lower"], 100 * e["upper"] + 0.3,
                        color="black", alpha=0.35, label="exact (lower to upper)" if i == 0
                        else None)
    ax.set_xticks(range(len(cells)), [f"{name}\neps {float(eps):.3g}" for name, eps, _ in cells],
                  fontsize=7)
    ax.set(ylabel="robust accuracy (%)", ylim=(0, 100),
           title="Attacks against the exact robust accuracy (first test images)")
    ax.legend(fontsize=7)
    return [_common.save_figure(fig, out, dpi=120)]


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def summarize(results: dict, plots: list | None = None) -> dict:
    """The table (attacks, ensemble, exact bounds per model and eps) and the verdict."""
    cfg = results["config"]
    rule = _verdicts.load_rule(NAME)
    figures = paper("gupta2022_figures")["rows"]
    paper_clean = figures["Fig 2: clean accuracy % of that MNIST BNN-WAQ MLP"][0]
    header = (["model", "eps", "clean %"] + [f"{a} %" for a in ATTACKS]
              + ["ensemble %", "counterexamples", "upper %", "certified (lower) %",
                 "unknown %", "solve s (median / max)", "PGD++ gap (points, interval)",
                 "judged"])
    rows, notes = [], []
    for name, entry in results["models"].items():
        zeros = np.mean(list(entry["zero_weights"].values())) if entry["zero_weights"] else 0
        notes.append(f"{name}: {100 * entry['test_accuracy']:.1f} % on the whole "
                     f"{entry.get('data', 'MNIST')} test set, "
                     f"{100 * zeros:.0f} % zero weights, trained in "
                     f"{entry['train_seconds']:.0f} s")
        for eps, cell in entry["eps"].items():
            if "exact" not in cell or "attacks" not in cell:
                continue
            e, accs = cell["exact"], cell["attacks"]
            pgdpp = min(accs["PGD++ NJS"], accs["PGD++ HNS"])
            median, most = e["solve_seconds_median"], e["solve_seconds_max"]
            rows.append([name, f"{float(eps):.4g}", _pct(e["clean_accuracy"])]
                        + [_pct(accs[a]) for a in ATTACKS]
                        + [_pct(e["ensemble_upper"]), e["counterexamples"], _pct(e["upper"]),
                           _pct(e["lower"]), _pct(e["unknown_fraction"]),
                           "—" if median is None else f"{median:.2f} / {most:.2f}",
                           "{:.1f} to {:.1f}".format(*gap_interval(pgdpp, e)),
                           _judgeable(cell, pgdpp) or "yes"])
    table = markdown_table(header, rows)
    table += ["", "Models: " + "; ".join(notes) + f". The paper's MLP: {paper_clean} % clean."]
    ours = estimates(results)
    judged = _verdicts.judge(rule, ours, {})
    why = judged["why"] + " " + _verdicts.finding(rule, ours)
    cifar = {name: e for name, e in results["models"].items() if name in CIFAR_MODELS}
    cifar_scale = "".join(
        f"; {name} on {e['n']} test images of {e['data']} (a seeded draw), eps "
        f"{', '.join(f'{float(k):.4g}' for k in e['eps'])}" for name, e in cifar.items())

    return _common.summary(
        title="Gupta & Ajanthan, Figure 2 / App. C.2 against the truth: each attack's gap to "
              "the exact robust accuracy of small BNNs",
        command=_common.command(NAME, cfg, DEFAULT, FULL),
        paper_scale=("MNIST BNN-WAQ MLP, 5 hidden layers x 100 units, 95 % clean accuracy; "
                     "PGD++ (NJS) against the incomplete combinatorial attack IPROP; no exact "
                     "verification, no values in the text"),
        tfbnn_scale=(f"MNIST, the first {cfg['n']} test images, eps {cfg['eps']}{cifar_scale}; "
                     f"models {', '.join(results['models'])} ({cfg['epochs']} epochs, training seed "
                     f"{cfg['train_seed']}); attacks {cfg['iters']} iterations, seed "
                     f"{cfg['seed']}; ensemble evaluate --version {cfg['version']}; exact: "
                     f"OR-Tools CP-SAT, {cfg['time_limit']:g} s and {cfg['workers']} workers "
                     "per example; one training seed: the noise in the verdict is the binomial "
                     "noise of the images"),
        table=table, verdict=judged["verdict"], why=why.strip(), plots=plots)


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``), the plot
    redrawn beside ``out`` from the stored numbers."""
    return summarize(results, plot(results, out))


if __name__ == "__main__":
    main(_common.cli(__doc__, FULL, ("n", "epochs", "seed", "out"),
                     models=dict(nargs="+", help=f"of {list(MODELS)}"),
                     eps=dict(type=float, nargs="+", help="L-inf radii"),
                     time_limit=dict(type=float, help="CP-SAT seconds per example")))
