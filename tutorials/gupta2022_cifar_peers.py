"""DeepFool, BBA and CLEVER against PGD++ on the CIFAR-10 networks: Tables 10 and 11.

Gupta & Ajanthan, "Improved Gradient based Adversarial Attacks for Quantized Networks"
(AAAI 2022), Appendix C.3, in the paper's own setting:

- Table 10: BNN-WAQ (binary weights and activations) ResNet-18 and VGG-16 on CIFAR-10
  under PGD, DeepFool, the Brendel & Bethge attack (BBA) and PGD++ (NJS, HNS) at L-inf
  8/255. PGD and PGD++ at the paper's Table 6 parameters (step 2/255, 20 iterations, one
  random start, `rand_init="paper"`, HNS on its linear grid of 100 betas, NJS with rho
  0.01, attack seed 0), built as in `gupta2022_cifar_attack_strength.py`. DeepFool and
  BBA "with Foolbox's defaults", i.e. foolbox 3.3.4's own code through
  `tfbnn.attacks.peers` (never a rewrite):

  * DeepFool (``LinfDeepFoolAttack``): at most 50 steps, the 10 highest-scoring classes
    as candidates, overshoot 0.02, the logit-difference loss;
  * BBA (``LinfinityBrendelBethgeAttack``): at most 1,000 steps, learning rate 1e-3
    (halved 20 times over the run: lr_decay 0.5, lr_num_decay 20), momentum 0.8,
    overshoot 1.1, 10 binary-search steps, from foolbox's default start, the
    ``LinearSearchBlendedUniformNoiseAttack`` (up to 1,000 uniform-noise draws until one
    is misclassified, then 1,000 blending steps towards the image); an image for which
    it finds no start stays clean (counted robust). Its noise is drawn after
    ``tf.random.set_seed(seed)``, so a rerun repeats it.

  DeepFool and BBA are minimum-norm attacks: they have no radius of their own. Each is
  run once per network without a bound (the ball of radius 1 covers the whole [0, 1]
  box), and the accuracy at a radius eps counts an image robust when the attack's
  adversarial example lies further than eps from it in L-inf, or the attack found none,
  and the image was classified correctly to begin with. The same run gives every radius
  of the sweep. Beside that, foolbox's own score: the perturbation clipped into the
  eps-ball (what ``epsilons=eps`` does) and the clipped point judged; such a point can
  fool the network although the unclipped one lay outside the ball, so that accuracy is
  at most the first one ("clipped" columns; the per-example worst case counts both). BBA
  runs on the first ``bba_n`` of the n images only (its cost, below); the images after
  them count as not attacked by it in the worst case.

- Table 11: CLEVER scores (Weng et al. 2018) of ResNet-18 BNN-WQ (binary weights,
  MD-tanh-S) and BNN-WAQ, ART 1.20.1's ``clever_u`` through
  `tfbnn.attacks.peers.clever_scores` with the paper's settings (L1 norm, 50 batches of
  10 gradient samples, radius 5; ART's pool factor 10 and Weibull fit), by temperature:
  Original (no scaling), Heuristic (beta = 0.01), NJS and HNS (tfbnn's per-image betas at
  the image, `tfbnn.temperature`, with the predicted class, the class CLEVER scores).
  Which output the paper scored is not stated (the authors' code has no CLEVER script).
  This tutorial scores the softmax probabilities, softmax(beta * logits), because on the
  logits a temperature that is fixed per image cancels out of CLEVER exactly (the score
  is a logit difference over the largest norm of its gradient nearby, and both scale
  with beta: `peers` documents it and tests/test_peers.py checks it), so the paper's
  columns, which differ by up to a factor 4 (BNN-WAQ: 0.7239 original, 3.1578
  heuristic, 0.3120 NJS), cannot be logit scores with a fixed temperature. With
  ``clever_logits`` (on at ``--full``) the logits' score is added ("Original
  (logits)"), where every temperature gives the same number; the heuristic's tiny beta
  linearises the softmax, so its column is close to that score (on the 1-epoch network
  of the timing below, one image: 0.4618 against 0.4619 on the logits). All columns of a
  network use the same images and CLEVER's sampling seed (``seed``), so they are
  compared image by image.

Beside the tables (for every network this tutorial attacks: the BNN-WAQ ones):
tfbnn's answer to "how robust is it really", `tfbnn.evaluation.evaluate` with
``version="standard"`` at L-inf 8/255 joined per example with every attack above; an
eps sweep, L-inf 1, 2 and 4 /255 (8 is the table's) for PGD, both PGD++ (same step/eps
ratio) and DeepFool and BBA (read from the same runs); and each network's logit scale
(mean |logit|, mean top-1 minus top-2 margin on the clean test images). The sweep shows
the attacks' ordering where 8/255 leaves them all at 0 % (a tfbnn finding, not the
verdict).

The verdict applies paper_numbers/rules/gupta2022_cifar_peers.json (`_verdicts`): on
both BNN-WAQ networks, PGD, DeepFool and BBA each leave a higher accuracy at 8/255
than each PGD++ variant, beyond two binomial standard errors of the n images (of BBA's
bba_n; pairs with both at 0 % are saturated and count for nothing); and on both ResNet-18 networks
the original CLEVER score exceeds the NJS one and the HNS one: the mean per-image
difference lies above 0 beyond two standard errors of that mean, widened by Student's t
for the few images (`_paired`; a difference of exactly 0 on every image, both columns
at the radius cap, is saturated). A run where
everything saturates reads "not comparable". If foolbox, numba or ART is missing the
tutorial says so (``pip install -e ".[bench]"``) before any network is trained.

Scale. Paper: full-width networks trained 100,000 iterations on the official CIFAR-10,
the whole test set for Table 10 ("multiple hours" of BBA), an unstated number of images
for Table 11. Default here (2 CPU cores): width 0.25, 10 epochs, training seed 1234, on
whatever `tfbnn.data.load_cifar10` finds (here the JPEG stand-in, labelled "CIFAR-10
(JPEG stand-in, 20k train)"); Table 10 on n = 100 test images, BBA on the first bba_n =
12 of them; Table 11 on the first clever_n = 3, the four temperature columns (the logits'
column with ``clever_logits``). Measured time of the default once the three networks were
cached: 2,598 s (43 minutes) on 2026-12-05, with three other jobs on the 2 cores (a PGD
training run and two tutorials), over the 30-minute budget at that load: BBA 562 s
(ResNet-18) and 338 s (VGG-16), CLEVER 57-237 s per column (1,304 s for the eight), the
PGD runs and DeepFool about 300 s. Alone on the 2 cores (2026-12-05, into a scratch
file): 1,240 s (20.7 minutes), the same numbers and verdict; BBA 245 s and 156 s, CLEVER
68-102 s per column. Cost, in CPU seconds (process time, all threads) measured 2026-12-05
on a 1-epoch width-0.25 ResNet-18 BNN-WAQ on the 2 CPU cores while other jobs ran (load
average 5-10; wall time was up to twice the CPU time): PGD-20 6-8 s per 100 images, each
PGD++ about 8 s (14 s with graph tracing), DeepFool 112 s per 100 images, BBA 256 s per
20 images (13 s per image) plus 25 s to compile foolbox's numba solvers once per process,
CLEVER 30-34 s per image and column (ART differentiates 9 class pairs x 10 batches x 2
classes eagerly), `evaluate` standard 14 s per 100 images (on that weak network APGD-CE
broke everything). Estimate of the default once the three networks are cached: per
BNN-WAQ network 12 PGD runs (4 radii) about 130 s, DeepFool 110 s, BBA 155 s, the
ensemble about 30 s; CLEVER 2 networks x 3 images x 4 columns x 32 s = 770 s; about 1,650
CPU seconds in all, 28 minutes, an upper bound for the wall time on 2 idle cores (the
attacks use both). n = 100 for BBA would take 21 minutes per network, hence bba_n. The
networks, if not cached, take about 4-8 minutes each to train
(`gupta2022_cifar_models.py`). ``--full``: full width, the authors' 100,000 training
iterations, the whole test set for Table 10 (BBA included), 100 images and the logits'
column for Table 11 (GPU work; the same code path). Results are written after every
attack and every CLEVER column, so a killed run resumes.

    python tutorials/gupta2022_cifar_peers.py [--full] [--n 100] [--bba-n 12] [--clever-n 3]
"""

