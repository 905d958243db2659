"""Training and evaluation on several devices or machines, through ``tf.distribute``.

Training is Keras's own: build and compile a model (an `AdversarialTrainer` included)
inside ``strategy.scope()`` and call ``fit``; Keras splits each global batch across the
replicas, each replica crafts the adversarial examples of its own share inside
``train_step``, the compiled loss is scaled by the global batch and the gradients are
summed across replicas. `fit` does that, with ``tf_keras.callbacks.BackupAndRestore`` so
that a killed job started again resumes from its last finished epoch.

Evaluation (`tfbnn.evaluation.evaluate` with ``strategy=``) hands whole batches to
replicas: ``batch_size`` is the per-replica batch, a step of R replicas attacks R
batches at once (a global batch of R x ``batch_size`` examples), and each batch is
attacked exactly as a single-device run attacks it (same examples, same seed), so the
per-example results, the report and the resume contract are those of a single-device
run (`map_batches`). Splitting one batch across replicas would change the random starts
(they are drawn per batch) and lose that identity.

Why threads and not ``strategy.run``: the attacks are Python loops around compiled
graphs (cascades, restarts, target sweeps), not one graph, and ``strategy.run`` called
eagerly runs the replicas one after another (TensorFlow's ``mirrored_run`` pauses each
replica thread in turn). Each replica here is a thread of its own with its device in
``tf.device``, so the devices work at the same time.

Several machines: every worker attacks the batches that fall to its replicas and writes
them into the shared output directory; the chief waits for every batch file, runs the
diagnostics and writes the report; the other workers wait for the report. The workers
share nothing but that directory, so one killed worker started again alone finishes its
batches while the others wait. With ``strategy="multiworker"`` the workers are read
from ``TF_CONFIG`` by ``tf.distribute``'s ``TFConfigClusterResolver``, without starting
``MultiWorkerMirroredStrategy``'s collective runtime, which makes every worker wait for
all the others at start and lets no single worker rejoin. See docs/distributed.md.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import tensorflow as tf
import tf_keras as keras

from tfbnn import checks

__all__ = ["STRATEGIES", "Workers", "fit", "local_model", "make_strategy", "map_batches",
           "open_run",
           "resolve", "set_logical_cpus", "wait_for_report", "workers"]

STRATEGIES = ("default", "mirrored", "multiworker")
"""Strategy names `make_strategy`, ``evaluate(strategy=...)`` and ``tfbnn evaluate
--strategy`` take: ``default`` (one device, no distribution), ``mirrored`` (every GPU of
this machine, else every logical CPU) and ``multiworker`` (the workers of ``TF_CONFIG``)."""

POLL_SECONDS = 0.5
"""How often a worker looks for the files the other workers write."""


# --------------------------------------------------------------------------- devices


def set_logical_cpus(count: int) -> list[str]:
    """Split the CPU into ``count`` logical devices and return their names.

    TensorFlow fixes its devices when its runtime starts (the first op, or the first
    device listing), so call this first thing in the program; it is how MirroredStrategy
    is tried on a machine without GPUs. Calling it again with the same count is a no-op.

    # Raises
        RuntimeError: the runtime already started with another number of CPU devices.
    """
    count = checks.check_int("count", count, 1)
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError as err:
        have = tf.config.list_logical_devices("CPU")
        if len(have) != count:
            raise RuntimeError(
                f"set_logical_cpus({count}): TensorFlow already started with {len(have)} CPU "
                "device(s); call it before any other TensorFlow work (at the top of the "
                "program, or in a fresh process).") from err
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def _local_devices() -> list[str]:
    """Every GPU of this machine, else every logical CPU."""
    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]


def _tf_config() -> dict:
    """``TF_CONFIG`` parsed, or ``ValueError`` saying what is missing."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ValueError(
            "strategy 'multiworker' needs the TF_CONFIG environment variable, e.g. "
            "TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", \"host2:12345\"]}, "
            "\"task\": {\"type\": \"worker\", \"index\": 0}}' (one per worker, the same "
            "cluster and its own index); see docs/distributed.md.")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not JSON ({err}): {text!r}.") from None
    cluster, task = config.get("cluster", {}), config.get("task", {})
    if not (cluster.get("worker") or cluster.get("chief")) or "type" not in task:
        raise ValueError(f"TF_CONFIG must hold a cluster with 'worker' (and optionally "
                         f"'chief') addresses and this process's task, got {text!r}.")
    if task["type"] not in ("worker", "chief"):
        raise ValueError(f"TF_CONFIG task type {task['type']!r}: tfbnn runs 'worker' and "
                         "'chief' tasks (no parameter servers, no evaluator).")
    return config


