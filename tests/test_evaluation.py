"""tfbnn.evaluation: worst case over the ensemble, masking diagnostics, resumable and
lossless output directories, stochastic and probability-output models, bad input."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tfbnn import evaluation, export
from tfbnn.evaluation import catalog, diagnostics

FAST = dict(nb_iter=5, batch_size=32, run_diagnostics=False, progress=False)


@pytest.fixture(scope="module")
def data(mnist_small, trained_a):
    _, (x, y) = mnist_small
    return x[:64], y[:64]


def _fn(model, scale=1.0):
    return lambda t: scale * model(t, training=False)


def test_worst_case_is_the_per_example_minimum(trained_a, data):
    x, y = data
    report = evaluation.evaluate(_fn(trained_a), x, y, eps=[0.05, 0.2],
                                 attacks=["fgsm", "pgd", "square"], mode="standalone", **FAST)
    assert report["schema"] == evaluation.SCHEMA and report["n"] == 64
    small, large = report["results"]
    for result in report["results"]:
        own = [a["accuracy"] for a in result["attacks"]]
        assert result["robust_accuracy"] <= min(own) + 1e-12
        assert result["robust_accuracy"] <= result["clean_accuracy"]
        assert result["attacks"][-1]["accuracy_after"] == pytest.approx(result["robust_accuracy"])
        fooled = sum(result["broken_by"].values())
        # every example that is not robust was broken by some attack (or misclassified)
        assert fooled + int(round(result["robust_accuracy"] * 64)) + result["broken_by"].get(
            "clean", 0) <= 64
    assert large["robust_accuracy"] <= small["robust_accuracy"]
    from tfbnn.evaluation.intervals import wilson_interval

    assert report["clean_interval"] == list(wilson_interval(report["clean_accuracy"] * 64, 64))
    for result in report["results"]:
        low, high = result["robust_interval"]
        assert low <= result["robust_accuracy"] <= high and high - low > 0.05  # N = 64
        assert result["robust_interval"] == list(
            wilson_interval(result["robust_accuracy"] * 64, 64))


def test_cascade_attacks_only_examples_still_robust(trained_a, data):
    x, y = data
    report = evaluation.evaluate(_fn(trained_a), x, y, eps=0.3, attacks=["pgd", "fgsm"], **FAST)
    result = report["results"][0]
    pgd, fgsm = result["attacks"]
    clean_correct = int(round(result["clean_accuracy"] * 64))
    assert pgd["attacked"] == clean_correct
    assert fgsm["attacked"] == clean_correct - pgd["fooled"]
    assert result["robust_accuracy"] == pytest.approx(
        (clean_correct - pgd["fooled"] - fgsm["fooled"]) / 64)
    assert pgd["max_linf"] <= 0.3 + 1e-6


def test_same_seed_same_numbers_and_seed_matters(trained_a, data):
    x, y = data
    kwargs = dict(eps=0.1, attacks=["pgd", "square"], **FAST)
    first = evaluation.evaluate(_fn(trained_a), x, y, seed=3, **kwargs)["results"]
    again = evaluation.evaluate(_fn(trained_a), x, y, seed=3, **kwargs)["results"]
    assert first[0]["robust_per_example"] == again[0]["robust_per_example"]


def test_finished_run_is_reused_and_never_overwritten(trained_a, data, tmp_path):
    x, y = data
    out = tmp_path / "run"
    kwargs = dict(eps=0.1, attacks=["pgd"], out_dir=out, **FAST)
    report = evaluation.evaluate(_fn(trained_a), x, y, **kwargs)
    assert (out / "report.json").is_file() and (out / "report.md").is_file()
    stamp = (out / "report.json").stat().st_mtime_ns
    again = evaluation.evaluate(_fn(trained_a), x, y, **kwargs)
    assert again["results"] == report["results"]
    assert (out / "report.json").stat().st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match="another run"):
        evaluation.evaluate(_fn(trained_a), x, y, **{**kwargs, "eps": 0.2})
    replaced = evaluation.evaluate(_fn(trained_a), x, y, **{**kwargs, "eps": 0.2},
                                   overwrite=True)
    assert replaced["config"]["eps"] == [0.2]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        evaluation.evaluate(_fn(trained_a), x, y, **{**kwargs, "out_dir": tmp_path / "other"})


_CHILD = """
import sys, numpy as np
import tfbnn
from tfbnn import evaluation, models, training
import tf_keras as keras
x, y = np.load(sys.argv[1])["x"], np.load(sys.argv[1])["y"]
model = keras.models.load_model(sys.argv[2], custom_objects=models.custom_objects())
evaluation.evaluate(model, x, y, eps=[0.1, 0.3], attacks=["pgd", "square"], nb_iter=20,
                    batch_size=16, run_diagnostics=False, progress=False, out_dir=sys.argv[3],
                    seed=7)