from __future__ import annotations

import warnings

import numpy as np
import tensorflow as tf

import tfbnn  # noqa: F401  (Keras 2 set-up before TensorFlow)
import _common
import _verdicts
import _zoo
import gupta2022_cifar_attack_strength as strength
import gupta2022_cifar_models as cifar_models
from _common import RESULTS, markdown_table, paper
from tfbnn import attacks, checks
from tfbnn.attacks import peers
from tfbnn.evaluation.catalog import VERSIONS

NAME = RULE = "gupta2022_cifar_peers"
TITLES = {"resnet18": "ResNet-18", "vgg16": "VGG-16"}
ROWS = {"WQ-MD": "BNN-WQ", "WAQ": "BNN-WAQ"}
"""`_zoo.CIFAR_VARIANTS` short names -> the paper's row names (BNN-WQ is MD-tanh-S)."""
TABLE10_VARIANT = "WAQ"
"""Table 10 attacks the BNN-WAQ networks only."""

GRADIENT = ("PGD", "PGD++ NJS", "PGD++ HNS")
MINIMUM_NORM = ("DeepFool", "BBA")
TABLE10 = ("PGD", "DeepFool", "BBA", "PGD++ NJS", "PGD++ HNS")
"""Table 10's columns, in its order."""
CLEVER = {"Original": None, "Heuristic": 0.01, "NJS": "njs", "HNS": "hns"}
"""Table 11's columns -> `peers.clever_scores`'s ``beta``."""
CLEVER_LOGITS = "Original (logits)"
PAIRS = (("Original", "NJS"), ("Original", "HNS"), ("Heuristic", "Original"))
"""The paired CLEVER differences the rule reads (``"<a> minus <b>"``)."""
UNBOUNDED = 1.0
"""The L-inf radius DeepFool and BBA run at: the whole [0, 1] box, so nothing is clipped."""

DEFAULT = {"architectures": ["resnet18", "vgg16"],
           "clever_architectures": ["resnet18"], "clever_variants": ["WQ-MD", "WAQ"],
           "width": 0.25, "epochs": 10, "iterations": None, "seeds": [1234],
           "n": 100, "batch": 100, "iters": 20, "seed": 0,
           "linf_eps": 8, "linf_step": 2, "sweep": [1, 2, 4],
           "minimum_norm": ["DeepFool", "BBA"], "bba_n": 12,
           "clever_n": 3, "clever_batches": 50, "clever_batch_size": 10, "clever_radius": 5.0,
           "clever_logits": False,
           "ensemble": "standard", "ensemble_iters": None,
           "out": str(RESULTS / f"{NAME}.json")}
