"""Training and evaluation under tf.distribute (tfbnn.distribute), on this machine.

The checks that need several devices run in fresh processes (tests/_distribute_worker.py):
TensorFlow fixes its devices when its runtime starts, which this pytest process did long
ago. MirroredStrategy runs over 2 logical CPUs; MultiWorkerMirroredStrategy over two
local worker processes talking over 127.0.0.1 (TF_CONFIG), in the slow tests. Every
process has a deadline; a process past it has its Python stacks dumped (SIGUSR1) into
its log and is killed, and the test fails showing the log.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tfbnn  # noqa: F401
import tensorflow as tf

from tfbnn import distribute, evaluation

WORKER = Path(__file__).resolve().parent / "_distribute_worker.py"
ROOT = WORKER.parent.parent
KILLED = 17  # the worker script's exit status for --kill-*
DEADLINE = 240  # seconds for one process on 2 loaded cores


def _worker_module():
    spec = importlib.util.spec_from_file_location("_distribute_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def eval_model(tmp_path_factory):
    """The small A model every evaluation process loads (trained here, once)."""
    path = tmp_path_factory.mktemp("distribute") / "a8.keras"
    _worker_module()._eval_model(path)
    return path


class _Process:
    """One worker process with its log file."""

    def __init__(self, args, log: Path, env: dict | None = None):
        self.log = log
        full_env = dict(os.environ)
        full_env.pop("TF_CONFIG", None)  # a cluster only where the test gives one
        full_env.update(env or {})
        self._file = open(log, "w")
        self.proc = subprocess.Popen([sys.executable, str(WORKER), *map(str, args)], cwd=ROOT,
                                     env=full_env, stdout=self._file, stderr=subprocess.STDOUT)

    def wait(self, deadline: float) -> int:
        try:
            return self.proc.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            self.kill(dump=True)
            pytest.fail(f"worker past its deadline, killed; log:\n{self.tail()}")

    def kill(self, dump: bool = False) -> None:
        if self.proc.poll() is None:
            if dump:
                self.proc.send_signal(signal.SIGUSR1)
                time.sleep(2)
            self.proc.kill()
            self.proc.wait()
        self._file.close()

    def tail(self, lines: int = 60) -> str:
        self._file.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _run(args, tmp_path, name, env=None, expect=0, deadline=DEADLINE) -> dict | None:
    """Run one worker to its end; its results, or None when it was killed as asked."""
    result = tmp_path / f"{name}.json"
    process = _Process([*args, "--result", result], tmp_path / f"{name}.log", env)
    try:
        code = process.wait(time.monotonic() + deadline)
    finally:
        process.kill()
    assert code == expect, f"{name}: exit {code}, expected {expect}; log:\n{process.tail()}"
    return json.loads(result.read_text()) if expect == 0 else None


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _tf_config(ports, index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


# --------------------------------------------------------------------------- in process


def test_bad_strategy_names_and_cluster_configs_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="strategy must be one of"):
        distribute.make_strategy("tpu")
    with pytest.raises(ValueError, match="strategy must be None, one of"):
        distribute.resolve("mirored")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG environment variable"):
        distribute.resolve("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not JSON"):
        distribute.workers("multiworker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"ps": ["a:1"]},
                                                "task": {"type": "ps", "index": 0}}))
    with pytest.raises(ValueError, match="'worker'"):
        distribute.workers("multiworker")
    with pytest.raises(RuntimeError, match="before any other TensorFlow work"):
        distribute.set_logical_cpus(len(tf.config.list_logical_devices("CPU")) + 1)
    with pytest.raises(TypeError, match="strategy must be a tf.distribute.Strategy"):
        distribute.fit(object(), lambda: None)


def test_worker_positions_follow_tf_config(monkeypatch):
    ports = [1111, 2222, 3333]
    monkeypatch.setenv("TF_CONFIG", _tf_config(ports, 2))
    assert distribute.workers("multiworker")[:3] == (2, 3, False)
    monkeypatch.setenv("TF_CONFIG", _tf_config(ports, 0))
    assert distribute.workers("multiworker")[:3] == (0, 3, True)
    monkeypatch.setenv("TF_CONFIG", json.dumps({
        "cluster": {"chief": ["h:1"], "worker": ["h:2", "h:3"]},
        "task": {"type": "worker", "index": 0}}))
    assert distribute.workers("multiworker")[:3] == (1, 3, False)
    assert distribute.workers(None) == (0, 1, True, (None,))
    assert distribute.workers(tf.distribute.get_strategy())[:3] == (0, 1, True)


def test_map_batches_runs_this_workers_batches_and_merges_the_others(monkeypatch):
    """Worker 1 of 2 (one device each) runs the odd batches, saves each, skips one it
    finds saved, and returns every batch, the even ones read from the shared store."""
    monkeypatch.setenv("TF_CONFIG", _tf_config([1, 2], 1))
    monkeypatch.setattr(distribute, "POLL_SECONDS", 0.01)
    store = {0: {"b": 0, "by": "peer"}, 2: {"b": 2, "by": "peer"}, 3: {"b": 3, "by": "before"}}
    ran, polls = [], []

    def load(b):
        polls.append(b)
        if len(polls) > 12:  # the peer's last batch appears while this worker waits
            store.setdefault(4, {"b": 4, "by": "peer"})
        return store.get(b)

    def compute(b):
        ran.append(b)
        return {"b": b, "by": "me"}

    records = distribute.map_batches("multiworker", 6, compute, load=load,
                                     save=store.__setitem__)
    assert ran == [1, 5]  # batch 3 was already saved: not run again
    assert [r["b"] for r in records] == list(range(6))
    assert [r["by"] for r in records] == ["peer", "me", "peer", "before", "peer", "me"]
    with pytest.raises(ValueError, match="needs load and save"):
        distribute.map_batches("multiworker", 6, compute)


def test_a_worker_with_other_arguments_than_the_chief_is_refused(tmp_path, monkeypatch):
    from tfbnn.evaluation.state import RunDirectory

    RunDirectory(tmp_path / "run", {"seed": 0, "n": 10})  # what the chief wrote
    monkeypatch.setenv("TF_CONFIG", _tf_config([1, 2], 1))
    with pytest.raises(FileExistsError, match=r"different \['seed'\]"):
        distribute.open_run("multiworker", tmp_path / "run", {"seed": 1, "n": 10})
    run = distribute.open_run("multiworker", tmp_path / "run", {"seed": 0, "n": 10})
    assert run.load_batch("eps0", 0) is None


def test_map_batches_raises_a_replicas_error(monkeypatch):
    def compute(b):
        if b == 2:
            raise ArithmeticError("batch 2 failed")
        return {"b": b}

    monkeypatch.setattr(distribute, "_local_devices", lambda: ["/cpu:0", "/cpu:0"])
    with pytest.raises(ArithmeticError, match="batch 2 failed"):
        distribute.map_batches("mirrored", 5, compute)


def test_evaluate_under_the_default_strategy_is_the_single_device_run(trained_a, correct_a,
                                                                       tmp_path, monkeypatch):
    x, y = correct_a[0][:24], correct_a[1][:24]
    kwargs = {"eps": 0.1, "attacks": ["fgsm", "pgd"], "nb_iter": 3, "batch_size": 8,
              "run_diagnostics": False, "progress": False, "seed": 5}
    alone = evaluation.evaluate(trained_a, x, y, **kwargs)
    spread = evaluation.evaluate(trained_a, x, y, strategy="default",
                                 out_dir=tmp_path / "run", **kwargs)
    strategy = evaluation.evaluate(trained_a, x, y, strategy=tf.distribute.get_strategy(),
                                   **kwargs)
    for report in (spread, strategy):
        assert report["results"][0]["robust_per_example"] == \
            alone["results"][0]["robust_per_example"]
    assert len(list((tmp_path / "run" / "batches").glob("*.json"))) == 3
    with pytest.raises(ValueError, match="strategy must be None"):
        evaluation.evaluate(trained_a, x, y, strategy="gpus", **kwargs)
    monkeypatch.setenv("TF_CONFIG", _tf_config([1, 2], 0))
    with pytest.raises(ValueError, match="out_dir=None with 2 workers"):
        evaluation.evaluate(trained_a, x, y, strategy="multiworker", **kwargs)
    with pytest.raises(ValueError, match="overwrite=True"):
        evaluation.evaluate(trained_a, x, y, strategy="multiworker", out_dir=tmp_path / "m",
                            overwrite=True, **kwargs)


def test_cli_evaluate_takes_a_strategy(capsys):
    from tfbnn import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", "m", "--out", "o", "--strategy", "tpu"])
    assert exit_info.value.code == cli.EXIT_USAGE
    assert "--strategy" in capsys.readouterr().err


# --------------------------------------------------------------------------- MirroredStrategy


def test_mirrored_training_and_evaluation_match_a_single_device(tmp_path, eval_model):
    """Over 2 logical CPUs against one device, in one fresh process: clean training gives
    the same losses and weights; FGSM and PGD training reduce the loss as much; the
    replica copies of the trained weights and of the schedule variables agree; beta
    annealing sets every replica's beta; evaluation gives the same per-example results
    and report, with batches run on both devices."""
    r = _run(["mirrored", "--out", tmp_path / "eval", "--model", eval_model], tmp_path,
             "mirrored")
    assert len(r["devices"]) == 2
    for adversary, runs in r["train"].items():
        one, many = runs["single"], runs["mirrored"]
        assert many["replicas"] == 2 and many["active_equal"] and many["weights_equal"]
        assert many["counts_total"] == one["counts_total"] > 0, adversary  # summed replicas
        assert one["loss"][-1] < one["loss"][0] and many["loss"][-1] < many["loss"][0], runs
        if adversary == "clean":  # the same global batches: the same training
            np.testing.assert_allclose(many["loss"], one["loss"], rtol=1e-4)
            assert runs["weight_gap"] < 1e-5
        else:  # the adversaries draw per replica: other draws, the same progress
            np.testing.assert_allclose(many["loss"], one["loss"], rtol=0.02)
    assert set(r["beta"]["betas"]) == {r["beta"]["expected"]} and len(r["beta"]["betas"]) == 4
    e = r["evaluate"]
    assert e["same_results"] and e["mirrored"] == e["single"]
    assert 0 < e["robust"][0] < e["clean"] and e["robust"][-1] < e["robust"][0]
    assert e["batch_files"] == 12  # 96 examples, batches of 16, 2 eps
    assert {p["device"].rsplit(":", 1)[-1] for p in r["placement"]} == {"0", "1"}
    assert len({p["thread"] for p in r["placement"]}) == 2


def test_mirrored_training_killed_after_an_epoch_resumes_there(tmp_path):
    backup = tmp_path / "backup"
    _run(["train", "--backup", backup, "--epochs", "3", "--kill-at-epoch", "2"], tmp_path,
         "first", expect=KILLED)
    assert list(backup.rglob("*.index")), "no backup written before the kill"
    r = _run(["train", "--backup", backup, "--epochs", "3"], tmp_path, "resumed")
    assert r["replicas"] == 2
    assert r["epochs_run"] == [2]  # epochs 0 and 1 were not trained again
    assert r["iterations"] == 3 * 8  # 512 images, global batch 64, 3 epochs in all
    assert r["adversarial_active"]  # the schedule's last epoch is adversarial
    assert not list(backup.rglob("*.index"))  # a finished fit removes its backup


def test_mirrored_evaluation_killed_mid_run_resumes_without_losing_batches(tmp_path,
                                                                            eval_model):
    out = tmp_path / "eval"
    common = ["evaluate", "--model", eval_model, "--out", out]
    _run([*common, "--kill-after-batches", "3"], tmp_path, "first", expect=KILLED)
    saved = {p.name: p.stat().st_mtime_ns for p in (out / "batches").glob("*.json")}
    assert len(saved) == 3
    r = _run([*common, "--compare"], tmp_path, "resumed")
    finished = {p.name: p.stat().st_mtime_ns for p in (out / "batches").glob("*.json")}
    assert all(finished[name] == stamp for name, stamp in saved.items())  # not rewritten
    assert not {f"{name[:-5]}" for name in saved} & set(r["computed"])
    assert len(r["computed"]) == 12 - 3
    assert r["same_results"] and r["per_example"] == r["single"]


# --------------------------------------------------------------------------- MultiWorker


def _cluster(args_of, tmp_path, name, deadline=DEADLINE * 2):
    """Two workers on 127.0.0.1, ``args_of(index)`` each; their results."""
    ports = _free_ports(2)
    results = [tmp_path / f"{name}{i}.json" for i in range(2)]
    processes = [_Process([*args_of(i), "--result", results[i]], tmp_path / f"{name}{i}.log",
                          {"TF_CONFIG": _tf_config(ports, i)}) for i in range(2)]
    end = time.monotonic() + deadline
    try:
        codes = [p.wait(end) for p in processes]
    finally:
        for p in processes:
            p.kill()
    return processes, codes, results, ports


@pytest.mark.slow
def test_multiworker_training_and_evaluation_match_a_single_device(tmp_path):
    """Two workers train the B model (batch norm: statistics synchronised on read) with
    FGSM in the last epoch; the loss falls as on one device, both workers end with the
    same model; evaluation with the training's own strategy gives the chief the per-
    example results of its own single-device evaluation."""
    processes, codes, results, _ = _cluster(lambda i: [
        "train", "--strategy", "multiworker", "--variant", "B", "--backup", tmp_path / "bk",
        "--out", tmp_path / "eval", "--compare"], tmp_path, "worker")
    assert codes == [0, 0], "\n".join(p.tail() for p in processes)
    chief, other = (json.loads(r.read_text()) for r in results)
    assert (chief["workers"], chief["replicas"], other["worker"]) == (2, 2, 1)
    assert chief["loss"] == other["loss"] and chief["test_accuracy"] == other["test_accuracy"]
    assert chief["loss"][1] < chief["loss"][0]
    np.testing.assert_allclose(chief["loss"], chief["single_loss"], rtol=0.1)
    e = chief["evaluate"]
    assert e["same_results"] and e["distributed"] == e["single"]
    assert other["evaluate"]["distributed"] == e["single"]  # the chief's report, read back


@pytest.mark.slow
def test_multiworker_training_killed_worker_resumes_from_the_backup(tmp_path):
    """Worker 1 dies after epoch 2 of 3; worker 0 cannot go on without it and is stopped
    (MultiWorkerMirroredStrategy restarts the whole cluster); both started again resume
    at epoch 3 from BackupAndRestore's checkpoint."""
    backup = tmp_path / "bk"
    ports = _free_ports(2)
    args = ["train", "--strategy", "multiworker", "--epochs", "3", "--backup", backup]
    first = [_Process([*args, "--result", tmp_path / f"a{i}.json"]
                      + (["--kill-at-epoch", "2"] if i == 1 else []), tmp_path / f"a{i}.log",
                      {"TF_CONFIG": _tf_config(ports, i)}) for i in range(2)]
    try:
        assert first[1].wait(time.monotonic() + DEADLINE * 2) == KILLED, first[1].tail()
        time.sleep(5)
        survivor = first[0].proc.poll()
    finally:
        for p in first:
            p.kill()
    assert survivor is None or survivor != 0, "worker 0 finished without its peer"
    processes, codes, results, _ = _cluster(lambda i: args, tmp_path, "b")
    assert codes == [0, 0], "\n".join(p.tail() for p in processes)
    for r in results:
        r = json.loads(r.read_text())
        assert r["epochs_run"] == [2] and r["iterations"] == 3 * 8 and r["adversarial_active"]


