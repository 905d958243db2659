"""The CIFAR networks of Gupta & Ajanthan, trained the authors' way: clean accuracy, Table 1.

"Improved Gradient based Adversarial Attacks for Quantized Networks" (AAAI 2022) attacks
ResNet-18 and VGG-16 on CIFAR-10 as REF (full precision), BNN-WQ (binary weights; the
paper's Table 1 uses MD-tanh-S) and BNN-WAQ (binary weights and activations). This
tutorial trains each of them through ``model.fit`` with `tfbnn.training.cifar_recipe`
(Adam 1e-3, batch 128, learning rate x0.3 / x0.2 every 30 % of the run, beta annealed to
the authors' final value for GD-tanh and MD-tanh-S, seeded random crop with 4 pixels of
padding and horizontal flip), signs the tanh networks and recomputes their batch-norm
statistics (`tfbnn.training.finalize_binary`), and measures clean accuracy on the whole
test split beside the paper's Table 1. BNN-WQ is trained with all three methods (BC,
GD-tanh, MD-tanh-S); the paper gives a clean accuracy for MD-tanh-S only.

BNN-WAQ networks: the paper's names (``resnet18``/``vgg16`` at ``precision="waq"``), the
networks the later tutorials attack. The authors' own BNN-WAQ models were BinaryNet's
CIFAR nets (`tfbnn.models.binarynet_resnet`, `tfbnn.models.binarynet_vgg`); pass
``--architectures binarynet_resnet binarynet_vgg --variants WAQ`` to train those.

Data: `tfbnn.data.load_cifar10` (the official CIFAR-10 when present, else the JPEG
stand-in of 20,000 training images and the full 10,000-image test split, labelled
"CIFAR-10 (JPEG stand-in, 20k train)" wherever it is reported).

Default (the CPU scale): width 0.25 (ResNet-18 0.70 M, VGG-16 0.96 M parameters),
10 epochs of the 20,000 stand-in images (1,570 iterations), seed 1234; about 50 minutes
for the ten networks on 2 CPU cores. ``--full``: full width and the authors' 100,000
iterations (GPU work: 256 epochs of the official 50,000 images). Models are cached by
spec (`_zoo.trained_model`), checkpointed every epoch, and the results are written after
every network, so a killed run resumes.

The verdict applies the rule in paper_numbers/rules/gupta2022_cifar_models.json
(`_verdicts`): at the paper's setting (its ``paper_setting``: the official CIFAR-10, full
width, at least 100,000 iterations) tfbnn's minus each Table 1 clean accuracy lies within
2 points, beyond two binomial standard errors of the test set; at any other setting, the
CPU default included, the verdict is "not comparable" for the rule's stated reason, and
the table shows that the networks train.

    python tutorials/gupta2022_cifar_models.py [--full] [--width 0.25] [--epochs 10]
"""

from __future__ import annotations

import math

import _common
import _verdicts
import _zoo
from _common import RESULTS, markdown_table, paper

NAME = "gupta2022_cifar_models"
DEFAULT = {"architectures": ["resnet18", "vgg16"],
           "variants": ["REF", "WQ-BC", "WQ-GD", "WQ-MD", "WAQ"],
           "width": 0.25, "epochs": 10, "iterations": None, "seed": 1234,
           "out": str(RESULTS / f"{NAME}.json")}
FULL = {"width": 1.0, "iterations": 100_000}
TITLES = {"resnet18": "ResNet-18", "vgg16": "VGG-16", "binarynet_resnet": "BinaryNet ResNet",
          "binarynet_vgg": "BinaryNet VGG"}
ROWS = {"REF": "REF", "WQ-BC": "BNN-WQ (BC)", "WQ-GD": "BNN-WQ (GD-tanh)",
        "WQ-MD": "BNN-WQ (MD-tanh-S)", "WAQ": "BNN-WAQ"}
PAPER_ROW = {"REF": "REF", "WQ-MD": "BNN-WQ", "WAQ": "BNN-WAQ"}
"""Table 1's rows: its BNN-WQ networks are MD-tanh-S; it has no BC or GD-tanh row."""


def epochs_for(config: dict, train_images: int, batch_size: int = 128) -> int:
    """``config["epochs"]``, or the epochs that make ``config["iterations"]`` iterations."""
    if config.get("iterations"):
        return math.ceil(config["iterations"] / math.ceil(train_images / batch_size))
    return config["epochs"]