"""Radii and steps in pixels of the [0, 255] scale (the paper's Table 6); ``seed``: the
attacks' random starts and CLEVER's sampling; ``seeds``: the networks' training seeds;
``minimum_norm``: which of DeepFool and BBA run; ``bba_n``: BBA runs on the first bba_n
of the n images (None: all), as it costs about 12x DeepFool per image; ``clever_*``: Table
11's images and ART's settings (L1 norm always, the paper's), ``clever_logits`` adds the
logits' score; ``ensemble_iters``: None keeps the version's own iteration counts."""
FULL = {"width": 1.0, "iterations": 100_000, "n": 10_000, "batch": 500, "bba_n": None,
        "clever_n": 100, "clever_logits": True}

measure = strength.measure
ensemble = strength.ensemble
logit_scale = strength.logit_scale
setting_key = strength.setting_key
"""Shared with the Tables 2 and 3 tutorial (module attributes, so a test can replace them)."""


def check_config(config: dict) -> None:
    """Refuse a config that cannot run, before any network is trained or attacked."""
    for name in ("architectures", "clever_architectures"):
        checks.check_choices(name, config[name], TITLES, allow_empty=True,
                             hint=" (The networks of the paper's Tables 10 and 11.)")
    checks.check_choices("clever_variants", config["clever_variants"], ROWS, allow_empty=True,
                         hint=" (BNN-WQ is WQ-MD, the paper's MD-tanh-S.)")
    checks.check_choices("minimum_norm", config["minimum_norm"], MINIMUM_NORM,
                         allow_empty=True)
    checks.check_int("n", config["n"], 1, hint=" Pass --n with a positive count of images.")
    checks.check_int("batch", config["batch"], 1)
    checks.check_int("iters", config["iters"], 1, hint=" The paper's Table 6: 20.")
    checks.check_int("ensemble_iters", config["ensemble_iters"], 1, allow_none=True)
    checks.check_int("clever_n", config["clever_n"], 1,
                     hint=" Pass --clever-n with a positive count of images.")
    checks.check_int("bba_n", config["bba_n"], 1, allow_none=True,
                     hint=" Pass --bba-n with a positive count of images, or None for all n.")
    for name, table, flag, used in (
            ("clever_n", "Table 11 scores", "--clever-n", bool(config["clever_variants"])),
            ("bba_n", "BBA attacks", "--bba-n", "BBA" in config["minimum_norm"])):
        if used and config[name] is not None and config[name] > config["n"]:
            raise ValueError(f"{name}={config[name]!r} exceeds n={config['n']!r}: {table} the "
                             f"first {name} of the n test images; raise --n or lower {flag}.")
    checks.check_int("clever_batches", config["clever_batches"], 1, hint=" The paper: 50.")
    checks.check_int("clever_batch_size", config["clever_batch_size"], 1, hint=" The paper: 10.")
    checks.check_number("clever_radius", config["clever_radius"], positive=True)
    checks.check_int_list("seeds", config["seeds"], 0, example="--seeds 1234")
    checks.check_int("seed", config["seed"], 0)
    for name in ("linf_eps", "linf_step"):
        checks.check_number(name, config[name], positive=True)
    for eps in config["sweep"]:
        checks.check_number("sweep", eps, positive=True)
    checks.check_choice("ensemble", config["ensemble"], VERSIONS)


def require_peers(config: dict) -> None:
    """Import the peer libraries this config runs, or raise `ImportError` naming the
    ``bench`` extra, before any network is trained (as the evaluation catalog does)."""
    if config["minimum_norm"]:
        peers.require("foolbox", "Table 10's DeepFool and BBA")
    if "BBA" in config["minimum_norm"]:
        peers.require("numba", "Table 10's BBA (foolbox compiles its solvers with numba)")
    if config["clever_architectures"] and config["clever_variants"]:
        peers.require("art", "Table 11's CLEVER scores")


def networks(config: dict) -> list[tuple[str, str, bool, bool]]:
    """``(architecture, variant, table10, table11)`` for every network the config needs,
    each once: Table 10's BNN-WAQ networks and Table 11's."""
    table10 = [(a, TABLE10_VARIANT) for a in config["architectures"]]
    table11 = [(a, v) for a in config["clever_architectures"] for v in config["clever_variants"]]
    order = table10 + [net for net in table11 if net not in table10]
    return [(a, v, (a, v) in table10, (a, v) in table11) for a, v in order]


def radii(config: dict) -> list:
    """The L-inf radii in pixels: the table's, then the sweep's."""
    return [config["linf_eps"]] + [e for e in config["sweep"] if e != config["linf_eps"]]


def gradient_attacks(config: dict, eps: float) -> dict:
    """PGD and both PGD++ at radius ``eps`` (pixels), the paper's step/eps ratio."""
    px = 1 / 255
    step = eps * config["linf_step"] / config["linf_eps"]
    return strength._linf_attacks(eps * px, step * px, config["iters"], config["seed"],
                                  names=GRADIENT)