def make_strategy(name: str = "mirrored", *, devices: Sequence[str] | None = None
                  ) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy called ``name`` (one of `STRATEGIES`).

    ``mirrored`` uses ``devices``, else every GPU, else every logical CPU (see
    `set_logical_cpus`); ``multiworker`` is ``MultiWorkerMirroredStrategy`` over the
    cluster of ``TF_CONFIG`` (each worker with its local devices), and waits at creation
    until every worker has started (create it first thing in the program, before other
    TensorFlow work, as TensorFlow asks); ``default`` is TensorFlow's default strategy
    (one device).
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}.")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = list(devices) if devices is not None else _local_devices()
        return tf.distribute.MirroredStrategy(devices=devices)
    if devices is not None:
        raise ValueError("devices applies to strategy 'mirrored'; a 'multiworker' worker "
                         "uses all its GPUs (or its CPU).")
    _tf_config()
    return tf.distribute.MultiWorkerMirroredStrategy()


class Workers(NamedTuple):
    """Where this process stands in a distributed run.

    ``index``: this worker, from 0 (the chief first); ``count``: the workers;
    ``chief``: whether this one writes shared results; ``devices``: its local replicas'
    devices (``None``: no placement, the default device).
    """

    index: int
    count: int
    chief: bool
    devices: tuple


def _cluster_position(task_type: str, task_id: int, cluster: dict) -> tuple[int, int, bool]:
    has_chief = bool(cluster.get("chief"))
    count = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    if task_type == "chief":
        return 0, count, True
    return task_id + int(has_chief), count, (task_id == 0 and not has_chief)


def resolve(strategy) -> tf.distribute.Strategy | str | None:
    """``strategy`` checked: ``None``, a name of `STRATEGIES` or a Strategy instance."""
    if strategy is None or isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be None, one of {STRATEGIES} or a "
                         f"tf.distribute.Strategy, got {strategy!r}.")
    if strategy == "multiworker":
        _tf_config()
    return strategy


def workers(strategy) -> Workers:
    """This process's `Workers` under ``strategy`` (a name of `STRATEGIES` or an instance).

    The name ``multiworker`` reads ``TF_CONFIG`` through ``tf.distribute``'s
    ``TFConfigClusterResolver`` and starts no collective runtime (evaluation needs none);
    a ``MultiWorkerMirroredStrategy`` instance gives its own cluster resolver.
    """
    strategy = resolve(strategy)
    if strategy is None or strategy == "default":
        return Workers(0, 1, True, (None,))
    if strategy == "mirrored":
        return Workers(0, 1, True, tuple(_local_devices()))
    if strategy == "multiworker":
        _tf_config()
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        index, count, chief = _cluster_position(
            resolver.task_type, int(resolver.task_id), resolver.cluster_spec().as_dict())
        return Workers(index, count, chief, tuple(_local_devices()))
    try:
        devices = tuple(strategy.extended.worker_devices) or (None,)
    except (AttributeError, NotImplementedError, RuntimeError):  # the default strategy
        devices = (None,)
    resolver = getattr(strategy, "cluster_resolver", None)
    cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not cluster or resolver.task_type is None:
        return Workers(0, 1, True, devices)
    index, count, chief = _cluster_position(resolver.task_type, int(resolver.task_id), cluster)
    return Workers(index, count, chief, devices)


# --------------------------------------------------------------------------- training


