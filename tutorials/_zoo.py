"""Trained models shared between tutorials: train once, attack many times.

A model is identified by its full training spec (variant, k1, estimator, epochs, seed,
adversarial training...). `trained_model(spec)` loads it from the cache directory
when a model with the same spec was trained before, and otherwise trains it on MNIST
through `model.fit` and saves it atomically, so a tutorial killed mid-way resumes
with the models it had finished, and tutorials run side by side train each model once.

The cache lives in ``$TFBNN_CACHE`` or ``~/.cache/tfbnn/models``.

CIFAR networks (specs with ``"dataset": "cifar10"``, built by `cifar_spec`) train the
authors' way (`tfbnn.training.cifar_recipe`: Adam, the stepped learning rate, beta
annealing for the tanh methods, seeded crop-and-flip augmentation), checkpoint after
every epoch (a killed training resumes at the next epoch with the same batches), and
leave the network that is evaluated and exported: for GD-tanh and MD-tanh-S the signed
network (`tfbnn.training.finalize_binary`), its batch-norm statistics recomputed on
augmented training images when signing changed the network (beta ended too small).
Their info records the data's title (``"CIFAR-10 (JPEG stand-in, 20k train)"`` here),
the final beta and the clean accuracy on the whole test split before and after signing.

The first paper's CleverHans CNN (specs with a ``"variant"``, built by `model_spec`) trains
on MNIST, or with ``"dataset": "cifar10"`` on 32x32x3 CIFAR-10 images (Galloway et al.'s
Table 5 oracles) the same way (`train`: Adam, no augmentation, as the paper's CleverHans
code); ``"mnist"``, the default, is left out of the spec, so MNIST cache keys are those
of specs without the setting.

Adversarial training follows the authors' training code (a CleverHans 2 fork whose
``model_train`` averages the clean and the adversarial loss for any attack, PGD
included): both adversary specs below carry ``adv_weight`` 0.5. Training on PGD
examples alone (Madry et al.'s recipe, `MadryPGD`'s own default) collapsed the full-
precision A to a constant prediction when PGD switched on after 13 clean epochs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

import tfbnn  # noqa: F401  (Keras 2 set-up first)
import tensorflow as tf
import tf_keras
from tfbnn import data, export, io, models, training
from tfbnn.attacks.core import madry_step

DEFAULT_SPEC = {
    "variant": "A", "k1": 64, "estimator": "passthrough", "epochs": 15, "batch_size": 128,
    "learning_rate": 1e-3, "seed": 1234, "train_size": 60000, "adversary": None,
    "last_epochs": 5,
}


def cache_dir() -> Path:
    path = Path(os.environ.get("TFBNN_CACHE", Path.home() / ".cache" / "tfbnn" / "models"))
    path.mkdir(parents=True, exist_ok=True)
    return path


CIFAR_DATASETS = {"cifar10": 10, "cifar100": 100}
"""The data sets the second paper's CIFAR networks train on, with their class counts
(CIFAR-100: its Table 9 REF networks)."""
CIFAR_DEFAULT_SPEC = {
    "dataset": "cifar10", "architecture": "resnet18", "precision": "ref", "method": None,
    "width": 0.25, "epochs": 10, "batch_size": 128, "learning_rate": 1e-3, "seed": 1234,
    "train_size": None, "augment": True, "adversary": None, "last_epochs": None,
    "calibration": 5000,
}
"""A CIFAR network's training spec: the CPU scale (width 0.25, 10 epochs) unless set."""


VERIFIABLE_DEFAULT_SPEC = {
    "family": "verifiable", "architecture": "mlp", "hidden": [100] * 5, "weights": "binary",
    "ternary_threshold": 0.05, "margin": None, "epochs": 10, "batch_size": 128,
    "learning_rate": 1e-3, "seed": 1234, "train_size": 60000,
}
"""A network `tfbnn.verify` verifies exactly (`tfbnn.models.binary_mlp` or ``conv_small``)
trained on MNIST (or, with ``"dataset": "cifar10"``, on CIFAR-10 or its stand-in): the
usual way, or verification-friendly with ``"weights": "ternary"`` and/or ``"margin":
{"weight", "eps", "flip"}`` (`tfbnn.verify.friendly.MarginTrainer`)."""