def minimum_norm(name: str, model_fn, x, y, clean, config: dict) -> dict:
    """One unbounded run of DeepFool or BBA (``name``): per example whether it fooled the
    network, its L-inf distance, and per radius whether the point clipped into that ball
    (foolbox's ``epsilons=eps``) still leaves the image correctly classified."""
    def attack(xb, yb):
        if name == "DeepFool":
            return attacks.deepfool(model_fn, xb, yb, UNBOUNDED, np.inf)
        with warnings.catch_warnings():  # "no adversarial starting point": counted below
            warnings.simplefilter("ignore", UserWarning)
            x_adv, started = attacks.brendel_bethge(model_fn, xb, yb, UNBOUNDED, np.inf,
                                                    return_started=True)
        unstarted.append(int((~started).sum()))
        return x_adv

    unstarted: list[int] = []
    if name == "BBA":
        tf.random.set_seed(config["seed"])  # foolbox draws its noise start from TF's state
        count = len(x) if config["bba_n"] is None else config["bba_n"]
        x, y, clean = x[:count], y[:count], clean[:count]
    x_adv, seconds = _common.timed(_common.in_batches, attack, x, y, batch=config["batch"])
    fooled = ~_common.correct(model_fn, x_adv, y)
    delta = (x_adv.astype(np.float64) - x).reshape(len(x), -1)
    distance = np.abs(delta).max(1)
    clipped = {}
    for eps in radii(config):
        inside = np.clip(x + np.clip(x_adv - x, -eps / 255, eps / 255), 0.0, 1.0)
        clipped[setting_key("linf", eps)] = (
            clean & _common.correct(model_fn, inside.astype(np.float32), y)).astype(int).tolist()
    return {"seconds": seconds, "fooled": fooled.astype(int).tolist(),
            "distance": distance.tolist(), "clipped_robust": clipped,
            **({"no_start": int(sum(unstarted))} if name == "BBA" else {})}


def at_radius(raw: dict, eps: float, clean) -> dict:
    """The accuracy at L-inf ``eps`` (pixels) of a `minimum_norm` run: robust where the
    image was classified correctly and the attack either failed or went further than
    eps; no model call (a resumed run derives it from the stored distances). A run on the
    first ``k`` images only (BBA's ``bba_n``) is scored on those ``k`` (``"n"``)."""
    robust = peers.robust_at(raw["fooled"], raw["distance"], eps / 255, clean)
    clipped = np.array(raw["clipped_robust"][setting_key("linf", eps)], bool)
    return {"accuracy": float(robust.mean()), "accuracy_clipped": float(clipped.mean()),
            "n": len(robust), "seconds": raw["seconds"], "robust": robust.astype(int).tolist(),
            "robust_clipped": clipped.astype(int).tolist()}


def _robust(row: dict, field: str, n: int) -> np.ndarray:
    """``row[field]`` over all ``n`` images: an attack run on the first k only (BBA's
    ``bba_n``) did not attack the others, which count as robust to it."""
    robust = np.ones(n, bool)
    values = np.array(row[field], bool)
    robust[:len(values)] = values
    return robust


def clever(model_fn, x, beta, output: str, config: dict) -> dict:
    """CLEVER (L1, the paper's settings) of ``x`` with temperature ``beta`` on ``output``."""
    with warnings.catch_warnings():  # scipy's Weibull fit on near-constant gradient norms
        warnings.simplefilter("ignore", RuntimeWarning)
        scores = attacks.clever_scores(
            model_fn, x, norm=1, nb_batches=config["clever_batches"],
            batch_size=config["clever_batch_size"], radius=config["clever_radius"], beta=beta,
            output=output, seed=config["seed"])
    return {"scores": [float(s) for s in scores], "mean": float(np.mean(scores))}


def main(config: dict) -> dict:
    def check(config):
        check_config(config)
        require_peers(config)

    run, x, y, train_images = strength.start(config, NAME, DEFAULT, FULL, check)
    config = run.config
    run.results["clever_n"] = config["clever_n"]
    models = run.section("models")
    for architecture, variant, table10, table11 in networks(config):
        per_seed = models.setdefault(f"{architecture} {variant}", {})
        for seed in config["seeds"]:
            spec = cifar_models.spec_for({**config, "seed": seed}, architecture, variant,
                                         train_images)
            model, info = _zoo.trained_model(spec)
            model_fn = lambda t, model=model: model(t, training=False)  # noqa: E731
            clean = _common.correct(model_fn, x, y)
            entry = run.entry(per_seed, str(seed), spec, {
                "key": info["key"], "clean_accuracy": float(clean.mean()),
                "test_accuracy": info["test_accuracy"], "data": info["data"],
                "iterations": info["iterations"], "logits": logit_scale(model_fn, x)})
            label = f"{TITLES[architecture]} {ROWS[variant]} seed {seed}"
            if table10:
                _table10(run, entry, model, model_fn, x, y, clean, config, label)
            if table11:
                _table11(run, entry, model_fn, x[:config["clever_n"]], config, label)
    return run.finish(resummarize(run.results, run.out))