PGD_LAST_EPOCHS = 2
"""The CPU default of the adversarially trained ('*') networks of Tables 4, 5, 13 and 14:
Madry's PGD-7 at L-inf 8/255 (step 2/255) for the last 2 epochs of the run, clean before
(as the MNIST '+' models); ``pgd_last_epochs=None`` (the ``--full`` setting of the
tutorials that use them) trains on PGD throughout, as Madry et al. and the paper."""


def split_star(variant: str) -> tuple[str, bool]:
    """``"WQ-MD*"`` -> ``("WQ-MD", True)``: the paper's '*' marks a PGD-trained network."""
    return (variant[:-1], True) if variant.endswith("*") else (variant, False)


def spec_for(config: dict, architecture: str, variant: str, train_images: int) -> dict:
    """The cache spec of ``architecture`` as ``variant`` at ``config``'s width, epochs (or
    iterations) and seed; a variant ending in ``*`` (``"REF*"``) is PGD-trained for the last
    ``config["pgd_last_epochs"]`` epochs (default `PGD_LAST_EPOCHS`; None: throughout).
    Every CIFAR tutorial builds its specs here, so they share the cached networks."""
    variant, starred = split_star(variant)
    settings = dict(width=config["width"], epochs=epochs_for(config, train_images),
                    seed=config["seed"])
    if starred:
        last = config.get("pgd_last_epochs", PGD_LAST_EPOCHS)
        settings.update(adversary="pgd", last_epochs=None if last is None else int(last))
    return _zoo.cifar_spec(architecture, variant, **settings)


def training_set() -> tuple[str, int]:
    """``(title, images)``: the CIFAR-10 `tfbnn.data.load_cifar10` finds here and how many
    training images the zoo trains on (`_zoo`: 20,000 of the JPEG stand-in, all 50,000
    of the official set); the CIFAR tutorials size their specs' epochs with it."""
    from tfbnn import data

    title = data.cifar10_title()
    return title, 20_000 if title == data.STAND_IN_TITLE else 50_000


def main(config: dict) -> dict:
    run = _common.Run(config, DEFAULT, FULL, name=NAME)
    config, entries = run.config, run.section("models")
    _, train_images = training_set()
    for architecture in config["architectures"]:
        for variant in config["variants"]:
            spec = spec_for(config, architecture, variant, train_images)
            key = f"{architecture} {variant}"
            if _zoo.current(entries.get(key), spec):
                continue
            _, info = _zoo.trained_model(spec)
            entries[key] = {
                "key": info["key"], "data": info["data"], "test_accuracy": info["test_accuracy"],
                "test_images": info["test_images"], "train_images": info["train_images"],
                "iterations": info["iterations"], "train_seconds": info["train_seconds"],
                "final_train_accuracy": (info["history"].get("accuracy") or [None])[-1],
                **({"test_accuracy_tanh": info["test_accuracy_tanh"], **info["finalize"]}
                   if "finalize" in info else {})}
            run.save(f"{key}: clean test accuracy {info['test_accuracy']:.4f} "
                     f"({info['data']}, {info['iterations']} iterations)")
    return run.finish(resummarize(run.results, run.out))


def _cell(entry: dict | None) -> str:
    return "—" if entry is None else f"{100 * entry['test_accuracy']:.2f}"


def estimates(results: dict) -> dict:
    """``"<network> <row>"`` (``"VGG-16 BNN-WQ (MD-tanh-S)"``) -> clean accuracy (%), a
    `_verdicts.Estimate` with the binomial noise of the test images (one training run), and
    for each of Table 1's cells ``"<network> <row> - paper"``: tfbnn's minus the paper's,
    with tfbnn's standard error (the paper prints no spread)."""
    ours = {f"{TITLES[key.split()[0]]} {ROWS[key.split()[1]]}": _verdicts.Estimate(
        100 * entry["test_accuracy"], n=entry["test_images"])
        for key, entry in results["models"].items()}
    theirs = paper_estimates()
    return {**ours, **{f"{cell} - paper": _verdicts.Estimate(
        ours[cell].mean - theirs[cell].mean, std=ours[cell].se)
        for cell in ours if cell in theirs}}