def verifiable_spec(architecture: str, *, friendly: dict | None = None, **settings) -> dict:
    """The cache spec of a verifiable MNIST network: ``"mlp"`` (``hidden`` units per layer)
    or ``"conv_small"``; ``friendly`` holds the verification-friendly settings
    (``weights``, ``ternary_threshold``, ``margin``), None for the usual training."""
    if architecture not in ("mlp", "conv_small"):
        raise ValueError(f"architecture={architecture!r}: use 'mlp' or 'conv_small'.")
    spec = {"family": "verifiable", "architecture": architecture, **(friendly or {}),
            **settings}
    if spec.get("dataset", "mnist") == "mnist":
        spec.pop("dataset", None)  # MNIST specs (and their cache keys) carry no dataset
    elif spec["dataset"] != "cifar10":
        raise ValueError(f"dataset={spec['dataset']!r}: use 'mnist' or 'cifar10'.")
    unknown = set(spec) - set(VERIFIABLE_DEFAULT_SPEC) - {"dataset"}
    if unknown:
        raise ValueError(f"unknown verifiable spec settings {sorted(unknown)}; known: "
                         f"{sorted(VERIFIABLE_DEFAULT_SPEC)}.")
    if architecture == "conv_small":
        spec["hidden"] = None  # conv-small's shape is fixed
    return spec


def _cifar_network(spec: dict) -> bool:
    """Whether ``spec`` names one of the second paper's CIFAR networks (`cifar_spec`): a
    CIFAR-10 spec that is neither verifiable nor a CleverHans CNN (those have a
    ``"variant"``)."""
    return (spec.get("family") != "verifiable" and spec.get("dataset") in CIFAR_DATASETS
            and "variant" not in spec)


def full_spec(spec: dict) -> dict:
    """``spec`` completed with the defaults of its data set (or family)."""
    if spec.get("family") == "verifiable":
        defaults = VERIFIABLE_DEFAULT_SPEC
    elif _cifar_network(spec):
        defaults = CIFAR_DEFAULT_SPEC
    else:  # the CleverHans CNN: MNIST specs (and their cache keys) carry no dataset
        defaults = DEFAULT_SPEC
        if spec.get("dataset", "mnist") == "mnist":
            spec = {k: v for k, v in spec.items() if k != "dataset"}
        elif spec["dataset"] != "cifar10":
            raise ValueError(f"dataset={spec['dataset']!r}: the CleverHans CNN trains on "
                             "'mnist' or 'cifar10'.")
    return {**defaults, **spec}


def spec_key(spec: dict) -> str:
    full = full_spec(spec)
    digest = hashlib.sha256(json.dumps(full, sort_keys=True).encode()).hexdigest()[:12]
    if full.get("family") == "verifiable":
        shape = ("conv-small" if full["architecture"] == "conv_small"
                 else f"mlp{len(full['hidden'])}x{max(full['hidden'])}")
        friendly = "-ternary" * (full["weights"] == "ternary") + "-margin" * bool(
            full["margin"])
        cifar = "-cifar10" * (full.get("dataset") == "cifar10")
        return f"verifiable-{shape}{cifar}{friendly}-{digest}"
    if _cifar_network(full):
        method = f"-{full['method']}" if full["method"] else ""
        prefix = "cifar" if full["dataset"] == "cifar10" else full["dataset"]
        return (f"{prefix}-{full['architecture']}-{full['precision']}{method}-"
                f"w{full['width']:g}-{digest}")
    cifar = "-cifar10" * (full.get("dataset") == "cifar10")
    return f"{full['variant']}{full['k1']}{cifar}-{digest}"


CIFAR_VARIANTS = {
    "REF": ("ref", None), "WQ-BC": ("wq", "bc"), "WQ-GD": ("wq", "gd_tanh"),
    "WQ-MD": ("wq", "md_tanh_s"), "WAQ": ("waq", None),
}
"""The second paper's Table 1 rows by short name: (precision, method)."""