print("done")
"""


def test_killed_run_resumes_to_the_same_result(trained_a, data, tmp_path):
    """kill -9 in the middle, start again: the same report as an uninterrupted run."""
    x, y = data
    np.savez(tmp_path / "data.npz", x=x, y=y)
    model_path = export.save_model(trained_a, tmp_path / "model.keras")
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    args = [sys.executable, str(script), str(tmp_path / "data.npz"), str(model_path)]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    killed = tmp_path / "killed"
    child = subprocess.Popen(args + [str(killed)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and len(list((killed / "batches").glob("*.json"))) < 2:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    done_before = len(list((killed / "batches").glob("*.json")))
    assert 2 <= done_before < 8 and not (killed / "report.json").exists()
    for leftover in (killed / "batches").iterdir():  # only whole files, no temporaries
        json.loads(leftover.read_text())
    resumed = subprocess.run(args + [str(killed)], env=env, capture_output=True, text=True,
                             timeout=600)
    assert "done" in resumed.stdout, resumed.stderr[-2000:]
    straight = tmp_path / "straight"
    subprocess.run(args + [str(straight)], env=env, capture_output=True, timeout=600, check=True)
    a = json.loads((killed / "report.json").read_text())["results"]
    b = json.loads((straight / "report.json").read_text())["results"]
    for ra, rb in zip(a, b):
        assert ra["robust_per_example"] == rb["robust_per_example"]
        assert [r["fooled"] for r in ra["attacks"]] == [r["fooled"] for r in rb["attacks"]]


def test_diagnostics_flag_a_model_built_to_mask_gradients(trained_a, mnist_small):
    """Logits x1000 saturate the float32 softmax: zero gradients, PGD stalls. Flagged."""
    (x_train, _), (x, y) = mnist_small
    masked = _fn(trained_a, 1000.0)
    report = evaluation.evaluate(masked, x[:200], y[:200], eps=0.3, nb_iter=10, batch_size=100,
                                 attacks=["pgd", "pgdpp_hns", "apgd_dlr"], diagnostic_n=60,
                                 x_surrogate=x_train, progress=False)
    checks = {c["name"]: c for c in report["diagnostics"]}
    assert checks["zero_gradients"]["verdict"] == "WARN"
    assert checks["logit_scale"]["verdict"] == "WARN"
    assert checks["radius"]["verdict"] == "WARN"
    assert report["verdict"].startswith("WARN")
    result = report["results"][0]
    pgd = result["attacks"][0]
    assert pgd["loss_unmoved_fraction"] > 0.5  # said, not reported as robustness
    assert result["robust_accuracy"] < 0.5 * result["clean_accuracy"]  # PGD++/APGD break it
    # the same model without the scale passes the checks that the scale fails
    plain = {c["name"]: c["verdict"] for c in diagnostics.run_all(
        evaluation.prepare(_fn(trained_a), x[:8]), x[:200], y[:200], eps=0.3, norm="linf",
        n=60, seed=0, box={"clip_min": 0.0, "clip_max": 1.0}, x_surrogate=x_train)}
    assert plain["zero_gradients"] == "PASS" and plain["logit_scale"] == "PASS"
    assert plain["radius"] == "PASS"


def test_stochastic_model_is_detected_and_scored_over_draws(trained_a, data):
    x, y = data
    rng = tf.random.Generator.from_seed(0)

    def noisy(t):
        return trained_a(t, training=False) + rng.normal([tf.shape(t)[0], 10], stddev=3.0)

    report = evaluation.evaluate(noisy, x, y, eps=0.1, attacks=["pgd"], eot_draws=4, **FAST)
    assert report["model"]["stochastic"] and report["model"]["draws"] == 4
    assert any("stochastic" in note for note in report["model"]["notes"])
    fractions = np.array(report["results"][0]["robust_per_example"])
    assert np.all((fractions * 4) == np.round(fractions * 4))  # multiples of 1/draws
    deterministic = evaluation.prepare(_fn(trained_a), x[:8])
    assert not deterministic.stochastic and deterministic.draws == 1


def test_probability_outputs_are_detected_and_logged(trained_a, data):
    x, y = data
    softmax = lambda t: tf.nn.softmax(trained_a(t, training=False))  # noqa: E731
    target = evaluation.prepare(softmax, x[:8])
    assert target.outputs == "probabilities" and target.notes
    np.testing.assert_array_equal(np.argmax(target.logits_fn(x), -1),
                                  np.argmax(trained_a(x), -1))
    report = evaluation.evaluate(softmax, x, y, eps=0.3, attacks=["pgd"], **FAST)
    assert report["model"]["outputs"] == "probabilities"
    assert report["results"][0]["robust_accuracy"] < report["clean_accuracy"]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"attacks": ["pgd", "no_such_attack"]}, ValueError, "no_such_attack"),
        ({"attacks": ["square"], "norm": "l2"}, ValueError, "square"),
        ({"eps": 1.5}, ValueError, "eps"),
        ({"eps": -0.1}, ValueError, "eps"),
        ({"eps": []}, ValueError, "eps"),
        ({"norm": "l1"}, ValueError, "norm"),
        ({"mode": "fast"}, ValueError, "mode"),
        ({"nb_iter": 0}, ValueError, "nb_iter"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"outputs": "scores"}, ValueError, "outputs"),
    ],
)
def test_bad_arguments(kwargs, error, match, trained_a, data):
    x, y = data
    with pytest.raises(error, match=match):
        evaluation.evaluate(_fn(trained_a), x, y, **{**FAST, **kwargs})


def test_bad_data(trained_a, data):
    x, y = data
    with pytest.raises(ValueError, match="outside"):
        evaluation.evaluate(_fn(trained_a), x * 255, y, **FAST)
    with pytest.raises(ValueError, match="one integer label"):
        evaluation.evaluate(_fn(trained_a), x, y[:10], **FAST)
    with pytest.raises(ValueError, match="integer"):
        evaluation.evaluate(_fn(trained_a), x, y.astype(np.float32), **FAST)
    with pytest.raises(ValueError, match="classes"):
        evaluation.evaluate(_fn(trained_a), x, y + 10, **FAST)
    with pytest.raises(ValueError, match="shape"):
        evaluation.evaluate(_fn(trained_a), x[:, :20, :20], y, **FAST)


def test_load_model_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        evaluation.load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="saved_model.pb"):
        evaluation.load_model(tmp_path / "empty")
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="could not be loaded"):
        evaluation.load_model(broken)


def test_catalog_runs_every_attack_inside_the_ball(trained_a, data):
    x, y = data
    box = {"clip_min": 0.0, "clip_max": 1.0}
    for name, spec in catalog.ATTACKS.items():
        if name == "bba":  # ~60 s of numba compiling; tests/test_peers.py checks its ball
            continue
        for norm in spec.norms:
            eps = 0.1 if norm == "linf" else 1.0
            adv = np.asarray(spec.run(_fn(trained_a), x[:8], y[:8], eps, norm, 3, 0, box))
            delta = (adv - x[:8]).reshape(8, -1)
            size = np.abs(delta).max(1) if norm == "linf" else np.linalg.norm(delta, axis=1)
            assert np.all(size <= eps + 1e-5), name
            assert adv.min() >= 0.0 and adv.max() <= 1.0, name


def test_finished_run_is_not_reused_for_another_model(trained_a, data, tmp_path, mnist_small):
    """Same arguments, same folder, different weights: refused, not silently reused."""
    from tfbnn import models

    x, y = data
    kwargs = dict(eps=0.1, attacks=["fgsm"], out_dir=tmp_path / "run", **FAST)
    evaluation.evaluate(trained_a, x, y, **kwargs)
    other = models.cleverhans_cnn("A", k1=16)
    other.set_weights([w * 1.01 for w in trained_a.get_weights()])
    with pytest.raises(FileExistsError, match="model_sha"):
        evaluation.evaluate(other, x, y, **kwargs)


def test_plain_savedmodel_input_shape_is_read_from_its_signature(trained_a, tmp_path):
    """A SavedModel not written by tfbnn: the input shape comes from serving_default."""

    class Plain(tf.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)])
        def serve(self, images):
            return {"scores": self.model(images, training=False)}

    module = Plain(trained_a)
    tf.saved_model.save(module, str(tmp_path / "plain"),
                        signatures={"serving_default": module.serve})
    model_fn, metadata = evaluation.load_model(tmp_path / "plain")
    assert metadata == {"input_shape": [28, 28, 1]}
    x = np.zeros((2, 28, 28, 1), np.float32)
    np.testing.assert_allclose(model_fn(x), trained_a(x), atol=1e-5)


@pytest.mark.parametrize("successes, n", [(2, 500), (0, 100), (50, 100), (100, 100),
                                         (997.5, 1000), (1, 1)])
def test_wilson_interval_matches_scipy(successes, n):
    from scipy.stats import binomtest

    from tfbnn.evaluation.intervals import wilson_interval

    low, high = wilson_interval(successes, n)
    if float(successes).is_integer():
        reference = binomtest(int(successes), n).proportion_ci(0.95, method="wilson")
        assert (low, high) == pytest.approx((reference.low, reference.high), abs=1e-12)
    assert 0.0 <= low <= successes / n <= high <= 1.0
    assert (low == 0.0) == (successes == 0) and (high == 1.0) == (successes == n)


def test_wilson_interval_bad_arguments():
    from tfbnn.evaluation.intervals import wilson_interval

    for bad in (dict(successes=3, n=2), dict(successes=-1, n=2), dict(successes=0, n=0)):
        with pytest.raises(ValueError):
            wilson_interval(**bad)


def _row(name, attacked, fooled, gradients=True, targeted=False):
    return {"name": name, "attacked": attacked, "fooled": fooled, "uses_gradients": gradients,
            "targeted": targeted}


def test_cascade_check_reads_what_late_attacks_found():
    # the demo report: Square broke 22 of the 24 examples four gradient attacks left
    rows = [_row("apgd_ce", 470, 420), _row("pgdpp_hns", 50, 20), _row("pgdpp_njs", 30, 4),
            _row("apgd_dlr", 26, 2), _row("square", 24, 22, gradients=False)]
    check = diagnostics.check_cascade([{"eps": 0.1, "n": 500, "attacks": rows}], "cascade")
    assert check["verdict"] == "WARN"
    assert "square (gradient-free) fooled 22 of the 24 examples" in check["explanation"]
    assert "4.4% of all 500" in check["explanation"] and "--version plus" in check["explanation"]
    late = [e["attack"] for e in check["data"]["0.1"] if e["late"]]
    assert late == ["square"]  # untargeted after untargeted is not "late"
    # a targeted attack after untargeted ones counts too; a few examples are noise
    rows = [_row("apgd_ce", 400, 380), _row("apgd_t", 20, 9, targeted=True),
            _row("square", 11, 2, gradients=False)]
    check = diagnostics.check_cascade([{"eps": 0.3, "n": 500, "attacks": rows}], "cascade")
    assert check["verdict"] == "WARN" and "apgd_t (targeted) fooled 9 of the 20" in (
        check["explanation"]) and "square" not in check["explanation"]
    healthy = [_row("apgd_ce", 400, 390), _row("apgd_t", 10, 0, targeted=True),
               _row("square", 10, 0, gradients=False)]
    assert diagnostics.check_cascade([{"eps": 0.3, "n": 400, "attacks": healthy}],
                                     "cascade")["verdict"] == "PASS"
    assert diagnostics.check_cascade([], "standalone")["verdict"] == "SKIP"


def test_cascade_check_flags_a_masked_model_and_passes_a_healthy_one(trained_a, mnist_small):
    _, (x, y) = mnist_small
    x, y = x[:96], y[:96]
    common = dict(eps=0.2, attacks=["pgd", "square"], nb_iter=20, batch_size=96,
                  run_diagnostics=False, progress=False)
    masked = evaluation.evaluate(_fn(trained_a, 1000.0), x, y, **common)
    check = masked["diagnostics"][0]
    assert check["name"] == "cascade" and check["verdict"] == "WARN", check
    assert masked["verdict"].startswith("WARN")
    healthy = evaluation.evaluate(_fn(trained_a), x, y, **common)
    assert healthy["diagnostics"][0]["verdict"] == "PASS", healthy["diagnostics"][0]


def test_standard_version_runs_unchanged_on_a_cifar_bnn():
    """A tiny BNN-WQ ResNet-18 on 32x32x3 inputs at eps 8/255: every attack of the standard
    version runs, stays in the ball, and the report names the budgets."""
    from tfbnn import models

    rng = np.random.default_rng(0)
    x = rng.uniform(size=(12, 32, 32, 3)).astype(np.float32)
    model = models.resnet18("wq", "md_tanh_s", width=0.0625, blocks=(1, 1, 1, 1))
    y = np.argmax(model(x, training=False).numpy(), -1)  # all correct on clean inputs
    report = evaluation.evaluate(model, x, y, eps=8 / 255, version="standard", nb_iter=2,
                                 batch_size=12, run_diagnostics=False, progress=False)
    result = report["results"][0]
    assert report["config"]["version"] == "standard" and result["clean_accuracy"] == 1.0
    names = [a["name"] for a in result["attacks"]]
    assert names == ["apgd_ce", "pgdpp_njs", "pgdpp_hns", "apgd_t", "fab_t", "square"]
    budgets = {a["name"]: a["budget"] for a in result["attacks"]}
    assert budgets["apgd_t"] == "apgd_t: 2 iterations x 9 target classes"
    assert budgets["square"] == "square: 5000 queries"
    for a in result["attacks"]:
        assert a["max_linf"] is None or a["max_linf"] <= 8 / 255 + 1e-6
    assert 0.0 <= result["robust_accuracy"] <= 1.0