def _table10(run, entry, model, model_fn, x, y, clean, config, label) -> None:
    settings = entry.setdefault("settings", {})
    for eps in radii(config):
        key = setting_key("linf", eps)
        setting = settings.setdefault(key, {"attacks": {}})
        for name, attack in gradient_attacks(config, eps).items():
            run.step(setting["attacks"], name,
                     lambda: measure(attack, model_fn, x, y, clean, config["batch"]),
                     say=lambda r: f"{label} {key:15s} {name:10s} acc {r['accuracy']:.3f}")
    raw_runs = entry.setdefault("minimum_norm", {})
    for name in config["minimum_norm"]:
        raw = run.step(raw_runs, name,
                       lambda: minimum_norm(name, model_fn, x, y, clean, config),
                       say=lambda r: f"{label} {name} fooled {np.mean(r['fooled']):.3f} "
                                     f"in {r['seconds']:.0f} s")
        for eps in radii(config):
            settings[setting_key("linf", eps)]["attacks"][name] = at_radius(raw, eps, clean)
    for setting in settings.values():
        worst = clean.copy()
        for row in setting["attacks"].values():
            worst &= _robust(row, "robust", len(x))
            if "robust_clipped" in row:
                worst &= _robust(row, "robust_clipped", len(x))
        setting["worst_case_accuracy"] = float(worst.mean())
    run.save()
    result = run.step(entry, "ensemble", lambda: ensemble(model, x, y, config),
                      say=lambda r: f"{label} ensemble ({r['version']}) acc {r['accuracy']:.3f}")
    worst = np.array(result["robust"], bool)
    for row in settings[setting_key("linf", config["linf_eps"])]["attacks"].values():
        worst &= _robust(row, "robust", len(x))
        if "robust_clipped" in row:
            worst &= _robust(row, "robust_clipped", len(x))
    entry["worst_case_accuracy"] = float(worst.mean())
    run.save()


def _table11(run, entry, model_fn, x, config, label) -> None:
    scores = entry.setdefault("clever", {})
    columns = [(c, beta, "probabilities") for c, beta in CLEVER.items()]
    if config["clever_logits"]:
        columns.append((CLEVER_LOGITS, None, "logits"))
    for column, beta, output in columns:
        run.step(scores, column, lambda: clever(model_fn, x, beta, output, config),
                 seconds=True,
                 say=lambda r: f"{label} CLEVER {column:17s} mean {r['mean']:.4f} "
                               f"({r['seconds']:.0f} s)")


def _runs(results: dict):
    """``(network, row, seed, entry)`` for every measured network and training seed."""
    for key, per_seed in results["models"].items():
        architecture, variant = key.split()
        for seed, entry in per_seed.items():
            yield TITLES[architecture], ROWS[variant], seed, entry


def _paired(per_seed: list) -> _verdicts.Estimate:
    """The mean of per-image differences (one array per training seed) and its standard
    error, carried as ``std`` with ``runs=1`` so that `Estimate.se` returns it.

    Within a seed the error is std/sqrt(images); over seeds, the spread of the seeds'
    means plus the mean within-seed variance, each over the seed count. A handful of
    images (Table 11's default is 3) estimates its own spread poorly, and two normal
    standard errors would then be far too narrow a band, so the error is widened by
    Student's t over the normal quantile (97.5 %, images - 1 degrees of freedom, or seeds
    - 1 over several seeds; x2.2 for 3 images, x1.01 for 100): "beyond 2 standard errors"
    stays a 95 % band. One image alone has no spread at all: its error is infinite (the
    check is inconclusive), unless the difference is exactly 0 (both columns capped at
    the radius: saturated)."""
    from scipy import stats

    means = [float(np.mean(d)) for d in per_seed]
    count = len(per_seed)
    if count == 1 and len(per_seed[0]) == 1:
        return _verdicts.Estimate(means[0], 0.0 if means[0] == 0 else float("inf"), runs=1,
                                  scale=1.0)
    within = [float(np.std(d, ddof=1)) ** 2 / len(d) if len(d) > 1 else 0.0 for d in per_seed]
    variance = float(np.mean(within)) / count
    if count > 1:
        variance += float(np.var(means, ddof=1)) / count
    freedom = count - 1 if count > 1 else len(per_seed[0]) - 1
    widen = float(stats.t.ppf(0.975, freedom) / stats.norm.ppf(0.975))
    return _verdicts.Estimate(float(np.mean(means)), widen * float(np.sqrt(variance)),
                              runs=1, scale=1.0)


def estimates(results: dict) -> dict:
    """Cells for the rule: ``"<network> BNN-WAQ linf eps=8/255 <attack>"`` -> accuracy (%)
    over the training seeds (`_verdicts.over_seeds`, binomial noise of the n images, of
    the first bba_n for BBA);
    ``"<network> <row> CLEVER L1 <a> minus <b>"`` -> the paired mean difference of two
    CLEVER columns (`_paired`); ``"<network> <row> CLEVER L1 <column>"`` -> a column's
    mean (shown, not judged)."""
    n = results.get("n", results["config"]["n"])
    values: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    scores: dict[tuple, dict[str, list]] = {}
    for network, row, _, entry in _runs(results):
        for key, setting in entry.get("settings", {}).items():
            for name, measured in setting["attacks"].items():
                cell = f"{network} {row} {key} {name}"
                values.setdefault(cell, []).append(100 * measured["accuracy"])
                counts[cell] = measured.get("n", n)  # BBA: its bba_n images
        for column, measured in entry.get("clever", {}).items():
            scores.setdefault((network, row), {}).setdefault(column, []).append(
                np.array(measured["scores"]))
    ours = {cell: _verdicts.over_seeds(v, n=counts[cell]) for cell, v in values.items()}
    for (network, row), columns in scores.items():
        for column, per_seed in columns.items():
            ours[f"{network} {row} CLEVER L1 {column}"] = _paired(per_seed)
        for a, b in PAIRS:
            if a in columns and b in columns and len(columns[a]) == len(columns[b]):
                ours[f"{network} {row} CLEVER L1 {a} minus {b}"] = _paired(
                    [sa - sb for sa, sb in zip(columns[a], columns[b])])
    return ours