def cifar_spec(architecture: str, variant: str, **settings) -> dict:
    """The cache spec of the CIFAR network ``architecture`` (``"resnet18"``, ``"vgg16"``,
    or a BinaryNet net) as ``variant`` (a key of `CIFAR_VARIANTS`), with ``settings``
    (width, epochs, seed, ``adversary="pgd"`` for Madry's CIFAR PGD training,
    ``dataset="cifar100"`` for a 100-class network...)."""
    if variant not in CIFAR_VARIANTS:
        raise ValueError(f"variant={variant!r} is not one of {sorted(CIFAR_VARIANTS)}.")
    precision, method = CIFAR_VARIANTS[variant]
    if architecture.startswith("binarynet"):
        if variant != "WAQ":
            raise ValueError(f"{architecture} is a BNN-WAQ network; variant must be 'WAQ'.")
        precision = "waq"
    unknown = set(settings) - set(CIFAR_DEFAULT_SPEC)
    if unknown:
        raise ValueError(f"unknown CIFAR spec settings {sorted(unknown)}; known: "
                         f"{sorted(CIFAR_DEFAULT_SPEC)}.")
    if settings.get("dataset", "cifar10") not in CIFAR_DATASETS:
        raise ValueError(f"dataset={settings['dataset']!r}: the CIFAR networks train on "
                         f"{sorted(CIFAR_DATASETS)}.")
    if settings.get("adversary") not in (None, "pgd"):
        raise ValueError(f"adversary={settings['adversary']!r}: use None or 'pgd' (Madry's "
                         "L-inf 8/255, step 2/255, 7 iterations).")
    return {"dataset": "cifar10", "architecture": architecture, "precision": precision,
            "method": method, **settings}


PGD_LAST_EPOCHS = 2
"""Default PGD-training epochs at the end of training (the papers: the last 5 of 15)."""


def pgd_adversary(nb_iter: int = 10, eps: float = 0.3, eps_iter: float | None = None) -> dict:
    """The spec of PGD adversarial training: ``nb_iter`` steps of ``eps_iter``.

    The step defaults to 2.5 eps / nb_iter (Madry et al.'s rule), at most eps. Half clean, half
    adversarial loss, as in the authors' code. The default, PGD-10 of step 0.075 at
    eps 0.3, is shared by Table 6's '+' rows and Tables 2 and 4's '+*' models.
    """
    step = round(min(eps, madry_step(eps, nb_iter)), 6) if eps_iter is None else eps_iter
    return {"kind": "pgd", "eps": eps, "eps_iter": step, "nb_iter": nb_iter, "adv_weight": 0.5}


def current(entry: dict | None, spec: dict) -> bool:
    """Whether a result ``entry`` was measured on the model ``spec`` names today.

    Results store the model's ``key`` (or its full spec, as ``spec`` or ``model``); an
    entry measured on a model trained to another spec (an older recipe, say) is stale and
    must be redone.
    """
    if not entry:
        return False
    stored = entry.get("key")
    for name in ("spec", "model"):
        if stored is None and isinstance(entry.get(name), dict):
            stored = spec_key(entry[name])
    return stored == spec_key(spec)


ADVERSARIES = {
    "clean": None,
    "+": {"kind": "fgsm", "eps_max": 0.3},
    "+*": pgd_adversary(10),
    "+* full": pgd_adversary(40, eps_iter=0.01),
}
"""Galloway et al.'s adversarial training: Table 1's '+' (Kurakin FGSM, eps_max 0.3) and
Table 2's '+*' (PGD at eps 0.3: PGD-10 of step 0.075 by default, the paper's PGD-40 of
step 0.01 with ``--full``)."""


def model_spec(name: str, config: dict, pgd_full: bool = False, seed: int | None = None) -> dict:
    """The cache spec of the CNN ``name`` at ``config``'s k1, epochs and train_size.

    ``name`` is a variant (``"B"``), optionally FGSM-trained (``"B+"``, Table 1's '+') or
    PGD-trained (``"B+*"``, Table 2's '+*', for the last ``config["pgd_last_epochs"]``
    epochs, default `PGD_LAST_EPOCHS`; with ``pgd_full`` the paper's PGD-40 for the last
    5). ``seed``: the training seed (default `DEFAULT_SPEC`'s). ``config["dataset"]``:
    ``"mnist"`` (the default; left out of the spec) or ``"cifar10"`` (Table 5's oracles, on
    32x32x3 images). The tutorials share these models through the cache.
    """
    variant, suffix = name[0], name[1:] or "clean"
    if suffix == "+*" and pgd_full:
        suffix = "+* full"
    spec = {"variant": variant, "k1": config["k1"], "epochs": config["epochs"],
            "train_size": config["train_size"], "adversary": ADVERSARIES[suffix]}
    if suffix.startswith("+*"):
        spec["last_epochs"] = 5 if pgd_full else config.get("pgd_last_epochs", PGD_LAST_EPOCHS)
    if seed is not None:
        spec["seed"] = seed
    if config.get("dataset", "mnist") != "mnist":
        spec["dataset"] = config["dataset"]
        full_spec(spec)  # refuses a data set the CNN does not train on
    return spec


