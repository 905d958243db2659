"""FGSM/PGD, beta = 0.1, DeepFool, BBA vs FGSM++/PGD++ on PGD-trained CIFAR-10 ResNet-18: Table 4.

Gupta & Ajanthan, "Improved Gradient based Adversarial Attacks for Quantized Networks"
(AAAI 2022), Table 4, in the paper's own setting: ResNet-18 on CIFAR-10, adversarially
trained as Madry et al. (L-inf PGD, 7 iterations, step 2/255, eps 8/255), as REF (full
precision) and as BNN-WQ (binary weights) trained by BC, GD-tanh and MD-tanh-S: the
paper's REF*, BC*, GD-tanh* and MD-tanh-S*. The networks are the '*' variants of
`gupta2022_cifar_models.spec_for` ("REF*", "WQ-BC*", "WQ-GD*", "WQ-MD*"), trained and
cached through `_zoo.trained_model`, so every CIFAR tutorial shares them.

Attacks, all L-inf at eps 8/255 with the paper's CIFAR-10 parameters (its Table 6; pixels
of the [0, 255] scale divided by 255), the paper's column order:

- FGSM and FGSM++ NJS / HNS (one step of 8/255); PGD and PGD++ NJS / HNS (20 iterations of
  step 2/255, one random start: the paper's Uniform(-1, 1) start projected on the box,
  ``rand_init="paper"``), HNS on the paper's linear grid of 100 betas, NJS with rho 0.01,
  attack seed 0: the functions of `gupta2022_cifar_attack_strength`;
- "FGSM beta=0.1" and "PGD beta=0.1": the paper's heuristic, the same attacks on the
  cross-entropy of the logits times a fixed temperature 0.1
  (`tfbnn.temperature.temperature_scaled_loss(0.1)` as their ``loss_fn``; the prediction,
  and so success, is the network's own);
- DeepFool and BBA (Brendel & Bethge), foolbox 3.3.4's with foolbox's defaults, as the
  paper runs them (`tfbnn.attacks.peers`: DeepFool 50 steps, 10 candidate classes,
  overshoot 0.02; BBA 1,000 steps from foolbox's blended uniform-noise start, its noise
  seeded through ``tf.random.set_seed(seed)``). Both minimise the perturbation, so each
  runs once per network with no radius (the ball of L-inf radius 1 holds the whole
  [0, 1] box, so nothing is clipped), and an image counts as robust at eps when it was
  classified correctly and the attack either failed (no start, or its last point is not
  adversarial) or found its adversarial point further than eps in L-inf
  (`robust_at`). One run thus gives DeepFool's and BBA's accuracy at every radius of the
  sweep. (foolbox's own ``epsilons=eps`` would also count the rare image whose point,
  clipped into the eps-ball, happens to fool the model; here the found distance decides.)
  They run on the correctly classified images only, as the paper attacks only those.

Beside them, as in every CIFAR tutorial:

- tfbnn's own answer: `tfbnn.evaluation.evaluate` with ``version="standard"`` (APGD-CE,
  PGD++ NJS and HNS, APGD-T, FAB-T, Square; cascade) at L-inf 8/255
  (`gupta2022_cifar_attack_strength.ensemble`), its worst case per example joined with
  every attack above;
- an eps sweep, L-inf 1, 2 and 4 /255 (8 is the table's), for PGD, PGD beta=0.1, both PGD++
  (same step/eps ratio) and DeepFool and BBA (read off their one run), and each network's
  logit scale (`gupta2022_cifar_attack_strength.logit_scale`), so the attacks' ordering
  shows where it is not saturated.

Test images: n drawn with a fixed seed from the test split (the JPEG stand-in's is ordered
by class; `gupta2022_cifar_attack_strength.cifar_test`), the same n for every network and
attack; accuracy is over all n (a misclassified image counts as broken), one attack run
per training seed.

The verdict applies paper_numbers/rules/gupta2022_cifar_adv_trained.json (`_verdicts`),
the claims of the paper's Table 4 and its Results section ("these results further
strengthen the usefulness of our PGD++ variants", "a heuristic choice of beta = 0.1 ...
performs even worse", "even against stronger attacks (DeepFool, BBA) ... our variants
outperform consistently on these adversarially trained models"): on each network the
better PGD++ is not weaker than PGD, PGD beta=0.1, DeepFool or BBA, and the better FGSM++
not weaker than FGSM or FGSM beta=0.1, by more than 1 point; beta = 0.1 leaves a higher
accuracy than the same attack without it (the paper: 7-14 points); and the gains of PGD++
over PGD and of FGSM++ over FGSM are small, at most 5 points (the paper: 0.6-2.0, against
27 and 47 on Table 2's clean-trained ResNet-18 and VGG-16 BNN-WQ: these networks mask
their gradients far less), judged only where the weaker attack leaves more than 5 %. Each
comparison is a difference of two attacks on the same images, judged beyond two standard
errors of that paired difference (`paired_difference`): the siblings' independent
binomial noise would be about 20 points wide at n = 50, wider than every gap Table 4
prints but beta = 0.1's. Pairs with both attacks at 0 (or 100) % count for nothing; a run
where everything saturates reads "not comparable".

Scale. Paper: full-width networks trained 100,000 iterations on the official CIFAR-10 with
PGD-7 throughout, the whole test set. Default here (2 CPU cores): width 0.25, 10 epochs of
the 20,000 stand-in images with Madry's PGD-7 for the last 2 (`PGD_LAST_EPOCHS`; clean
before, as the MNIST '+*' models), training seed 1234, n = 50 test images (BBA and tfbnn's
ensemble set the size, below). ``--full``: full width, the authors' 100,000 training
iterations with PGD throughout (``pgd_last_epochs`` None), the whole test set (GPU work;
the same code path). Results are written after every attack of every network, so a killed
run resumes.

Timing, measured 2026-12-05 on 2 CPU cores shared with the background training and other
jobs (load average 5-11, given with each number; an idle machine is faster), with
/tmp scripts of the helper that wrote this, niced, on a width-0.25 ResNet-18 REF* trained
for 1 epoch with PGD on (33 % clean accuracy; it stands in for the four networks, which
were not trained for this):

- training: one clean epoch of width-0.25 ResNet-18 REF took 115 s, one PGD-7 epoch 570 s
  (5.0x; load 11). A '*' network of 8 clean and 2 PGD epochs thus costs about 18 clean
  epochs: with gupta2022_cifar_models.json's clean epochs of 20-51 s, about 6-15 minutes
  per network and 40-60 minutes for the four, up to 3x that at load 11;
- gradient attacks on 50 images (load 11, traced): FGSM 0.9 s, FGSM beta=0.1 0.7 s,
  FGSM++ NJS / HNS 2.2 / 2.3 s, PGD 4.5 s, PGD beta=0.1 4.3 s, PGD++ NJS / HNS 6.7 /
  7.8 s; tracing adds about 40 s per network; the sweep's 12 PGD runs about 70 s;
- DeepFool: 10 s on 48 images (load 4.5);
- BBA: foolbox's 1,000 steps run in full (nothing stops them early) after a start of up
  to 2,000 forward passes: 603 s on 48 images with the network called eagerly (load 6),
  3.3x less through a ``tf.function`` (`minimum_norm`); numba compiles its solver on the
  first call of a process (184 s with one image at load 4.6, once per run);
- tfbnn's ensemble (``standard``): about 10 s per image that survives APGD-CE (every
  later stage runs its whole budget on it: APGD-T and FAB-T against 9 classes, Square's
  5,000 queries), 210 s for 100 images with 21 survivors (load 5);
- one network end to end at n = 50 (the 1-epoch REF*, 18 images correct, none surviving
  8/255; load 6): 198 s, BBA 121 s of it.

Measured time of the default once the four networks were cached: 787 s (13 minutes,
loading, tracing and BBA's compilation included; 2026-12-05, on the 2 CPU cores shared
with two other jobs). At this scale 17-31 of the 50 images were correct and the ensemble
left at most 1 of them robust at 8/255 on each network, so its later stages had little to
do; a network that keeps more images at 8/255 costs more (about 10 s per image that
survives APGD-CE, above).

    python tutorials/gupta2022_cifar_adv_trained.py [--full] [--n 50] [--seeds 1234]
"""

