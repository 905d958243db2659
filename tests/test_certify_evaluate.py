"""``evaluate(..., certify=...)`` and ``tfbnn evaluate --certify``: the certified lower
bound beside the attack upper bound.

A one-hidden-layer binary MLP (16 units) trained 5 epochs on 512 real MNIST images is
small enough that CP-SAT answers every example in well under a second, so nothing is
``unknown`` and the two bounds meet: the tests can check that the evaluation's exact
answers agree with a standalone `tfbnn.verify.verify` run, that counterexamples replay,
and that the ensemble alone misses some of them (the point of certifying).
"""

import json
from pathlib import Path

import numpy as np
import pytest

import tfbnn  # noqa: F401  (Keras 2 first)
import tf_keras as keras

from tfbnn import cli, data, evaluation, models
from tfbnn.evaluation import certified, ensemble

pytest.importorskip("ortools", reason="certify needs OR-Tools: pip install -e '.[verify]'")

from tfbnn import verify  # noqa: E402
from tfbnn.verify import encoding  # noqa: E402

EPS = [0.4 / 255, 2 / 255, 4 / 255]
"""0.4 grey levels: less than half a level, so on grid inputs the ball holds the input
alone (the eps = 0 case, which evaluate's eps > 0 check does not accept); then 2 and 4
levels."""
N = 24
FAST = dict(attacks=["fgsm", "pgd"], nb_iter=5, batch_size=12, run_diagnostics=False,
            progress=False)


@pytest.fixture(scope="module")
def mlp():
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    keras.utils.set_random_seed(0)
    model = models.binary_mlp((16,))
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train[:512], y_train[:512], epochs=5, batch_size=64, verbose=0)
    return model, np.array(x_test[:N]), np.array(y_test[:N])


@pytest.fixture(scope="module")
def run(mlp, tmp_path_factory):
    model, x, y = mlp
    out = tmp_path_factory.mktemp("certify") / "run"
    report = evaluation.evaluate(model, x, y, eps=EPS, out_dir=out,
                                 certify={"time_limit": 30}, **FAST)
    return report, out


def test_bounds_bracket_and_fold_into_the_worst_case(run):
    report, _ = run
    assert report["config"]["certify"]["method"] == certified.EXACT
    for result in report["results"]:
        c = result["certification"]
        robust_alone = int(round(c["ensemble_upper"] * N))
        assert c["verified"] == robust_alone  # every example the attacks left robust
        assert c["certified"] + c["counterexamples"] + c["unknown"] == c["verified"]
        assert c["lower"] <= c["upper"] <= c["ensemble_upper"] <= result["clean_accuracy"]
        assert c["lower"] == c["certified"] / N
        assert c["upper"] == pytest.approx((robust_alone - c["counterexamples"]) / N)
        assert c["gap"] == pytest.approx(c["upper"] - c["lower"])
        assert c["gap"] == pytest.approx(c["unknown_fraction"])
        low, high = c["lower_interval"]
        assert low <= c["lower"] <= high
        # the counterexamples join the evaluation's own worst case
        assert result["robust_accuracy"] == c["upper"]
        assert result["robust_interval"] == c["upper_interval"]
        assert result["broken_by"][certified.EXACT] == c["counterexamples"]
        status = c["status_per_example"]
        robust = np.array(result["robust_per_example"])
        assert np.array_equal(robust >= 0.5, np.isin(status, ("certified", "unknown")))
        assert c["unknown"] == 0  # this network is small: the solver decides everything
    # the ensemble (FGSM, PGD-5) misses adversarial examples that the solver finds
    assert sum(r["certification"]["counterexamples"] for r in report["results"]) > 0
    assert any(r["certification"]["found_by"]["solver"] > 0 for r in report["results"])


def test_sub_level_radius_certifies_every_correct_example(run, mlp):
    model, x, y = mlp
    report, _ = run
    first = report["results"][0]
    c = first["certification"]
    correct = np.asarray(model(x)).argmax(-1) == y
    assert 0 < correct.sum() < N
    assert c["lower"] == c["upper"] == first["clean_accuracy"] == correct.mean()
    assert c["counterexamples"] == c["unknown"] == 0
    assert np.array_equal(np.array(c["status_per_example"]) == "certified", correct)