def classifier(spec: dict) -> tuple[Callable, dict]:
    """``(model_fn, info)``: `trained_model` of ``spec`` as the attacks call it (logits in
    inference mode)."""
    model, info = trained_model(spec)
    return (lambda t: model(t, training=False)), info


def _adversary(config):
    kind = config["kind"]
    params = {k: v for k, v in config.items() if k not in ("kind", "adv_weight")}
    return {"fgsm": training.KurakinFGSM, "pgd": training.MadryPGD}[kind](**params)


LOCK_POLL_SECONDS = 10.0
"""How often a tutorial waiting for another process's training looks again."""


def _take_lock(lock: Path) -> bool:
    """Create ``lock`` holding this pid; False while another live process holds it."""
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text())
                os.kill(pid, 0)  # raises when that process is gone
                return False
            except ProcessLookupError:  # a killed trainer's lock: take it over
                lock.unlink(missing_ok=True)
            except (OSError, ValueError):  # being written, or not ours to judge: wait
                return False
        else:
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            return True
    return False


def trained_model(spec: dict, *, verbose: int = 2) -> tuple[tf_keras.Model, dict]:
    """Return ``(model, info)`` for ``spec``, training and caching it if needed.

    Tutorials running side by side train each model once: while one process trains
    it (a ``KEY.lock`` file in the cache holds its pid), the others wait for its
    result; the lock of a killed process is taken over.
    """
    full = full_spec(spec)
    key = spec_key(full)
    path = cache_dir() / f"{key}.keras"
    info_path = cache_dir() / f"{key}.json"
    lock = cache_dir() / f"{key}.lock"
    waiting = False
    while not (path.exists() and info_path.exists()):
        if _take_lock(lock):
            try:
                if full.get("family") == "verifiable":
                    return train_verifiable(full, verbose=verbose)
                if _cifar_network(full):
                    return train_cifar(full, verbose=verbose)
                return train(full, verbose=verbose)
            finally:
                lock.unlink(missing_ok=True)
        if not waiting:
            print(f"waiting for another process to finish training {key} ({lock})", flush=True)
            waiting = True
        time.sleep(LOCK_POLL_SECONDS)
    model = tf_keras.models.load_model(path, custom_objects=models.custom_objects())
    return model, json.loads(info_path.read_text())


def train(spec: dict, *, verbose: int = 2) -> tuple[tf_keras.Model, dict]:
    """Train the CleverHans CNN ``spec`` names on MNIST (or CIFAR-10) and save it in the
    cache, as `trained_model` does when it holds the lock (`trained_model` is what tutorials
    call).

    CIFAR-10's ``train_size`` images are a seeded draw (``None``: all of them): the JPEG
    stand-in's training split is ordered by class, so its first images are one class.
    """
    full = full_spec(spec)
    key = spec_key(full)
    path, info_path = cache_dir() / f"{key}.keras", cache_dir() / f"{key}.json"
    tf_keras.utils.set_random_seed(full["seed"])
    cifar = full.get("dataset") == "cifar10"
    if cifar:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="CIFAR-10 was not found")
            (x_train, y_train), _ = data.load_cifar10()
        if full["train_size"] is not None and full["train_size"] < len(x_train):
            keep = np.sort(np.random.default_rng(full["seed"]).permutation(len(x_train))[
                : full["train_size"]])
            x_train, y_train = x_train[keep], y_train[keep]
        model = models.cleverhans_cnn(full["variant"], k1=full["k1"],
                                      estimator=full["estimator"],
                                      input_shape=tuple(x_train.shape[1:]))
    else:
        (x_train, y_train), _ = data.load_mnist()
        x_train, y_train = x_train[: full["train_size"]], y_train[: full["train_size"]]
        model = models.cleverhans_cnn(full["variant"], k1=full["k1"],
                                      estimator=full["estimator"])
    fit_model = model
    if full["adversary"]:
        fit_model = training.AdversarialTrainer(
            model, _adversary(full["adversary"]), last_epochs=full["last_epochs"],
            adv_weight=full["adversary"].get("adv_weight"))
    training.compile_model(fit_model, full["learning_rate"])
    started = time.time()
    history = fit_model.fit(x_train, y_train, epochs=full["epochs"],
                            batch_size=full["batch_size"], verbose=verbose)
    info = {"spec": full, "key": key, "train_seconds": round(time.time() - started, 1),
            "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
            "collapsed_epochs": list(getattr(fit_model, "collapsed_epochs", []))}
    if cifar:
        info.update(data=data.cifar10_title(), train_images=len(x_train))
    export.save_model(model, path, overwrite=True)
    io.atomic_write_text(info_path, json.dumps(info, indent=2))
    return model, info