from __future__ import annotations

import math
import warnings

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import _common
import _verdicts
import _zoo
import gupta2022_cifar_attack_strength as strength
import gupta2022_cifar_models as cifar_models
from _common import RESULTS, markdown_table, paper
from tfbnn import attacks, checks, temperature
from tfbnn.evaluation.catalog import VERSIONS

NAME = RULE = "gupta2022_cifar_adv_trained"
TITLES = {"resnet18": "ResNet-18", "vgg16": "VGG-16"}
"""The networks tfbnn builds; Table 4 is ResNet-18's (VGG-16 runs, without a paper row)."""
ROWS = {"REF*": "REF", "WQ-BC*": "BC", "WQ-GD*": "GD-tanh", "WQ-MD*": "MD-tanh-S"}
"""`gupta2022_cifar_models.spec_for`'s PGD-trained variants -> Table 4's row names."""
HEURISTIC_BETA = 0.1
"""The paper's heuristic temperature (Table 4's "beta = 0.1" columns)."""
FAR = 1.0
"""The radius the minimum-norm attacks run at: the L-inf ball of radius 1 holds the whole
[0, 1] box, so foolbox clips nothing and the point it found comes back."""
DEFAULT = {"architectures": ["resnet18"], "variants": list(ROWS),
           "width": 0.25, "epochs": 10, "iterations": None,
           "pgd_last_epochs": cifar_models.PGD_LAST_EPOCHS, "seeds": [1234],
           "n": 50, "batch": 50, "iters": 20, "seed": 0, "linf_eps": 8, "linf_step": 2,
           "sweep": [1, 2, 4], "deepfool_steps": 50, "bba_steps": 1000,
           "ensemble": "standard", "ensemble_iters": None,
           "out": str(RESULTS / f"{NAME}.json")}
