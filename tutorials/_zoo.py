"""Trained models shared between tutorials: train once, attack many times.

A model is identified by its full training spec (variant, k1, estimator, epochs, seed,
adversarial training...). `trained_model(spec)` loads it from the cache directory
when a model with the same spec was trained before, and otherwise trains it on MNIST
through `model.fit` and saves it atomically, so a tutorial killed mid-way resumes
with the models it had finished, and tutorials run side by side train each model once.

The cache lives in ``$TFBNN_CACHE`` or ``~/.cache/tfbnn/models``.

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
import time
from pathlib import Path
from typing import Callable

import tfbnn  # noqa: F401  (Keras 2 set-up first)
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


def spec_key(spec: dict) -> str:
    full = {**DEFAULT_SPEC, **spec}
    blob = json.dumps(full, sort_keys=True)
    return f"{full['variant']}{full['k1']}-" + hashlib.sha256(blob.encode()).hexdigest()[:12]


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


def model_spec(name: str, config: dict, pgd_full: bool = False) -> dict:
    """The cache spec of the CNN ``name`` at ``config``'s k1, epochs and train_size.

    ``name`` is a variant (``"B"``), optionally FGSM-trained (``"B+"``, Table 1's '+') or
    PGD-trained (``"B+*"``, Table 2's '+*', for the last ``config["pgd_last_epochs"]``
    epochs, default `PGD_LAST_EPOCHS`; with ``pgd_full`` the paper's PGD-40 for the last
    5). The tutorials share these models through the cache.
    """
    variant, suffix = name[0], name[1:] or "clean"
    if suffix == "+*" and pgd_full:
        suffix = "+* full"
    spec = {"variant": variant, "k1": config["k1"], "epochs": config["epochs"],
            "train_size": config["train_size"], "adversary": ADVERSARIES[suffix]}
    if suffix.startswith("+*"):
        spec["last_epochs"] = 5 if pgd_full else config.get("pgd_last_epochs", PGD_LAST_EPOCHS)
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
    full = {**DEFAULT_SPEC, **spec}
    key = spec_key(full)
    path = cache_dir() / f"{key}.keras"
    info_path = cache_dir() / f"{key}.json"
    lock = cache_dir() / f"{key}.lock"
    waiting = False
    while not (path.exists() and info_path.exists()):
        if _take_lock(lock):
            try:
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
    """Train the model ``spec`` names on MNIST and save it in the cache, as `trained_model`
    does when it holds the lock (`trained_model` is what tutorials call)."""
    full = {**DEFAULT_SPEC, **spec}
    key = spec_key(full)
    path, info_path = cache_dir() / f"{key}.keras", cache_dir() / f"{key}.json"
    tf_keras.utils.set_random_seed(full["seed"])
    (x_train, y_train), _ = data.load_mnist()
    x_train, y_train = x_train[: full["train_size"]], y_train[: full["train_size"]]
    model = models.cleverhans_cnn(full["variant"], k1=full["k1"], estimator=full["estimator"])
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
    export.save_model(model, path, overwrite=True)
    io.atomic_write_text(info_path, json.dumps(info, indent=2))
    return model, info