def train_verifiable(spec: dict, *, verbose: int = 2) -> tuple[tf_keras.Model, dict]:
    """Train the verifiable network ``spec`` names on MNIST (the usual way, or with the
    margin penalty) and save it in the cache; its info records the clean test accuracy,
    the share of zero weights and the training time."""
    from tfbnn.verify import friendly

    full = full_spec(spec)
    key = spec_key(full)
    path, info_path = cache_dir() / f"{key}.keras", cache_dir() / f"{key}.json"
    tf_keras.utils.set_random_seed(full["seed"])
    cifar = full.get("dataset") == "cifar10"
    if cifar:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="CIFAR-10 was not found")
            (x_train, y_train), (x_test, y_test) = data.load_cifar10()
    else:
        (x_train, y_train), (x_test, y_test) = data.load_mnist()
    x_train, y_train = x_train[: full["train_size"]], y_train[: full["train_size"]]
    kwargs = {"weights": full["weights"], "ternary_threshold": full["ternary_threshold"],
              "input_shape": tuple(x_train.shape[1:])}
    model = (models.conv_small(**kwargs) if full["architecture"] == "conv_small"
             else models.binary_mlp(tuple(full["hidden"]), **kwargs))
    fit_model = model if not full["margin"] else friendly.MarginTrainer(model, **full["margin"])
    training.compile_model(fit_model, full["learning_rate"])
    started = time.time()
    history = fit_model.fit(x_train, y_train, epochs=full["epochs"],
                            batch_size=full["batch_size"], verbose=verbose)
    logits = export.predict_in_batches(lambda t: model(t, training=False), x_test)
    info = {"spec": full, "key": key, "train_seconds": round(time.time() - started, 1),
            "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
            "test_accuracy": float(np.mean(logits.argmax(-1) == y_test)),
            "zero_weights": friendly.sparsity(model),
            "data": data.cifar10_title() if cifar else "MNIST"}
    export.save_model(model, path, overwrite=True)
    io.atomic_write_text(info_path, json.dumps(info, indent=2))
    return model, info


class _EpochCheckpoint(tf_keras.callbacks.Callback):
    """Save the weights, the optimizer and the epoch after every epoch of a CIFAR fit."""

    def __init__(self, checkpoint, manager, state_path: Path):
        super().__init__()
        self.checkpoint, self.manager, self.state_path = checkpoint, manager, state_path

    def on_epoch_end(self, epoch, logs=None):
        self.manager.save()
        history = json.loads(self.state_path.read_text())["history"] if (
            self.state_path.exists()) else {}
        for name, value in (logs or {}).items():
            history.setdefault(name, []).append(float(value))
        io.atomic_write_text(self.state_path, json.dumps({"epoch": epoch + 1,
                                                          "history": history}))


def _cifar_model(full: dict) -> tf_keras.Model:
    builder = models.cifar.BUILDERS[full["architecture"]]
    classes = CIFAR_DATASETS[full.get("dataset", "cifar10")]
    if full["architecture"].startswith("binarynet"):
        return builder(width=full["width"], num_classes=classes)
    return builder(full["precision"], full["method"], width=full["width"],
                   num_classes=classes)