def test_answers_agree_with_standalone_verification(run, mlp):
    """Broken (by an attack or exactly) in the evaluation <=> a counterexample exists
    according to `verify` on its own; certified <=> certified."""
    model, x, y = mlp
    report, _ = run
    network = verify.extract(model)
    for eps, result in zip(EPS[1:], report["results"][1:]):
        alone = verify.verify(network, x, y, eps, time_limit=30, attack=False)
        truth = np.array([r.status for r in alone.results])
        assert "unknown" not in truth
        status = np.array(result["certification"]["status_per_example"])
        np.testing.assert_array_equal(status == "certified", truth == "certified")


def test_every_counterexample_replays_misclassified(run, mlp):
    model, x, y = mlp
    report, out = run
    total = 0
    for e, (eps, result) in enumerate(zip(EPS, report["results"])):
        found = certified.load_counterexamples(out, e, x.shape[1:])
        status = result["certification"]["status_per_example"]
        assert sorted(found) == [i for i, s in enumerate(status) if s == "counterexample"]
        for i, point in found.items():
            assert np.abs(point - x[i]).max() <= np.float32(eps) + 1e-7
            assert 0 <= point.min() and point.max() <= 1
            assert int(np.asarray(model(point[None], training=False)).argmax()) != y[i]
        total += len(found)
    assert total > 0


def test_report_files_hold_the_fields(run):
    report, out = run
    written = json.loads((out / "report.json").read_text())
    assert written["results"] == json.loads(json.dumps(report["results"]))
    for result in written["results"]:
        assert {"lower", "lower_interval", "upper", "upper_interval", "ensemble_upper", "gap",
                "unknown_fraction", "counterexamples", "solve_seconds_mean",
                "solve_seconds_median", "time_limit", "workers",
                "status_per_example"} <= set(result["certification"])
    text = (out / "report.md").read_text()
    assert "## Exact certification (CP-SAT)" in text
    assert "certified (lower)" in text and "attacks + exact (upper)" in text
    c = written["results"][-1]["certification"]
    assert f"| {EPS[-1]:g} | **{c['lower']:.4f}** |" in text
    assert "certified_bounds.png" in written["plots"]
    assert (out / "certified_bounds.png").stat().st_size > 1000
    # without certify the report has no such section
    assert certified.markdown_lines({"results": [{"eps": 0.1}]}) == []


def test_unknown_answers_open_the_gap(mlp, monkeypatch):
    model, x, y = mlp

    def out_of_time(enc, **kwargs):
        return ("unknown", None, 0.5) if enc.decided is None else (enc.decided, None, 0.0)

    monkeypatch.setattr(encoding, "solve", out_of_time)
    report = evaluation.evaluate(model, x, y, eps=EPS[-1], certify=True, **FAST)
    c = report["results"][0]["certification"]
    assert c["unknown"] == c["found_by"]["solver"] > 0 and c["counterexamples"] == 0
    assert c["lower"] < c["upper"] == c["ensemble_upper"]
    assert c["gap"] == pytest.approx(c["unknown"] / N)
    assert c["solve_seconds_median"] == 0.5


def test_a_killed_run_resumes_without_solving_again(run, mlp, tmp_path, monkeypatch):
    model, x, y = mlp
    report, out = run
    copy = tmp_path / "run"
    import shutil

    shutil.copytree(out, copy)
    (copy / "report.json").unlink()  # killed after the last answer, before the report
    saved = sorted((copy / "batches").glob("eps2_certify_*.json"))
    for file in saved[-3:]:  # ... or while solving the last three examples of eps 2
        file.unlink()
    calls = []
    from tfbnn.verify import verifier

    real = verifier.verify

    def counting(network, xs, ys, eps, **kwargs):
        calls.append(eps)
        return real(network, xs, ys, eps, **kwargs)

    monkeypatch.setattr(verifier, "verify", counting)
    again = evaluation.evaluate(model, x, y, eps=EPS, out_dir=copy,
                                certify={"time_limit": 30, "jobs": 2}, **FAST)
    assert calls == [EPS[2]] * 3  # only the lost answers; jobs is not part of the identity
    for a, b in zip(report["results"], again["results"]):
        assert a["certification"]["status_per_example"] == b["certification"]["status_per_example"]
    # other certify settings are another run
    with pytest.raises(FileExistsError, match="certify"):
        evaluation.evaluate(model, x, y, eps=EPS, out_dir=copy, certify={"time_limit": 5},
                            **FAST)