def _cell(values: list, n: int | None) -> str:
    values = [100 * v for v in values if v is not None]
    return _verdicts.over_seeds(values, n=n).text(1) if values else "—"


def _pct_paper(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def _groups(runs: list) -> list:
    """``(source, entries)``: the mean over seeds (when several), then one per seed."""
    return ([(f"tfbnn, mean ± std ({len(runs)} seeds)", [e for _, e in runs])]
            if len(runs) > 1 else []) + [(f"tfbnn, seed {s}", [e]) for s, e in runs]


def _tables(results: dict) -> list[str]:
    """Table 10 at 8/255 beside the paper, the sweep, the minimum-norm runs, Table 11
    beside the paper, and the networks' logit scale."""
    cfg, n = results["config"], results.get("n", results["config"]["n"])
    linf = setting_key("linf", cfg["linf_eps"])
    table10, table11 = paper("gupta2022_table10"), paper("gupta2022_table11")
    ours = estimates(results)
    by_model: dict = {}
    for network, row, seed, entry in _runs(results):
        by_model.setdefault((network, row), []).append((seed, entry))
    rows10, sweep_rows, norm_rows, rows11, scale_rows = [], [], [], [], []
    columns = [_column(a, cfg) for a in TABLE10]
    header10 = (["network", "source", "clean"] + columns
                + [f"{_column(a, cfg)}, foolbox's clipped point" for a in MINIMUM_NORM]
                + ["worst case (these attacks)",
                   f"worst case with evaluate --version {cfg['ensemble']}"])
    for architecture in cfg["architectures"]:
        network = TITLES[architecture]
        printed = table10["rows"].get(network)
        if printed:
            cells = dict(zip(table10["columns"], printed))
            rows10.append([network, "paper", "—"]
                          + [_pct_paper(cells[a]) for a in TABLE10] + ["—", "—"]
                          + [f"{min(printed):.2f} (its best attack)", "—"])
        runs = by_model.get((network, "BNN-WAQ"), [])
        for source, entries in _groups(runs):
            def attack(key, name, field="accuracy"):
                return _cell([e.get("settings", {}).get(key, {}).get("attacks", {})
                              .get(name, {}).get(field) for e in entries], n)
            rows10.append([network, source, _cell([e["clean_accuracy"] for e in entries], n)]
                          + [attack(linf, a) for a in TABLE10]
                          + [attack(linf, a, "accuracy_clipped") for a in MINIMUM_NORM]
                          + [_cell([e.get("worst_case_accuracy") for e in entries], n),
                             _cell([e.get("ensemble", {}).get("accuracy") for e in entries],
                                   n)])
            for eps in sorted(radii(cfg)):
                key = setting_key("linf", eps)
                sweep_rows.append([network, source, f"{eps:g}/255"]
                                  + [attack(key, a) for a in TABLE10])
        for seed, entry in runs:
            for name, raw in entry.get("minimum_norm", {}).items():
                fooled = np.array(raw["fooled"], bool)
                distance = np.array(raw["distance"])
                # a misclassified image is 'fooled' at distance 0: only the others count
                found = distance[fooled & (distance > 0)] * 255
                norm_rows.append([network, f"seed {seed}", name,
                                  f"{100 * fooled.mean():.1f}",
                                  f"{np.median(found):.2f}" if found.size else "—",
                                  f"{np.max(found):.2f}" if found.size else "—",
                                  str(raw.get("no_start", "—")), f"{raw['seconds']:.0f}"])
    clever_header = ["network", "type", "source"] + list(CLEVER) + [
        CLEVER_LOGITS] + [f"{a} − {b} (± se)" for a, b in PAIRS]
    for architecture in cfg["clever_architectures"]:
        network = TITLES[architecture]
        for variant in cfg["clever_variants"]:
            row = ROWS[variant]
            printed = table11["rows"].get(row) if network == "ResNet-18" else None
            if printed:
                rows11.append([network, row, "paper"] + [f"{v:.4f}" for v in printed]
                              + ["—"] * (1 + len(PAIRS)))
            runs = by_model.get((network, row), [])
            if not any("clever" in e for _, e in runs):
                continue
            got = [_got(ours, f"{network} {row} CLEVER L1 {c}", "{:.4g}")
                   for c in list(CLEVER) + [CLEVER_LOGITS]]
            pairs = [_got(ours, f"{network} {row} CLEVER L1 {a} minus {b}", "{:+.3g}",
                          with_se=True) for a, b in PAIRS]
            seeds = ", ".join(s for s, _ in runs)
            images = results.get("clever_n", cfg["clever_n"])
            rows11.append([network, row, f"tfbnn, seed{'s' if len(runs) > 1 else ''} {seeds} "
                                         f"(mean of {images} image{'s' * (images != 1)})"]
                          + got + pairs)
    for network, row in by_model:
        for source, entries in _groups(by_model[(network, row)]):
            scale_rows.append([network, row, source,
                               _cell([e["test_accuracy"] for e in entries], None),
                               f"{np.mean([e['logits']['mean_abs_logit'] for e in entries]):.3g}",
                               f"{np.mean([e['logits']['mean_margin'] for e in entries]):.3g}"])
    lines = [f"Table 10 (BNN-WAQ) at L-inf {cfg['linf_eps']:g}/255; adversarial accuracy % "
             "(lower = stronger attack); DeepFool and BBA: robust = the attack's example lies "
             "further than eps or it found none (the clipped columns: foolbox's own score of "
             "the perturbation clipped into the ball):", ""]
    lines += markdown_table(header10, rows10)
    lines += ["", "L-inf eps sweep (tfbnn only; the paper reports 8/255), accuracy %:", ""]
    lines += markdown_table(["network", "source", "eps"] + columns, sweep_rows)
    lines += ["", "The minimum-norm runs (one unbounded run per network gives every radius): "
              "L-inf distance of the adversarial examples found, in pixels of 255:", ""]
    lines += markdown_table(["network", "training seed", "attack",
                             "fooled % (misclassified images included)",
                             "median distance (correctly classified images it fooled)",
                             "largest distance",
                             "images without a start (BBA)", "seconds"], norm_rows)
    lines += ["", f"Table 11: CLEVER scores (L1, {cfg['clever_batches']} batches of "
              f"{cfg['clever_batch_size']}, radius {cfg['clever_radius']:g}) of the softmax "
              "output by temperature, and of the logits (where a per-image temperature "
              "cancels); lower = less overestimated robustness; the differences are paired "
              "over the same images:", ""]
    lines += markdown_table(clever_header, rows11)
    lines += ["", "Logit scale on the clean test images (large logits saturate the softmax, "
              "the paper's reason why PGD's gradients vanish on BNNs):", ""]
    lines += markdown_table(["network", "type", "source", "clean % (whole test split)",
                             "mean abs logit", "mean top-1 minus top-2 margin"], scale_rows)
    return lines


def _column(attack: str, cfg: dict) -> str:
    """A Table 10 column's header: BBA says when it ran on the first bba_n images only."""
    if attack == "BBA" and cfg.get("bba_n") is not None and cfg["bba_n"] < cfg["n"]:
        return f"BBA (first {cfg['bba_n']} images)"
    return attack


def _got(ours: dict, cell: str, fmt: str, with_se: bool = False) -> str:
    estimate = ours.get(cell)
    if estimate is None:
        return "—"
    text = fmt.format(estimate.mean)
    se = f"{estimate.se:.2g}" if estimate.se > 1e-12 else "0"  # float rounding: no noise
    return f"{text} ± {se}" if with_se else text


def plot(results: dict, out) -> list:
    """Accuracy against the L-inf radius for Table 10's five attacks, one panel per
    BNN-WAQ network (first training seed), the paper's 8/255 numbers as crosses; and
    Table 11's mean CLEVER scores beside the paper's: ``STEM.png``."""
    cfg = results["config"]
    first = str(cfg["seeds"][0])
    panels = [(network, entry) for network, row, seed, entry in _runs(results)
              if seed == first and row == "BNN-WAQ" and entry.get("settings")]
    bars = [(f"{network} {row}", entry["clever"]) for network, row, seed, entry in
            _runs(results) if seed == first and entry.get("clever")]
    if (not panels and not bars) or out is None:
        return []
    table10, table11 = paper("gupta2022_table10"), paper("gupta2022_table11")
    plt = _common.pyplot()
    count = len(panels) + bool(bars)
    fig, axes = plt.subplots(1, count, figsize=(4.2 * count, 3.4), squeeze=False)
    points_at = sorted(radii(cfg))
    for ax, (network, entry) in zip(axes.flat, panels):
        printed = dict(zip(table10["columns"], table10["rows"].get(network, [])))
        for i, name in enumerate(TABLE10):
            points = [(eps, entry["settings"].get(setting_key("linf", eps), {})
                       .get("attacks", {}).get(name)) for eps in points_at]
            points = [(eps, 100 * r["accuracy"]) for eps, r in points if r]
            if points:
                ax.plot(*zip(*points), marker="o", color=f"C{i}", label=f"tfbnn {name}")
            if name in printed:
                ax.plot([cfg["linf_eps"]], [printed[name]], marker="x", markersize=9,
                        linestyle="none", color=f"C{i}")
        ax.set(title=f"{network} BNN-WAQ (x: paper)", xlabel="L-inf eps (/255)",
               ylabel="accuracy (%)", ylim=(-2, 100), xscale="log", xticks=points_at)
        ax.set_xticklabels([f"{r:g}" for r in points_at])
        ax.minorticks_off()
        ax.legend(fontsize=6)
    if bars:
        ax = axes.flat[len(panels)]
        width = 0.8 / len(bars)
        xs = np.arange(len(CLEVER))
        for i, (label, clever_scores) in enumerate(bars):
            heights = [clever_scores.get(c, {}).get("mean", np.nan) for c in CLEVER]
            ax.bar(xs + (i - (len(bars) - 1) / 2) * width, heights, width,
                   label=f"tfbnn {label}")
        for j, (row, values) in enumerate(table11["rows"].items()):
            ax.plot(xs + (j - 0.5) * 0.2, values, marker="x", linestyle="none",
                    color=f"C{5 + j}", markersize=9, label=f"paper ResNet-18 {row}")
        ax.set_xticks(xs)
        ax.set_xticklabels(list(CLEVER))
        ax.set(title="Table 11: mean CLEVER score (L1, softmax)", ylabel="CLEVER score")
        ax.legend(fontsize=6)
    return [_common.save_figure(fig, out)]


_ONE_SEED = ("one training seed, so no ± is printed on accuracies: the verdict takes each "
             "accuracy's noise as the binomial standard error on {n} images")
_SPREAD = ("the first tfbnn row of each network is the mean ± sample standard deviation "
           "over the training seeds, the rows below it one per seed; the verdict takes each "
           "accuracy's noise as that spread plus the binomial standard error on {n} images "
           "per seed")


def summarize(results: dict, plots: list | None = None) -> dict:
    """The section of docs/RESULTS.md: Tables 10 and 11 beside tfbnn's numbers, the sweep,
    the minimum-norm distances, the logit scale, and the rule's verdict (`RULE`)."""
    cfg = results["config"]
    n = results.get("n", cfg["n"])
    rule = _verdicts.load_rule(RULE)
    ours = estimates(results)
    judged = _verdicts.judge(rule, ours, {})
    seeds = sorted({int(s) for per_seed in results["models"].values() for s in per_seed})
    entries = [e for *_, e in _runs(results)]
    data_title = strength.data_title(results, entries)
    why = judged["why"]
    finding = _verdicts.finding(rule, ours)
    if finding:
        why += " " + finding
    skipped = [a for a in MINIMUM_NORM if a not in cfg["minimum_norm"]]
    if skipped:
        why += f" Not run (config minimum_norm): {', '.join(skipped)}."
    return _common.summary(
        title=f"Gupta & Ajanthan, Tables 10 and 11 on {data_title}: DeepFool, BBA and "
              "CLEVER against PGD++",
        command=_common.command(NAME, cfg, DEFAULT, FULL),
        paper_scale="the official CIFAR-10 (50,000 training images), full-width networks "
                    "trained 100,000 iterations at batch 128; Table 10 on the whole test "
                    "set (10,000 images), PGD/PGD++ at its Table 6 parameters, DeepFool and "
                    "BBA with foolbox's defaults; Table 11 CLEVER of ART (L1, 50 batches of "
                    "10, radius 5) on ResNet-18 BNN-WQ (MD-tanh-S) and BNN-WAQ, the number of "
                    "images and the output scored (logits or probabilities) not stated; one "
                    "number per cell, no spread",
        tfbnn_scale=(strength.networks_scale(results, entries, strength.seeds_text(seeds),
                                             images="test images for Table 10")
                     + f", PGD/PGD++ {cfg['iters']} iterations at L-inf eps "
                       f"{cfg['linf_eps']:g}/255 step {cfg['linf_step']:g}/255, one random "
                       f"start, attack seed {cfg['seed']}; DeepFool (foolbox "
                       f"{peers.FOOLBOX_VERSION}: 50 steps, 10 candidates, overshoot 0.02) "
                       "and BBA (1,000 steps, lr 1e-3, momentum 0.8, from foolbox's blended "
                       "uniform-noise start"
                     + ("" if cfg.get("bba_n") is None or cfg["bba_n"] >= n
                        else f"; on the first {cfg['bba_n']} images only, its accuracy over "
                             "those")
                     + ") run once unbounded, robust at eps where the "
                       "example found lies further than eps or none was found; sweep at "
                       f"L-inf {', '.join(f'{e:g}' for e in cfg['sweep'])} /255 with the "
                       "same step/eps ratio; accuracy % over all the images; worst case = "
                       "per-example worst case over the 8/255 attacks (clipped points "
                       "included) and the ensemble; Table 11 on the first "
                       f"{results.get('clever_n', cfg['clever_n'])} of those images, ART "
                       f"{peers.ART_VERSION} CLEVER L1, {cfg['clever_batches']} batches of "
                       f"{cfg['clever_batch_size']}, radius {cfg['clever_radius']:g}, "
                       f"sampling seed {cfg['seed']}, on softmax(beta * logits); "
                     + (_SPREAD if len(seeds) > 1 else _ONE_SEED).format(n=n)),
        table=_tables(results), verdict=judged["verdict"], why=why, plots=plots)


def resummarize(results: dict, out=None) -> dict:
    """The summary from stored results alone (``make_results.py --rejudge``), the plot
    redrawn beside ``out`` from the stored numbers."""
    return summarize(results, plot(results, out))


if __name__ == "__main__":
    main(_common.cli(__doc__, FULL, ("n", "seed", "seeds", "epochs", "out", "width", "iterations"),
                     architectures=dict(nargs="+", help="Table 10 networks: "
                                                        + " ".join(TITLES)),
                     clever_architectures=dict(nargs="+", help="Table 11 networks"),
                     clever_variants=dict(nargs="+", help=" ".join(ROWS)),
                     iters=dict(type=int, help="PGD iterations (the paper: 20)"),
                     clever_n=dict(type=int, help="Table 11 images"),
                     bba_n=dict(type=int, help="BBA's images (the first of the n)"),
                     clever_logits=dict(action="store_const", const=True,
                                        help="also score CLEVER on the logits"),
                     minimum_norm=dict(nargs="+", help=" ".join(MINIMUM_NORM)),
                     sweep=dict(type=float, nargs="+", help="extra L-inf radii, pixels")))