"""Radii and steps in pixels of the [0, 255] scale (the paper's Table 6); ``seed``: the
attacks' random starts (and BBA's noise start); ``seeds``: the networks' training seeds;
``pgd_last_epochs``: PGD-7 training for the last this many epochs (None: throughout);
``deepfool_steps`` / ``bba_steps``: foolbox's defaults (the paper's); ``ensemble_iters``:
None keeps the version's own iteration counts."""
FULL = {"width": 1.0, "iterations": 100_000, "n": 10_000, "batch": 500, "pgd_last_epochs": None}

LINF = ("FGSM", "FGSM beta=0.1", "FGSM++ NJS", "FGSM++ HNS", "PGD", "PGD beta=0.1",
        "DeepFool", "BBA", "PGD++ NJS", "PGD++ HNS")
"""Table 4's columns, in its order (tfbnn's names are the paper's)."""
MINIMUM_NORM = ("DeepFool", "BBA")
SWEEP = ("PGD", "PGD beta=0.1", "PGD++ NJS", "PGD++ HNS", "DeepFool", "BBA")

measure = strength.measure
ensemble = strength.ensemble
"""Shared with the Tables 2 and 3 tutorial (module attributes, so a test can replace them)."""


def check_config(config: dict) -> None:
    """Refuse a config that cannot run, before any network is trained or attacked."""
    from tfbnn.attacks import peers

    checks.check_choices("architectures", config["architectures"], TITLES,
                         hint=" (Table 4 is ResNet-18's.)")
    checks.check_choices("variants", config["variants"], ROWS,
                         hint=" (The PGD-trained networks of Table 4, a '*' each.)")
    checks.check_number("width", config["width"], positive=True)
    checks.check_int("epochs", config["epochs"], 1)
    checks.check_int("iterations", config["iterations"], 1, allow_none=True)
    checks.check_int("pgd_last_epochs", config["pgd_last_epochs"], 1, allow_none=True,
                     hint=" None trains on PGD throughout (the paper's).")
    checks.check_int("n", config["n"], 1, hint=" Pass --n with a positive count of images.")
    checks.check_int("batch", config["batch"], 1)
    checks.check_int("iters", config["iters"], 1, hint=" The paper's Table 6: 20.")
    checks.check_int("seed", config["seed"], 0)
    checks.check_int("deepfool_steps", config["deepfool_steps"], 1,
                     hint=" foolbox's default (the paper's) is 50.")
    checks.check_int("bba_steps", config["bba_steps"], 1,
                     hint=" foolbox's default (the paper's) is 1000.")
    checks.check_int("ensemble_iters", config["ensemble_iters"], 1, allow_none=True)
    checks.check_int_list("seeds", config["seeds"], 0, example="--seeds 1234")
    for name in ("linf_eps", "linf_step"):
        checks.check_number(name, config[name], positive=True)
    for eps in config["sweep"]:
        checks.check_number("sweep", eps, positive=True)
    checks.check_choice("ensemble", config["ensemble"], VERSIONS)
    peers.require("foolbox", "DeepFool and BBA (Table 4)")
    peers.require("numba", "BBA (foolbox compiles its solvers with numba)")


def gradient_attacks(eps: float, step: float, iters: int, seed: int, names) -> dict:
    """The gradient attacks ``names`` at L-inf radius ``eps`` and PGD step ``step`` ([0, 1]
    units): `strength._linf_attacks` for FGSM, PGD and their ++, and the heuristic
    ``beta=0.1`` ones, the same FGSM and PGD on the loss of the logits times 0.1."""
    box = dict(clip_min=0.0, clip_max=1.0)
    pgd = dict(eps=eps, eps_iter=step, nb_iter=iters, norm=np.inf, seed=seed,
               rand_init="paper", **box)
    heuristic = temperature.temperature_scaled_loss(HEURISTIC_BETA)
    table = strength._linf_attacks(eps, step, iters, seed,
                                   names=[n for n in names if n in strength.LINF])
    table["FGSM beta=0.1"] = lambda f, x, y: attacks.fast_gradient_method(
        f, x, eps, np.inf, heuristic, y=y, **box)
    table["PGD beta=0.1"] = lambda f, x, y: attacks.projected_gradient_descent(
        f, x, y=y, loss_fn=heuristic, **pgd)
    return {name: table[name] for name in names if name not in MINIMUM_NORM}