def _no_attacks(*args, **kwargs):
    raise AssertionError("an attack ran before the model was checked")


def test_unsupported_model_is_refused_before_any_attack(mlp, monkeypatch):
    _, x, y = mlp
    monkeypatch.setattr(ensemble, "_attack_batch", _no_attacks)
    cnn = models.cleverhans_cnn("A", k1=4)  # full precision, ReLU: not a supported BNN
    with pytest.raises(verify.UnsupportedModelError,
                       match="cannot verify this model exactly: layer 'conv1' .Conv2D. is not a "
                             "supported layer"):
        evaluation.evaluate(cnn, x, y, eps=0.1, certify=True, **FAST)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"certify": {"time_limit": 0}}, ValueError, "time_limit"),
    ({"certify": {"workers": 0}}, ValueError, "workers"),
    ({"certify": {"timelimit": 5}}, ValueError, "unknown options"),
    ({"certify": "yes"}, ValueError, "certify must be"),
    ({"certify": True, "norm": "l2"}, ValueError, "L-inf"),
    ({"certify": True, "clip_max": 2.0}, ValueError, r"\[0, 1\]"),
])
def test_bad_certify_arguments_are_refused_before_any_attack(mlp, monkeypatch, kwargs, error,
                                                             words):
    model, x, y = mlp
    monkeypatch.setattr(ensemble, "_attack_batch", _no_attacks)
    with pytest.raises(error, match=words):
        evaluation.evaluate(model, x, y, eps=0.1, **{**FAST, **kwargs})


def test_a_callable_is_refused(mlp, monkeypatch):
    model, x, y = mlp
    monkeypatch.setattr(ensemble, "_attack_batch", _no_attacks)
    with pytest.raises(TypeError, match="Keras model itself"):
        evaluation.evaluate(lambda t: model(t, training=False), x, y, eps=0.1, certify=True,
                            **FAST)


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def files(mlp, tmp_path_factory):
    model, x, y = mlp
    folder = tmp_path_factory.mktemp("cli")
    model.save(folder / "mlp.keras")
    models.cleverhans_cnn("A", k1=4).save(folder / "cnn_a.keras")
    np.savez(folder / "data.npz", x_test=x, y_test=y)
    return folder


def _args(files, model, out, *extra):
    return ["evaluate", str(files / model), "--data", str(files / "data.npz"), "--n", str(N),
            "--eps", str(EPS[1]), str(EPS[2]), "--attacks", "fgsm", "pgd", "--nb-iter", "5",
            "--batch-size", "12", "--no-diagnostics", "--quiet", "--out", str(out), *extra]


def test_cli_round_trip(files, run, tmp_path, capsys):
    report, _ = run
    out = tmp_path / "eval"
    args = _args(files, "mlp.keras", out, "--certify", "--certify-time-limit", "30",
                 "--certify-workers", "1")
    assert cli.main(args) == cli.EXIT_OK
    printed = capsys.readouterr().out
    assert printed.count("exact (CP-SAT): certified lower bound") == 2
    written = json.loads((out / "report.json").read_text())
    assert written["config"]["certify"]["time_limit"] == 30
    for a, b in zip(report["results"][1:], written["results"]):  # the API's answers
        assert a["certification"]["status_per_example"] == b["certification"]["status_per_example"]
        assert f"certified lower bound {b['certification']['lower']:.4f}" in printed
    assert "Exact certification" in (out / "report.md").read_text()
    assert cli.main(args) == cli.EXIT_OK  # finished: read back, nothing solved again


@pytest.mark.parametrize("model, extra, words", [
    ("cnn_a.keras", (), "layer 'conv1' (Conv2D) is not a supported layer"),
    ("saved_model_dir", (), ".keras or .h5 file"),
    ("mlp.keras", ("--norm", "l2"), "L-inf"),
    ("missing.keras", (), "does not exist"),
])
def test_cli_refuses_before_any_attack(files, tmp_path, capsys, monkeypatch, model, extra,
                                       words):
    (files / "saved_model_dir").mkdir(exist_ok=True)
    monkeypatch.setattr(ensemble, "_attack_batch", _no_attacks)
    out = tmp_path / "eval"
    code = cli.main(_args(files, model, out, "--certify", *extra))
    assert code == cli.EXIT_USAGE
    assert words in capsys.readouterr().err
    assert not Path(out).exists()