def _calibration_images(x_train, full: dict):
    """``full["calibration"]`` training images, cropped and flipped as in training (seeded),
    for batch-norm statistics that describe the training distribution."""
    images = tf.constant(x_train[: full["calibration"]])
    if full["augment"]:
        images = data.crop_flip(images, tf.constant([full["seed"], 2], tf.int64))
    return images.numpy()


def train_cifar(spec: dict, *, verbose: int = 2) -> tuple[tf_keras.Model, dict]:
    """Train the CIFAR network ``spec`` names, finalize it, save it in the cache.

    Resumes from the checkpoint a killed run left (``KEY.ckpt/``) at the next epoch.
    """
    full = full_spec(spec)
    key = spec_key(full)
    path, info_path = cache_dir() / f"{key}.keras", cache_dir() / f"{key}.json"
    ckpt_dir, state_path = cache_dir() / f"{key}.ckpt", cache_dir() / f"{key}.ckpt.json"
    tf_keras.utils.set_random_seed(full["seed"])
    if full["dataset"] == "cifar100":  # no stand-in: the official data or nothing
        (x_train, y_train), (x_test, y_test) = data.load_cifar100(download=False)
        title = "CIFAR-100"
    else:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="CIFAR-10 was not found")
            (x_train, y_train), (x_test, y_test) = data.load_cifar10()
        title = data.cifar10_title()
    if full["train_size"] is not None:  # a seeded subset: the stand-in is ordered by class
        keep = np.sort(np.random.default_rng(full["seed"]).permutation(len(x_train))[
            : full["train_size"]])
        x_train, y_train = x_train[keep], y_train[keep]
    model = _cifar_model(full)
    steps = -(-len(x_train) // full["batch_size"])
    recipe = training.cifar_recipe(full["architecture"], full["method"],
                                   iterations=full["epochs"] * steps,
                                   batch_size=full["batch_size"],
                                   learning_rate=full["learning_rate"])
    fit_model = model
    if full["adversary"] == "pgd":
        fit_model = training.AdversarialTrainer(
            model, training.MadryPGD(**training.CIFAR_PGD), last_epochs=full["last_epochs"])
    optimizer = recipe.optimizer()
    training.compile_model(fit_model, optimizer=optimizer)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    manager = tf.train.CheckpointManager(checkpoint, str(ckpt_dir), max_to_keep=1)
    initial_epoch = 0
    if manager.latest_checkpoint and state_path.exists():
        checkpoint.restore(manager.latest_checkpoint)
        initial_epoch = json.loads(state_path.read_text())["epoch"]
        print(f"{key}: resuming after epoch {initial_epoch}", flush=True)
    started = time.time()
    if initial_epoch < full["epochs"]:
        dataset, steps = data.training_dataset(
            x_train, y_train, batch_size=full["batch_size"], epochs=full["epochs"],
            seed=full["seed"], augment=full["augment"], initial_epoch=initial_epoch)
        fit_model.fit(dataset, epochs=full["epochs"], steps_per_epoch=steps,
                      initial_epoch=initial_epoch, verbose=verbose,
                      callbacks=recipe.callbacks() + [_EpochCheckpoint(checkpoint, manager,
                                                                       state_path)])
    history = json.loads(state_path.read_text())["history"] if state_path.exists() else {}

    def test_accuracy():
        logits = export.predict_in_batches(lambda t: model(t, training=False), x_test)
        return float(np.mean(logits.argmax(-1) == y_test))

    info = {"spec": full, "key": key, "data": title, "train_images": len(x_train),
            "test_images": len(x_test),
            "iterations": int(optimizer.iterations.numpy()),
            "train_seconds": round(time.time() - started, 1), "history": history}
    if full["method"] in ("gd_tanh", "md_tanh_s"):
        info["test_accuracy_tanh"] = test_accuracy()
        info["finalize"] = training.finalize_binary(model, _calibration_images(x_train, full))
    info["test_accuracy"] = test_accuracy()
    export.save_model(model, path, overwrite=True)
    io.atomic_write_text(info_path, json.dumps(info, indent=2))
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    state_path.unlink(missing_ok=True)
    return model, info