def fit(strategy, build: Callable[[], keras.Model], *args, backup_dir=None,
        callbacks: Sequence[keras.callbacks.Callback] = (), **fit_kwargs):
    """Build, compile and train a model under ``strategy``; returns ``(model, history)``.

    ``build()`` runs inside ``strategy.scope()`` and returns the compiled model to fit
    (e.g. an `AdversarialTrainer`): Larq layers, optimizers and tfbnn's schedule
    variables must be created there to be mirrored. ``batch_size`` in ``fit_kwargs`` is
    the global batch (Keras splits it across replicas). With ``backup_dir``,
    ``BackupAndRestore`` saves the training state after every epoch, and a run killed
    and started again with the same arguments resumes after the last saved epoch
    (every worker of a cluster must be restarted; they resume together). On a cluster
    ``backup_dir`` must be a directory every worker can read.

    # Arguments
        strategy: a ``tf.distribute.Strategy`` or a name of `STRATEGIES`.
        build: a function of no arguments returning a compiled Keras model.
        *args, **fit_kwargs: passed to ``model.fit``.
        backup_dir: where ``BackupAndRestore`` keeps the training state, or None.
        callbacks: more callbacks, run after the backup (so that a callback that ends
            the process sees the epoch saved).
    """
    if isinstance(strategy, str):
        strategy = make_strategy(strategy)
    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(f"strategy must be a tf.distribute.Strategy or one of {STRATEGIES}, "
                        f"got {strategy!r}.")
    checks.check_callable(build, "build")
    with strategy.scope():
        model = build()
        if not isinstance(model, keras.Model) or model.optimizer is None:
            raise ValueError(f"build() must return a compiled Keras model, got {model!r}; "
                             "call tfbnn.training.compile_model(model) inside it.")
    backup = [] if backup_dir is None else [keras.callbacks.BackupAndRestore(str(backup_dir))]
    history = model.fit(*args, callbacks=backup + list(callbacks), **fit_kwargs)
    return model, history


# --------------------------------------------------------------------------- evaluation


def local_model(model, strategy):
    """``model``, or a copy of it on this worker alone when it was built under a
    multi-worker strategy and holds variables synchronised on read.

    Reading such a variable (batch norm's moving statistics) outside a replica is an
    all-reduce across the workers, so each worker would wait for the others at every
    forward pass, and workers that attack different batches wait forever. The copy
    (``clone_model`` outside the scope, with the weights as the strategy reads them) is
    made by every worker at the same point, so those reads still pair up. Models
    without such variables, callables, and single-worker strategies are returned as
    they are (MirroredStrategy reduces its replicas' copies locally).
    """
    if not isinstance(model, keras.Model) or workers(strategy).count == 1:
        return model
    if not any(isinstance(v, tf.distribute.DistributedValues)
               and v.synchronization == tf.VariableSynchronization.ON_READ
               for v in model.variables):
        return model
    if tf.distribute.has_strategy():
        raise ValueError("Evaluate outside strategy.scope(): a model built under a "
                         "multi-worker strategy is copied to each worker first, and the copy "
                         "must not be distributed again.")
    from tfbnn import models

    try:
        with keras.utils.custom_object_scope(models.custom_objects()):
            copy = keras.models.clone_model(model)
    except Exception as err:  # clone_model raises many types for subclassed models
        raise ValueError(f"A model built under a multi-worker strategy is evaluated on a copy "
                         f"per worker, and {model.name!r} cannot be cloned "
                         f"({type(err).__name__}: {err}); evaluate the inner functional model "
                         "(e.g. trainer.model), or save it and load it outside the "
                         "strategy.") from err
    copy.set_weights(model.get_weights())
    return copy


def open_run(strategy, out_dir, config: dict, *, overwrite: bool = False):
    """The `RunDirectory` of a distributed evaluation: the chief creates it (and clears it
    with ``overwrite``), the other workers open it once the chief has written the run's
    config.

    # Raises
        ValueError: several workers and no ``out_dir`` (the batches are merged through
            it) or ``overwrite`` (a worker could read results the chief is deleting).
        FileExistsError: ``out_dir`` holds another run (as in a single-device run).
    """
    from tfbnn.evaluation.state import RunDirectory

    info = workers(strategy)
    if info.count == 1:
        return None if out_dir is None else RunDirectory(out_dir, config, overwrite=overwrite)
    if out_dir is None:
        raise ValueError(f"out_dir=None with {info.count} workers: the workers merge their "
                         "batches through the output directory; pass out_dir (--out) on a "
                         "file system every worker can read and write.")
    if overwrite:
        raise ValueError("overwrite=True (--overwrite) with several workers: a worker could "
                         "read results the chief is deleting; delete the directory before "
                         "starting the workers, or choose a new one.")
    if info.chief:
        return RunDirectory(out_dir, config, overwrite=False)
    config_file = Path(out_dir) / "config.json"
    _wait(config_file.is_file, f"the chief's {config_file}")
    # another worker's arguments, model or data: FileExistsError naming what differs
    return RunDirectory(out_dir, config, overwrite=False)