def paper_estimates() -> dict:
    """Table 1's clean accuracies under the cell names of `estimates`."""
    table1 = paper("gupta2022_table1")
    cells = {}
    for variant, row in PAPER_ROW.items():
        for architecture, title in TITLES.items():
            clean = f"{title} Clean"
            if clean in table1["columns"]:
                value = table1["rows"][row][table1["columns"].index(clean)]
                cells[f"{title} {ROWS[variant]}"] = _verdicts.paper_cell(value, 1)
    return cells


def at_paper_setting(results: dict, setting: dict) -> bool:
    """Whether every network was trained at the rule's ``paper_setting``."""
    done = list(results["models"].values())
    return bool(done) and results["config"]["width"] == setting["width"] and all(
        e["data"] == setting["data"] and e["train_images"] == setting["train_images"]
        and e["iterations"] >= setting["min_iterations"] for e in done)


def summarize(results: dict) -> dict:
    """The section of docs/RESULTS.md: Table 1 beside tfbnn's accuracies, and the committed
    rule's verdict (not comparable away from the rule's ``paper_setting``)."""
    config, entries = results["config"], results["models"]
    theirs = paper_estimates()
    header = ["Network"]
    for architecture in config["architectures"]:
        title = TITLES[architecture]
        header += [f"{title} paper", f"{title} tfbnn"]
    rows = []
    for variant in config["variants"]:
        row = [ROWS[variant]]
        for architecture in config["architectures"]:
            cell = theirs.get(f"{TITLES[architecture]} {ROWS[variant]}")
            row += ["—" if cell is None else cell.text(2),
                    _cell(entries.get(f"{architecture} {variant}"))]
        rows.append(row)
    done = list(entries.values())
    data_title = done[0]["data"] if done else "CIFAR-10"
    iterations = sorted({e["iterations"] for e in done})
    tanh = [f"{k}: final beta {e['final_beta']:.3g}, largest |tanh(beta w) - sign(w)| "
            f"{e['mismatch']:.3g}"
            + (f" ({100 * e['changed_fraction']:.2f} % of weights moved by signing)"
               if "changed_fraction" in e else "")
            + f", accuracy {100 * e['test_accuracy_tanh']:.2f} % before signing and "
            f"{100 * e['test_accuracy']:.2f} % after ("
            + ("batch norm recomputed on augmented training images" if e.get("recalibrated")
               else "batch norm kept: signing changed nothing") + ")"
            for k, e in entries.items() if "final_beta" in e]
    scale = (f"{data_title}, {done[0]['train_images'] if done else '?'} training images, "
             f"width {config['width']:g}, {iterations} iterations at batch 128, seed "
             f"{config['seed']}; clean accuracy on all "
             f"{done[0]['test_images'] if done else '?':,} test images")
    rule = _verdicts.load_rule(NAME)
    tanh = ("Tanh networks: " + ("; ".join(tanh) if tanh else "none") + ".")
    if at_paper_setting(results, rule["paper_setting"]):
        judged = _verdicts.judge(rule, estimates(results), theirs)
        verdict, why = judged["verdict"], f"{tanh} {judged['why']}"
    else:
        verdict = _verdicts.NOT_COMPARABLE
        checks = "; ".join(c["claim"] for c in rule["checks"])
        reason = rule["not_comparable"]
        why = (f"{reason[0].upper()}{reason[1:]}. These are {scale}; the table shows "
               f"that every (architecture, precision, method) trains through model.fit. What "
               f"the rule compares there: {checks}. {tanh} " + _verdicts.explain(rule, [], verdict))
    command = _common.command(NAME, config, DEFAULT, FULL)
    return _common.summary(
        title="Gupta & Ajanthan, Table 1 (clean accuracy): the CIFAR networks",
        command=command,
        paper_scale="CIFAR-10, 50,000 training images, full width (ResNet-18 11.17 M, "
                    "VGG-16 15.25 M parameters), 100,000 iterations at batch 128; 10,000 "
                    "test images; BNN-WQ trained with MD-tanh-S",
        tfbnn_scale=scale + "; one training run per network, so no ± is printed",
        table=markdown_table(header, rows), verdict=verdict, why=why)


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``)."""
    return summarize(results)


if __name__ == "__main__":
    main(_common.cli(__doc__, FULL, names=("epochs", "seed", "out", "width", "iterations"),
                     architectures=dict(nargs="+", help="resnet18 vgg16 binarynet_resnet "
                                                        "binarynet_vgg"),
                     variants=dict(nargs="+", help=" ".join(_zoo.CIFAR_VARIANTS))))