@pytest.mark.slow
def test_multiworker_evaluation_killed_worker_restarted_alone_finishes(tmp_path,
                                                                         eval_model):
    """Worker 1 dies after saving two of its batches; worker 0 goes on and waits for the
    missing ones; worker 1 started again alone runs only the batches it had not saved;
    both return the per-example results of a single-device run."""
    out = tmp_path / "eval"
    ports = _free_ports(2)
    common = ["evaluate", "--strategy", "multiworker", "--model", eval_model, "--out", out]
    env = [{"TF_CONFIG": _tf_config(ports, i)} for i in range(2)]
    chief = _Process([*common, "--compare", "--result", tmp_path / "w0.json"],
                     tmp_path / "w0.log", env[0])
    try:
        dying = _Process([*common, "--kill-after-batches", "2", "--result", tmp_path / "x.json"],
                         tmp_path / "w1a.log", env[1])
        assert dying.wait(time.monotonic() + DEADLINE) == KILLED, dying.tail()
        dying.kill()
        saved = {p.name: p.stat().st_mtime_ns for p in (out / "batches").glob("*.json")}
        assert chief.proc.poll() is None, "the chief did not wait for worker 1"
        again = _Process([*common, "--result", tmp_path / "w1.json"], tmp_path / "w1b.log",
                         env[1])
        end = time.monotonic() + DEADLINE
        assert again.wait(end) == 0, again.tail()
        again.kill()
        assert chief.wait(end) == 0, chief.tail()
    finally:
        chief.kill()
    w0, w1 = (json.loads((tmp_path / f"w{i}.json").read_text()) for i in range(2))
    odd = {f"eps{e}_{b:05d}" for e in range(2) for b in (1, 3, 5)}
    assert set(w0["computed"]) == {f"eps{e}_{b:05d}" for e in range(2) for b in (0, 2, 4)}
    killed_saved = {name[:-5] for name in saved} & odd
    assert len(killed_saved) == 2 and not killed_saved & set(w1["computed"])
    assert set(w1["computed"]) == odd - killed_saved
    finished = {p.name: p.stat().st_mtime_ns for p in (out / "batches").glob("*.json")}
    assert all(finished[name] == stamp for name, stamp in saved.items())
    assert w0["same_results"] and w0["per_example"] == w0["single"] == w1["per_example"]