def minimum_norm_attacks(config: dict) -> dict:
    """DeepFool and BBA at radius `FAR` (nothing clipped): ``f(model_fn, x, y)`` ->
    ``(x_adv, started)``, ``started`` False where BBA found no adversarial start."""
    def deepfool(f, x, y):
        x_adv = attacks.deepfool(f, x, y, FAR, np.inf, steps=config["deepfool_steps"])
        return x_adv, np.ones(len(x), bool)

    def bba(f, x, y):
        with warnings.catch_warnings():  # "no adversarial starting point": counted instead
            warnings.filterwarnings("ignore", message="brendel_bethge: the init attack")
            x_adv, started = attacks.brendel_bethge(f, x, y, FAR, np.inf,
                                                    steps=config["bba_steps"],
                                                    return_started=True)
        return x_adv, np.asarray(started, bool)

    return {"DeepFool": deepfool, "BBA": bba}


def minimum_norm(attack, model_fn, x, y, clean, batch: int, seed: int) -> dict:
    """One minimum-norm attack on the correctly classified images (``clean``), ``batch`` at
    a time: per image its L-inf distance to the point found, whether that point fools the
    network (a misclassified image: distance 0, fooled), and how many had no start.

    foolbox calls the network eagerly, one forward (and backward) pass per step, over a
    thousand of them for BBA; ``model_fn`` is handed to it as a ``tf.function``, which
    gave the same points 3.3x faster (BBA, 101 steps on 16 images of a width-0.25
    ResNet-18: 27.6 s against 91.7 s; DeepFool 4.5 s against 7.0 s). ``tf.random.set_seed
    (seed)`` first, so BBA's noise start repeats."""
    import tensorflow as tf

    model_fn = tf.function(model_fn, reduce_retracing=True)
    tf.random.set_seed(seed)
    distance = np.zeros(len(x))
    fooled = ~np.asarray(clean, bool)
    no_start = 0
    for chunk in np.array_split(np.flatnonzero(clean), max(1, -(-int(clean.sum()) // batch))):
        if not len(chunk):
            continue
        x_adv, began = attack(model_fn, x[chunk], y[chunk])
        x_adv = np.asarray(x_adv, np.float32)
        delta = np.abs(x_adv.astype(np.float64) - x[chunk]).reshape(len(chunk), -1)
        distance[chunk] = delta.max(1)
        fooled[chunk] = ~_common.correct(model_fn, x_adv, y[chunk])
        no_start += int((~began).sum())
    return {"distance": [round(float(d), 7) for d in distance],
            "fooled": fooled.astype(int).tolist(), "no_start": no_start}


def robust_at(record: dict, clean, eps: float) -> np.ndarray:
    """Per image, robust at L-inf ``eps`` ([0, 1] units) under a minimum-norm ``record``:
    classified correctly, and the attack failed or found its point further than eps."""
    return attacks.peers.robust_at(record["fooled"], record["distance"], eps, clean)


def settings(config: dict):
    """``(key, eps, step, names)`` per setting, radii in [0, 1] units: the table's L-inf
    8/255 with every attack, then the sweep with `SWEEP` at the paper's step/eps ratio."""
    px = 1 / 255
    yield (strength.setting_key("linf", config["linf_eps"]), config["linf_eps"] * px,
           config["linf_step"] * px, LINF)
    for eps in config["sweep"]:
        step = eps * config["linf_step"] / config["linf_eps"]
        yield strength.setting_key("linf", eps), eps * px, step * px, SWEEP


def main(config: dict) -> dict:
    run, x, y, train_images = strength.start(config, NAME, DEFAULT, FULL, check_config)
    config, models = run.config, run.section("models")
    peers = minimum_norm_attacks(config)
    for architecture in config["architectures"]:
        for variant in config["variants"]:
            per_seed = models.setdefault(f"{architecture} {variant}", {})
            for seed in config["seeds"]:
                spec = cifar_models.spec_for({**config, "seed": seed}, architecture, variant,
                                             train_images)
                model, info = _zoo.trained_model(spec)
                model_fn = lambda t, model=model: model(t, training=False)  # noqa: E731
                clean = _common.correct(model_fn, x, y)
                adv_history = info["history"].get("adv_accuracy") or [None]
                entry = run.entry(per_seed, str(seed), spec, {
                    "key": info["key"], "clean_accuracy": float(clean.mean()),
                    "test_accuracy": info["test_accuracy"], "data": info["data"],
                    "iterations": info["iterations"],
                    "pgd_last_epochs": info["spec"]["last_epochs"],
                    "epochs": info["spec"]["epochs"],
                    "final_adv_train_accuracy": adv_history[-1],
                    "logits": strength.logit_scale(model_fn, x),
                    "minimum_norm": {}, "settings": {}})
                label = f"{TITLES[architecture]} {ROWS[variant]}* seed {seed}"
                for key, eps, step, names in settings(config):
                    setting = entry["settings"].setdefault(key, {"attacks": {}})
                    table = gradient_attacks(eps, step, config["iters"], config["seed"], names)
                    worst = clean.copy()
                    for name in names:
                        if name in MINIMUM_NORM:
                            record = run.step(
                                entry["minimum_norm"], name,
                                lambda: minimum_norm(peers[name], model_fn, x, y, clean,
                                                     config["batch"], config["seed"]),
                                seconds=True, say=lambda r: f"{label} {name} (minimum norm) "
                                              f"{r['seconds']:.0f} s")
                            compute = lambda: _from_minimum_norm(record, clean, eps)  # noqa: E731
                        else:
                            compute = lambda: measure(  # noqa: E731
                                table[name], model_fn, x, y, clean, config["batch"])
                        row = run.step(setting["attacks"], name, compute,
                                       say=lambda r: f"{label} {key:15s} {name:13s} "
                                                     f"acc {r['accuracy']:.3f}")
                        worst &= np.array(row["robust"], bool)
                    setting["worst_case_accuracy"] = float(worst.mean())
                    run.save()
                table_key = strength.setting_key("linf", config["linf_eps"])
                result = run.step(entry, "ensemble",
                                  lambda: ensemble(model, x, y, config), seconds=True,
                                  say=lambda r: f"{label} ensemble ({r['version']}) "
                                                f"acc {r['accuracy']:.3f}")
                worst = np.array(result["robust"], bool)
                for row in entry["settings"][table_key]["attacks"].values():
                    worst &= np.array(row["robust"], bool)
                entry["worst_case_accuracy"] = float(worst.mean())
                run.save()
    return run.finish(resummarize(run.results, run.out))


def _from_minimum_norm(record: dict, clean, eps: float) -> dict:
    """A minimum-norm attack's row at radius ``eps``, read off its one run (its seconds are
    that run's, shared by every radius)."""
    robust = robust_at(record, clean, eps)
    return {"accuracy": float(robust.mean()), "seconds": record["seconds"],
            "robust": robust.astype(int).tolist(), "from": "minimum-norm run"}


def _runs(results: dict):
    """``(network, row, seed, entry)`` for every measured network and training seed."""
    for key, per_seed in results["models"].items():
        architecture, variant = key.split()
        for seed, entry in per_seed.items():
            yield TITLES[architecture], ROWS[variant], seed, entry


PGD_PLUS_PLUS, FGSM_PLUS_PLUS = ("PGD++ NJS", "PGD++ HNS"), ("FGSM++ NJS", "FGSM++ HNS")
DIFFERENCES = {
    **{f"{a} minus the better PGD++": (a, PGD_PLUS_PLUS)
       for a in ("PGD", "PGD beta=0.1", "DeepFool", "BBA")},
    **{f"{a} minus the better FGSM++": (a, FGSM_PLUS_PLUS) for a in ("FGSM", "FGSM beta=0.1")},
    **{f"{a} beta=0.1 minus {a}": (f"{a} beta=0.1", (a,)) for a in ("FGSM", "PGD")},
}
"""The rule's cells that compare two attacks on the same images: name suffix -> (attack,
the attacks whose better one it is compared with)."""
GAIN = "gain of the better {attack}++ over {attack}"
"""The suffix of the rule's gain cells: ``{attack}`` minus the better ``{attack}++``, present
only where ``{attack}`` itself leaves more than the check's bound (`estimates`)."""


def paired_difference(rows: list, a: str, better, n: int):
    """``a``'s accuracy minus the better of ``better``'s (the lower mean over the seeds),
    in points, over the training seeds' ``rows`` (``{attack: {"accuracy", "robust"}}``
    each), as a `_verdicts.Estimate` with the paired noise of two attacks on the same
    images: per seed the standard error of the mean per-image difference, whose variance
    is the discordant fraction minus the squared mean (at least half an image discordant,
    as `_verdicts.Estimate` floors a rate), not divided by the seeds (they attack the same
    images), and the spread over the seeds added.

    Returns ``(estimate, saturated)``; the estimate is None when a cell or its per-image
    record is missing, and ``saturated`` is True (estimate None) when both attacks leave
    0 % (or 100 %) on every seed: no difference can show there."""
    if not rows or not all(a in r and all(b in r for b in better) for r in rows):
        return None, False
    pick = min(better, key=lambda b: np.mean([r[b]["accuracy"] for r in rows]))
    pairs = [(np.array(r[a]["robust"], float), np.array(r[pick]["robust"], float))
             for r in rows]
    if any(not len(x) or len(x) != len(z) for x, z in pairs):
        return None, False
    if all((x.sum() == 0 and z.sum() == 0) or (x.all() and z.all()) for x, z in pairs):
        return None, True
    differences, variances = [], []
    for x, z in pairs:
        d = x - z
        discordant = max(float(np.mean(d != 0)), 0.5 / len(d))
        differences.append(100 * d.mean())
        variances.append(1e4 * max(discordant - d.mean() ** 2, 0.0) / len(d))
    spread = float(np.var(differences, ddof=1)) if len(differences) > 1 else 0.0
    runs = len(differences)
    # Every seed attacks the same images, so their noise does not shrink with the seeds:
    # carried in ``std`` times sqrt(runs), so that `Estimate.se` divides only the spread.
    return _verdicts.Estimate(float(np.mean(differences)),
                              math.sqrt(spread + runs * float(np.mean(variances))),
                              runs=runs), False


def _estimates(results: dict) -> tuple[dict, list]:
    """`estimates`, and the difference cells left out as saturated."""
    n = results.get("n", results["config"]["n"])
    values: dict[str, list[float]] = {}
    rows: dict[str, list] = {}
    for network, row, _, entry in _runs(results):
        for key, setting in entry["settings"].items():
            rows.setdefault(f"{network} {row} {key}", []).append(setting["attacks"])
            for name, measured in setting["attacks"].items():
                values.setdefault(f"{network} {row} {key} {name}", []).append(
                    100 * measured["accuracy"])
    ours = {cell: _verdicts.over_seeds(v, n=n) for cell, v in values.items()}
    saturated = []
    bound = {c["id"]: c["high"] for c in _verdicts.load_rule(RULE)["checks"]
             if c["kind"] == "in_range"}.get("small_gain", 5.0)
    for prefix, per_seed in rows.items():
        for suffix, (a, better) in DIFFERENCES.items():
            estimate, flat = paired_difference(per_seed, a, better, n)
            if flat:
                saturated.append(f"{prefix} {suffix}")
            if estimate is None:
                continue
            ours[f"{prefix} {suffix}"] = estimate
            weaker = ours.get(f"{prefix} {a}")
            if better[0].startswith(f"{a}++") and weaker and weaker.mean > bound:
                ours[f"{prefix} {GAIN.format(attack=a)}"] = estimate
    return ours, saturated


def estimates(results: dict) -> dict:
    """``"<network> <row> <setting> <attack>"`` (``"ResNet-18 BC linf eps=8/255 PGD++
    NJS"``) -> accuracy (%) over the training seeds run, a `_verdicts.Estimate` (mean ±
    sample std over the seeds with the binomial noise of the n images,
    `_verdicts.over_seeds`); and the cells the rule compares, differences of two attacks
    on the same images in points with their paired noise (`paired_difference`):
    ``"<network> <row> <setting> PGD minus the better PGD++"`` (and DeepFool's, BBA's, PGD
    beta=0.1's, FGSM's against FGSM++), ``"... PGD beta=0.1 minus PGD"`` (and FGSM's), and
    ``"... gain of the better PGD++ over PGD"`` (and FGSM's), the same difference present
    only where PGD itself leaves more than the small_gain check's bound (elsewhere a small
    gain is forced). A difference whose two attacks both leave 0 (or 100) % is left out
    (saturated)."""
    return _estimates(results)[0]


def _cell(values: list, n) -> str:
    values = [100 * v for v in values if v is not None]
    return _verdicts.over_seeds(values, n=n).text(1) if values else "—"


def _paper_rows() -> dict:
    """``(network, row)`` -> Table 4's printed cells by attack name (ResNet-18 only)."""
    table4 = paper("gupta2022_table4")
    return {("ResNet-18", row): dict(zip(table4["columns"], cells))
            for row, cells in table4["rows"].items()}


def _distance_text(entries: list, name: str) -> str:
    """The median L-inf distance (in /255) ``name`` found on the images it fooled, over the
    seeds' runs, with how many it fooled and how many had no start."""
    found, fooled, no_start = [], 0, 0
    for e in entries:
        record = e.get("minimum_norm", {}).get(name)
        if not record:
            continue
        d, f = np.array(record["distance"]), np.array(record["fooled"], bool)
        found += list(d[f & (d > 0)])
        fooled += int((f & (d > 0)).sum())
        no_start += record.get("no_start", 0)
    if not found:
        return "—"
    text = f"{255 * np.median(found):.2f} ({fooled} fooled"
    return text + (f", {no_start} without a start)" if no_start else ")")


def _tables(results: dict) -> list[str]:
    """Table 4's rows beside tfbnn's, the sweep, and the networks' scale."""
    cfg, n = results["config"], results.get("n", results["config"]["n"])
    key8 = strength.setting_key("linf", cfg["linf_eps"])
    theirs = _paper_rows()
    header = (["network", "type", "source", "clean"] + list(LINF)
              + ["worst case (these attacks)",
                 f"worst case with evaluate --version {cfg['ensemble']}"])
    rows, sweep_rows, scale_rows = [], [], []
    by_model: dict = {}
    for network, row, seed, entry in _runs(results):
        by_model.setdefault((network, row), []).append((seed, entry))
    order = [(TITLES[a], ROWS[v]) for a in cfg["architectures"] for v in cfg["variants"]]
    for network, row in order:
        printed = theirs.get((network, row))
        if printed:
            rows.append([network, f"{row}*", "paper", "—"]
                        + [f"{printed[a]:.2f}" for a in LINF]
                        + [f"{min(printed.values()):.2f} (its best attack)", "—"])
        runs = by_model.get((network, row))
        if not runs:
            continue
        groups = ([(f"tfbnn, mean ± std ({len(runs)} seeds)", [e for _, e in runs])]
                  if len(runs) > 1 else []) + [(f"tfbnn, seed {s}", [e]) for s, e in runs]
        for source, entries in groups:
            def attack(key, name):
                return _cell([e["settings"].get(key, {}).get("attacks", {}).get(name, {})
                              .get("accuracy") for e in entries], n)
            rows.append([network, f"{row}*", source,
                         _cell([e["clean_accuracy"] for e in entries], n)]
                        + [attack(key8, a) for a in LINF]
                        + [_cell([e.get("worst_case_accuracy") for e in entries], n),
                           _cell([e.get("ensemble", {}).get("accuracy") for e in entries], n)])
            for eps in list(cfg["sweep"]) + [cfg["linf_eps"]]:
                key = strength.setting_key("linf", eps)
                sweep_rows.append([network, f"{row}*", source, f"{eps:g}/255"]
                                  + [attack(key, a) for a in SWEEP])
            last = {e["pgd_last_epochs"] for e in entries}
            epochs = {e["epochs"] for e in entries}
            trained = ("throughout" if last == {None} else
                       f"last {', '.join(map(str, sorted(last)))} of "
                       f"{', '.join(map(str, sorted(epochs)))} epochs")
            adv = [e.get("final_adv_train_accuracy") for e in entries]
            scale_rows.append([network, f"{row}*", source,
                               _cell([e["test_accuracy"] for e in entries], None), trained,
                               _cell(adv, None) if None not in adv else "—",
                               strength._mean([e["logits"]["mean_abs_logit"] for e in entries]),
                               strength._mean([e["logits"]["mean_margin"] for e in entries]),
                               _distance_text(entries, "DeepFool"),
                               _distance_text(entries, "BBA")])
    lines = [f"Table 4 at the paper's radius (L-inf {cfg['linf_eps']:g}/255), PGD-trained "
             "networks; adversarial accuracy % (lower = stronger attack):", ""]
    lines += markdown_table(header, rows)
    lines += ["", "L-inf eps sweep (tfbnn only; the paper reports 8/255), accuracy %; "
              "DeepFool and BBA read off their one minimum-norm run:", ""]
    lines += markdown_table(["network", "type", "source", "eps"] + list(SWEEP), sweep_rows)
    lines += ["", "The networks: clean accuracy, PGD-7 training, logit scale on the clean test "
              "images, and the median L-inf distance (/255) of the adversarial points the "
              "minimum-norm attacks found:", ""]
    lines += markdown_table(["network", "type", "source", "clean % (whole test split)",
                             "PGD-7 training", "final adversarial training accuracy %",
                             "mean abs logit", "mean top-1 minus top-2 margin",
                             "DeepFool median distance", "BBA median distance"], scale_rows)
    return lines


def plot(results: dict, out) -> list:
    """Accuracy against the L-inf radius for the `SWEEP` attacks, one panel per network
    (first training seed), Table 4's 8/255 numbers as markers: ``STEM.png``."""
    cfg = results["config"]
    panels = [(network, row, entry) for network, row, seed, entry in _runs(results)
              if seed == str(cfg["seeds"][0])]
    if not panels or out is None:
        return []
    theirs = _paper_rows()
    plt = _common.pyplot()
    columns = min(2, len(panels))
    lines = -(-len(panels) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(4.5 * columns, 3.4 * lines),
                             squeeze=False)
    radii = sorted(set(cfg["sweep"]) | {cfg["linf_eps"]})
    for ax, (network, row, entry) in zip(axes.flat, panels):
        printed = theirs.get((network, row))
        for i, name in enumerate(SWEEP):
            points = [(eps, entry["settings"].get(strength.setting_key("linf", eps), {})
                       .get("attacks", {}).get(name)) for eps in radii]
            points = [(eps, 100 * r["accuracy"]) for eps, r in points if r]
            if points:
                ax.plot(*zip(*points), marker="o", color=f"C{i}", label=f"tfbnn {name}")
            if printed:
                ax.plot([cfg["linf_eps"]], [printed[name]], marker="x", markersize=9,
                        linestyle="none", color=f"C{i}", label=f"paper {name}")
        ax.set(title=f"{network} {row}*", xlabel="L-inf eps (/255)", ylabel="accuracy (%)",
               ylim=(-2, 100), xscale="log", xticks=radii)
        ax.set_xticklabels([f"{r:g}" for r in radii])
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    return [_common.save_figure(fig, out)]


_ONE_SEED = ("one training seed, so no ± is printed: the verdict compares two attacks by "
             "their difference on the same {n} images, beyond two standard errors of that "
             "paired difference (from the images where they disagree)")
_SPREAD = ("the first tfbnn row of each network is the mean ± sample standard deviation "
           "over the training seeds, the rows below it one per seed; the verdict compares two "
           "attacks by their difference on the same {n} images, its noise the standard "
           "error of that paired difference (not divided by the seeds, which attack the same "
           "images) plus the spread over the seeds")


def summarize(results: dict, plots: list | None = None) -> dict:
    """The section of docs/RESULTS.md: Table 4 beside tfbnn's numbers, the sweep, the
    networks' scale, and the committed rule's verdict (`RULE`)."""
    cfg = results["config"]
    n = results.get("n", cfg["n"])
    rule = _verdicts.load_rule(RULE)
    ours, saturated = _estimates(results)
    judged = _verdicts.judge(rule, ours, {})
    seeds = sorted({int(s) for per_seed in results["models"].values() for s in per_seed})
    entries = [e for *_, e in _runs(results)]
    data_title = strength.data_title(results, entries)
    last = sorted({e["pgd_last_epochs"] for e in entries}, key=str)
    why = judged["why"]
    judged_cells = {what for check in judged["checks"] for what, _ in check["items"]}
    flat = [c for c in saturated if any(c in what for what in judged_cells)]
    if flat:
        why += (" Left out as saturated (both attacks leave 0 % or 100 % of the images, "
                f"listed as not run above): {', '.join(flat)}.")
    gains = [c for c in rule["checks"] if c["kind"] == "in_range"]
    skipped = [c["a"].format_map(b) for c in gains for b in _verdicts._bindings(c)]
    skipped = [c for c in skipped if c not in ours
               and c.split(" gain of ")[0] + f" {c.rsplit(' over ', 1)[1]}" in ours]
    if skipped:
        why += (f" Gain cells left out because the weaker attack itself leaves at most "
                f"{gains[0]['high']:g} % there (a small gain is then forced; listed as not "
                f"run above): {', '.join(skipped)}.")
    finding = _verdicts.finding(rule, ours)
    if finding:
        why += " " + finding
    training = ("PGD-7 throughout" if last == [None] else
                f"PGD-7 (8/255, step 2/255) for the last "
                f"{', '.join(str(e) for e in last)} epochs, clean before")
    return _common.summary(
        title=f"Gupta & Ajanthan, Table 4, PGD-trained ResNet-18 (REF, BNN-WQ by BC, GD-tanh, "
              f"MD-tanh-S) on {data_title}: FGSM/PGD, beta = 0.1, DeepFool, BBA vs "
              "FGSM++/PGD++",
        command=_common.command(NAME, cfg, DEFAULT, FULL),
        paper_scale="the official CIFAR-10 (50,000 training images), full-width ResNet-18 "
                    "trained 100,000 iterations at batch 128 with Madry's PGD-7 (8/255, step "
                    "2/255) throughout; attacks at its Table 6 parameters, one random start, "
                    "DeepFool and BBA with foolbox's defaults, on the whole test set (10,000 "
                    "images); one number per cell, no spread",
        tfbnn_scale=(strength.networks_scale(results, entries, strength.seeds_text(seeds),
                                             training=f" with {training}")
                     + f"; attacks at the paper's Table 6 parameters ({cfg['iters']} "
                       f"iterations, L-inf eps {cfg['linf_eps']:g}/255 step "
                       f"{cfg['linf_step']:g}/255), one random start, attack seed "
                       f"{cfg['seed']}; DeepFool ({cfg['deepfool_steps']} steps) and BBA "
                       f"({cfg['bba_steps']} steps) with foolbox's defaults otherwise, run once "
                       "without a radius on the correctly classified images, robust at eps "
                       "where the point found lies further than eps or none was found; "
                     + strength.sweep_and_worst_case(cfg, seeds, n, (_ONE_SEED, _SPREAD))),
        table=_tables(results), verdict=judged["verdict"], why=why, plots=plots)


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``), the plot
    redrawn beside ``out`` from the stored numbers."""
    return summarize(results, plot(results, out))


if __name__ == "__main__":
    main(_common.cli(__doc__, FULL, ("n", "seed", "seeds", "epochs", "out", "width", "iterations"),
                     architectures=dict(nargs="+", help=" ".join(TITLES)),
                     variants=dict(nargs="+", help=" ".join(ROWS)),
                     pgd_last_epochs=dict(type=int, help="PGD-7 training epochs at the end "
                                                         "(--full: throughout)"),
                     iters=dict(type=int, help="attack iterations (the paper: 20)"),
                     sweep=dict(type=float, nargs="+", help="extra L-inf radii, pixels")))
