"""One process of tests/test_distribute.py: training or evaluation under a strategy.

TensorFlow fixes its devices when its runtime starts, and the pytest process has long
started it, so every distributed check runs here, in a fresh process that splits the CPU
into logical devices first (or joins a cluster through ``TF_CONFIG``). The results go to
``--result`` as JSON for the test to judge; ``--kill-*`` ends the process abruptly
(``os._exit``, no clean-up, as a killed worker) at a chosen point.

    python tests/_distribute_worker.py JOB --result R.json [options]

Jobs:
    mirrored   single-device vs MirroredStrategy over 2 logical CPUs in this process:
               clean, FGSM and PGD training (losses, replica copies), beta annealing,
               and evaluation (per-example records), all compared here.
    train      fit under --strategy with BackupAndRestore in --backup (resumable).
    evaluate   evaluate under --strategy into --out (resumable); --compare also runs
               the single-device evaluation in memory and stores its records.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import tfbnn  # noqa: F401  (Keras 2 first)
from tfbnn import distribute

KILLED = 17
"""Exit status of a process ended by a --kill-* option."""


def _args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("job", choices=("mirrored", "train", "evaluate"))
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--logical-cpus", type=int, default=2)
    parser.add_argument("--strategy", default="mirrored")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--backup", type=Path, default=None)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--kill-at-epoch", type=int, default=None,
                        help="end the process after this epoch (1-based) is saved")
    parser.add_argument("--kill-after-batches", type=int, default=None,
                        help="end the process after saving this many evaluation batches")
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--variant", default="A", help="cleverhans_cnn variant to train")
    return parser.parse_args(argv)


def _data(n_train=512, n_test=96):
    import numpy as np

    from tfbnn import data

    (x, y), (xt, yt) = data.load_mnist()
    return (np.array(x[:n_train]), np.array(y[:n_train])), (np.array(xt[:n_test]),
                                                            np.array(yt[:n_test]))


def _replicas_equal(strategy, variable) -> bool:
    import numpy as np

    values = [np.asarray(v.numpy()) for v in strategy.experimental_local_results(variable)]
    return all(np.array_equal(values[0], v) for v in values[1:])


# --------------------------------------------------------------------------- mirrored


def _train_once(strategy, adversary: str, x, y):
    import numpy as np
    import tf_keras as keras

    from tfbnn import models, training

    def build():
        keras.utils.set_random_seed(0)
        model = models.cleverhans_cnn("A", k1=8)  # no batch norm: no per-replica statistics
        adversaries = {"clean": training.KurakinFGSM(0.3),
                       "fgsm": training.KurakinFGSM(0.3, seed=1),
                       "pgd": training.MadryPGD(0.1, 0.05, 3, seed=1)}
        trainer = training.AdversarialTrainer(model, adversaries[adversary],
                                              last_epochs=0 if adversary == "clean" else None)
        return training.compile_model(trainer)

    trainer, history = distribute.fit(strategy, build, x, y, epochs=2, batch_size=64,
                                      shuffle=False, verbose=0)
    out = {"loss": history.history["loss"], "accuracy": history.history["accuracy"],
           "adv_accuracy": history.history["adv_accuracy"],
           "counts_total": float(np.sum(trainer.predicted_counts.numpy())),
           "replicas": strategy.num_replicas_in_sync}
    if strategy.num_replicas_in_sync > 1:
        out["active_equal"] = _replicas_equal(strategy, trainer.adversarial_active)
        out["weights_equal"] = all(_replicas_equal(strategy, v)
                                   for v in trainer.model.trainable_weights)
    return out, [np.asarray(v.numpy()) for v in trainer.model.trainable_weights]


def _beta(strategy, x, y):
    import larq as lq
    import tf_keras as keras

    from tfbnn import training
    from tfbnn.quantizers import TanhSign

    def build():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.layers.Input((28, 28, 1)),
            lq.layers.QuantConv2D(4, 5, strides=2, kernel_quantizer=TanhSign("md")),
            keras.layers.Flatten(),
            lq.layers.QuantDense(10, kernel_quantizer=TanhSign("gd")),
        ])
        return training.compile_model(model)

    schedule = training.BetaAnnealing(1.0, 2.0, 2)
    model, _ = distribute.fit(strategy, build, x[:256], y[:256], epochs=1, batch_size=64,
                              shuffle=False, verbose=0, callbacks=[schedule])
    betas = [float(v.numpy()) for q in training.tanh_quantizers(model)
             for v in strategy.experimental_local_results(q.beta)]
    return {"betas": betas, "expected": schedule.beta_at(3),
            "iterations": int(model.optimizer.iterations.numpy())}


def _eval_model(path=None):
    """A small A model trained one epoch (loaded from ``path`` when it is there, saved
    there otherwise, so that every process evaluates the same weights)."""
    import tf_keras as keras

    from tfbnn import models, training

    if path is not None and Path(path).exists():
        return keras.models.load_model(path, custom_objects=models.custom_objects())
    (x, y), _ = _data(2048)
    keras.utils.set_random_seed(0)
    model = training.compile_model(models.cleverhans_cnn("A", k1=8))
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    if path is not None:
        from tfbnn.io import atomic_path

        with atomic_path(path) as tmp:
            model.save(tmp)
    return model


EVAL = {"eps": [0.03, 0.1], "attacks": ["fgsm", "pgd", "apgd_ce"], "nb_iter": 5,
        "run_diagnostics": False, "progress": False, "seed": 3}


def _per_example(report) -> list:
    return [r["robust_per_example"] for r in report["results"]]


def job_mirrored(args) -> dict:
    names = distribute.set_logical_cpus(args.logical_cpus)
    import numpy as np
    import tensorflow as tf

    from tfbnn import evaluation

    (x, y), (xt, yt) = _data()
    single = tf.distribute.get_strategy()
    mirrored = distribute.make_strategy("mirrored")
    result = {"devices": names, "train": {}, "timing": {}}
    for adversary in ("clean", "fgsm", "pgd"):
        started = time.perf_counter()
        one, one_weights = _train_once(single, adversary, x, y)
        many, many_weights = _train_once(mirrored, adversary, x, y)
        gap = max(float(np.max(np.abs(a - b))) for a, b in zip(one_weights, many_weights))
        result["train"][adversary] = {"single": one, "mirrored": many, "weight_gap": gap}
        result["timing"][adversary] = time.perf_counter() - started
    result["beta"] = _beta(mirrored, x, y)
    model = _eval_model(args.model)
    started = time.perf_counter()
    base = evaluation.evaluate(model, xt, yt, batch_size=args.batch_size, **EVAL)
    spread = evaluation.evaluate(model, xt, yt, batch_size=args.batch_size, strategy="mirrored",
                                 out_dir=args.out, **EVAL)
    result["timing"]["evaluate"] = time.perf_counter() - started
    result["evaluate"] = {"single": _per_example(base), "mirrored": _per_example(spread),
                          "same_results": _strip(base["results"]) == _strip(spread["results"]),
                          "robust": [r["robust_accuracy"] for r in base["results"]],
                          "clean": base["clean_accuracy"]}
    import threading

    both = threading.Barrier(2, timeout=60)  # each batch waits for one on the other device

    def where(b):
        both.wait()
        return {"device": tf.zeros([1]).device, "thread": threading.current_thread().name}

    result["placement"] = distribute.map_batches("mirrored", 4, where)
    if args.out is not None:
        result["evaluate"]["batch_files"] = len(list((args.out / "batches").glob("*.json")))
    return result


# --------------------------------------------------------------------------- train


class _Kill:
    """Ends the process (as a killed worker) after the given epoch, once the backup of
    that epoch is written (this callback runs after BackupAndRestore)."""

    def __new__(cls, epoch):
        import tf_keras as keras

        class Kill(keras.callbacks.Callback):
            def on_epoch_end(self, index, logs=None):
                if index + 1 == epoch:
                    sys.stdout.flush()
                    os._exit(KILLED)

        return Kill()


def job_train(args) -> dict:
    if args.strategy == "mirrored":
        distribute.set_logical_cpus(args.logical_cpus)
    import numpy as np
    import tf_keras as keras

    from tfbnn import models, training

    strategy = distribute.make_strategy(args.strategy)
    (x, y), (xt, yt) = _data()
    started = []

    def build():
        keras.utils.set_random_seed(0)
        trainer = training.AdversarialTrainer(models.cleverhans_cnn(args.variant, k1=8),
                                              training.KurakinFGSM(0.3, seed=1), last_epochs=1)
        return training.compile_model(trainer)

    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: started.append(e))
    callbacks = [record] + ([] if args.kill_at_epoch is None else [_Kill(args.kill_at_epoch)])
    trainer, history = distribute.fit(strategy, build, x, y, epochs=args.epochs, batch_size=64,
                                      shuffle=False, verbose=0, backup_dir=args.backup,
                                      callbacks=callbacks)
    info = distribute.workers(strategy)
    out = {"epochs_run": started, "loss": history.history["loss"],
           "iterations": int(trainer.optimizer.iterations.numpy()),
           "adversarial_active": bool(trainer.adversarial_active.numpy()),
           "worker": info.index, "workers": info.count,
           "replicas": strategy.num_replicas_in_sync,
           "test_accuracy": float(np.mean(np.argmax(trainer.model.predict(xt, verbose=0), -1)
                                          == yt))}
    if args.compare:  # the same training and evaluation on this process's one device
        from tfbnn import evaluation

        if info.chief:
            _, alone = distribute.fit("default", build, x, y, epochs=args.epochs,
                                      batch_size=64, shuffle=False, verbose=0)
            out["single_loss"] = alone.history["loss"]

        # the trained model as the strategy holds it (batch norm statistics synchronised
        # on read), for the distributed evaluation; a copy on this worker for the chief's
        # own, made by every worker at the same point (its reads are all-reduces)
        spread = evaluation.evaluate(trainer.model, xt, yt, batch_size=args.batch_size,
                                     strategy=strategy, out_dir=args.out, **EVAL)
        local = distribute.local_model(trainer.model, strategy)
        out["evaluate"] = {"distributed": _per_example(spread),
                           "same_results": None}
        if info.chief:
            base = evaluation.evaluate(local, xt, yt, batch_size=args.batch_size, **EVAL)
            out["evaluate"]["single"] = _per_example(base)
            out["evaluate"]["same_results"] = _strip(base["results"]) == _strip(spread["results"])
    return out


# --------------------------------------------------------------------------- evaluate


def job_evaluate(args) -> dict:
    if args.strategy == "mirrored":
        distribute.set_logical_cpus(args.logical_cpus)
    from tfbnn import evaluation
    from tfbnn.evaluation.state import RunDirectory

    import threading

    computed, lock = [], threading.Lock()
    save = RunDirectory.save_batch

    def saving(self, key, index, record):
        with lock:  # replicas save from their threads: the kill comes after exactly N
            save(self, key, index, record)
            computed.append(f"{key}_{index:05d}")
            if args.kill_after_batches is not None and len(computed) >= args.kill_after_batches:
                sys.stdout.flush()
                os._exit(KILLED)

    RunDirectory.save_batch = saving
    _, (xt, yt) = _data(n_test=args.n)
    model = _eval_model(args.model)
    report = evaluation.evaluate(model, xt, yt, batch_size=args.batch_size,
                                 strategy=args.strategy, out_dir=args.out, **EVAL)
    out = {"computed": sorted(computed), "per_example": _per_example(report),
           "results": report["results"], "workers": distribute.workers(args.strategy).count}
    if args.compare:
        base = evaluation.evaluate(model, xt, yt, batch_size=args.batch_size, **EVAL)
        out["single"] = _per_example(base)
        out["same_results"] = _strip(base["results"]) == _strip(report["results"])
    return out


def _strip(results):
    """The results less the attack seconds (wall time differs from run to run)."""
    return [{**r, "attacks": [{k: v for k, v in a.items() if k != "seconds"}
                              for a in r["attacks"]]} for r in results]


def main(argv=None) -> None:
    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1, all_threads=True)  # the test's look at a hang
    args = _args(argv)
    job = {"mirrored": job_mirrored, "train": job_train, "evaluate": job_evaluate}[args.job]
    result = job(args)
    from tfbnn.io import atomic_write_text

    atomic_write_text(args.result, json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