def _wait(ready: Callable[[], bool], what: str) -> None:
    """Poll until ``ready()``, saying once a minute what this worker waits for."""
    started = last = time.monotonic()
    while not ready():
        time.sleep(POLL_SECONDS)
        if time.monotonic() - last > 60:
            last = time.monotonic()
            print(f"tfbnn: waiting {last - started:.0f} s for {what}", flush=True)


def map_batches(strategy, count: int, compute: Callable[[int], dict], *,
                load: Callable[[int], dict | None] | None = None,
                save: Callable[[int, dict], None] | None = None,
                progress: Callable[[], None] | None = None) -> list[dict]:
    """``[compute(0), ..., compute(count - 1)]``, the batches spread over the replicas.

    Batch ``b`` falls to global replica ``b % R`` (R: the replicas of all workers);
    this worker runs its replicas' batches, one thread per local device under
    ``tf.device``, and ``save(b, record)`` s each as soon as it is done. Batches that
    ``load(b)`` already finds are not run again (a resumed run). With several workers
    the others' batches are read with ``load`` once they are all there, so every worker
    returns every record. ``compute`` must give the same record whichever replica runs
    it (tfbnn's batches depend on their index and seed only).
    """
    info = workers(strategy)
    if info.count > 1 and (load is None or save is None):
        raise ValueError("map_batches with several workers needs load and save (a shared "
                         "directory) to merge the workers' batches.")
    local = len(info.devices)
    total = local * info.count
    records: list = [None] * count
    mine = []
    for b in range(count):
        record = load(b) if load is not None else None
        if record is not None:
            records[b] = record
            if progress is not None:
                progress()
        elif (b % total) // local == info.index:
            mine.append(b)
    _run_on_devices(info.devices, mine, compute, save, records, progress)
    if info.count > 1:
        missing = [b for b in range(count) if records[b] is None]

        def arrived() -> bool:  # reads each batch once, in order, as it appears
            while missing:
                record = load(missing[0])
                if record is None:
                    return False
                records[missing.pop(0)] = record
                if progress is not None:
                    progress()
            return True

        _wait(arrived, "the other workers' batches")
    return records


def _run_on_devices(devices, todo, compute, save, records, progress) -> None:
    """Run ``compute`` on the batches ``todo``, one thread per device pulling from one
    queue; the first error stops the others and is raised."""
    if not todo:
        return
    if len(devices) == 1:
        for b in todo:
            records[b] = _on_device(devices[0], compute, b)
            if save is not None:
                save(b, records[b])
            if progress is not None:
                progress()
        return
    pending: queue.SimpleQueue = queue.SimpleQueue()
    for b in todo:
        pending.put(b)
    done: queue.SimpleQueue = queue.SimpleQueue()
    failed = threading.Event()

    def worker(device):
        while not failed.is_set():
            try:
                b = pending.get_nowait()
            except queue.Empty:
                return
            try:
                record = _on_device(device, compute, b)
                if save is not None:
                    save(b, record)
            except BaseException as err:  # handed to the main thread, raised there
                failed.set()
                done.put((b, err))
                return
            done.put((b, record))

    threads = [threading.Thread(target=worker, args=(d,), daemon=True,
                                name=f"tfbnn-replica-{i}") for i, d in enumerate(devices)]
    for thread in threads:
        thread.start()
    error, received = None, 0
    while received < len(todo):
        try:
            b, result = done.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if any(t.is_alive() for t in threads) or not done.empty():
                continue
            break  # every thread stopped after an error
        received += 1
        if isinstance(result, BaseException):
            error = error or result
            continue
        records[b] = result
        if progress is not None:
            progress()
    for thread in threads:
        thread.join()
    if error is not None:
        raise error


def _on_device(device, compute, b):
    if device is None:
        return compute(b)
    with tf.device(device):
        return compute(b)


def wait_for_report(run) -> dict:
    """The chief's report of ``run``, once written (the other workers return it)."""
    path = run.path / "report.json"
    _wait(path.is_file, f"the chief's {path}")
    return json.loads(path.read_text())
