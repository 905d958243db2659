import json
import subprocess
import sys

import numpy as np
import pytest

from tfbnn import cli, export

TINY = ["--k1", "4", "--epochs", "1", "--train-size", "512", "--n", "40", "--pgd-iter", "3", "--quiet",
        "--version", "none"]


def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), *TINY]) == cli.EXIT_OK
    printed = capsys.readouterr().out
    assert "clean" in printed and "FGSM" in printed and "PGD-3" in printed
    assert str(out / "saved_model") in printed
    result = json.loads((out / "demo.json").read_text())
    assert result["n_test"] == 40 and result["variant"] == "C"
    assert 0.0 <= result["test_accuracy"] <= 1.0 and result["evaluation"] is None
    accuracy = result["accuracy"]
    assert set(accuracy) == {"clean", "FGSM eps=0.1", "PGD-3 eps=0.1 step=0.025"}
    assert all(0.0 <= v <= 1.0 for v in accuracy.values())
    # an attack never makes a model more accurate than on clean data by much at n=40
    assert accuracy["PGD-3 eps=0.1 step=0.025"] <= accuracy["clean"] + 0.05
    model_fn, meta = export.load_saved_model(out / "saved_model")
    assert meta["variant"] == "C" and meta["k1"] == 4

    # a second run refuses to overwrite the first one's outputs
    assert cli.main(["demo", "--out", str(out), *TINY]) == cli.EXIT_USAGE
    assert "--overwrite" in capsys.readouterr().err


def test_demo_runs_the_quick_evaluation_and_prints_its_summary(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), *TINY[:-2], "--version", "quick", "--n", "24"]
    assert cli.main(args) == cli.EXIT_OK
    printed = capsys.readouterr().out
    assert "tfbnn evaluate --version quick" in printed and "Worst case over apgd_ce" in printed
    assert "95 % interval" in printed and "Report:" in printed
    result = json.loads((out / "demo.json").read_text())
    summary = result["evaluation"]
    assert summary["version"] == "quick" and "square: 1000 queries" in summary["attacks"]
    assert summary["robust_accuracy"] == result["accuracy"]["worst case, evaluate --version quick"]
    assert summary["robust_accuracy"] <= summary["clean_accuracy"]
    low, high = summary["robust_interval"]
    assert low <= summary["robust_accuracy"] <= high
    assert (out / "evaluation" / "report.json").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["demo", "--eps", "0"], "--eps"),
        (["demo", "--eps", "30"], "--eps"),
        (["demo", "--k1", "0"], "--k1"),
        (["demo", "--variant", "Z"], "--variant"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_n_larger_than_test_set(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path / "d"), "--n", "20000"]) == cli.EXIT_USAGE
    assert "10000" in capsys.readouterr().err


def test_console_script_help():
    result = subprocess.run(
        [sys.executable, "-m", "tfbnn.cli", "demo", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    assert "--epochs" in result.stdout and "SavedModel" in result.stdout


@pytest.fixture(scope="module")
def exported(tmp_path_factory, trained_a):
    path = tmp_path_factory.mktemp("cli") / "saved_model"
    export.export_saved_model(trained_a, path)
    return path


EVAL = ["--n", "48", "--nb-iter", "3", "--batch-size", "24", "--quiet"]


def test_evaluate_end_to_end(exported, tmp_path, capsys):
    out = tmp_path / "eval"
    args = ["evaluate", str(exported), "--eps", "0.1", "0.3", "--attacks", "pgd", "fgsm",
            "--diagnostic-n", "16", "--out", str(out), *EVAL]
    assert cli.main(args) == cli.EXIT_OK
    printed = capsys.readouterr().out
    assert "robust accuracy (worst case)" in printed and "report.md" in printed
    report = json.loads((out / "report.json").read_text())
    assert [r["eps"] for r in report["results"]] == [0.1, 0.3]
    assert {c["name"] for c in report["diagnostics"]} >= {"iterations", "radius", "transfer"}
    assert "Gradient-masking diagnostics" in (out / "report.md").read_text()
    # the same command again reuses the finished run; other arguments are refused
    assert cli.main(args) == cli.EXIT_OK
    capsys.readouterr()
    assert cli.main(["evaluate", str(exported), "--eps", "0.2", "--out", str(out), *EVAL]) \
        == cli.EXIT_USAGE
    assert "another run" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--attacks", "no_such_attack"], "no_such_attack"),
        (["--data", "svhn"], "svhn"),
        (["--n", "20000"], "larger than"),
        (["--eps", "2.0"], "eps"),
        (["--version", "quick", "--attacks", "pgd"], "--version quick and --attacks pgd"),
    ],
)
def test_evaluate_bad_input_exits_2_before_work(extra, message, exported, tmp_path, capsys):
    args = ["evaluate", str(exported), "--out", str(tmp_path / "e"), "--quiet", *extra]
    assert cli.main(args) == cli.EXIT_USAGE
    assert message in capsys.readouterr().err
    assert not (tmp_path / "e" / "report.json").exists()


def test_evaluate_missing_model_and_wrong_shape(tmp_path, capsys, trained_a):
    assert cli.main(["evaluate", str(tmp_path / "nope"), "--out", str(tmp_path / "e")]) \
        == cli.EXIT_USAGE
    assert "does not exist" in capsys.readouterr().err
    np.savez(tmp_path / "small.npz", x_test=np.zeros((10, 20, 20, 1), np.float32),
             y_test=np.zeros(10, np.int64))
    path = tmp_path / "m.keras"
    export.save_model(trained_a, path)
    assert cli.main(["evaluate", str(path), "--data", str(tmp_path / "small.npz"), "--n", "10",
                     "--out", str(tmp_path / "e2")]) == cli.EXIT_USAGE
    assert "shape" in capsys.readouterr().err


def test_attack_command_saves_examples(exported, tmp_path, capsys):
    save = tmp_path / "adv.npz"
    assert cli.main(["attack", str(exported), "pgdpp_njs", "--eps", "0.3", "--save", str(save),
                     *EVAL]) == cli.EXIT_OK
    assert "under attack" in capsys.readouterr().out
    from tfbnn import data

    _, (x_test, y_test) = data.load_mnist()
    with np.load(save) as archive:
        assert archive["x_adv"].shape == (48, 28, 28, 1)
        np.testing.assert_array_equal(archive["y"], y_test[:48])
        delta = np.abs(archive["x_adv"] - x_test[:48]).max()
        assert 0.0 < delta <= 0.3 + 1e-6


def test_evaluate_help_lists_attacks():
    result = subprocess.run([sys.executable, "-m", "tfbnn.cli", "evaluate", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert "pgdpp_hns" in result.stdout and "--eps" in result.stdout and "example:" in result.stdout


def test_range_and_outputs_overrides(exported, capsys):
    # MNIST lies in [0, 1]: a claimed range of [0.5, 1] is refused before any attack runs
    assert cli.main(["attack", str(exported), "fgsm", "--clip-min", "0.5", *EVAL]) \
        == cli.EXIT_USAGE
    assert "outside" in capsys.readouterr().err
    assert cli.main(["attack", str(exported), "fgsm", "--clip-min", "1", "--clip-max", "0",
                     *EVAL]) == cli.EXIT_USAGE
    assert "--clip-min" in capsys.readouterr().err
    # an explicit --outputs skips the detection
    assert cli.main(["attack", str(exported), "fgsm", "--outputs", "logits", *EVAL]) == cli.EXIT_OK


def test_evaluate_strict_exits_3_on_masking(trained_a, tmp_path, capsys):
    """Logits x1000 (a saturated softmax) warn of gradient masking: --strict exits 3."""
    import tf_keras as keras

    masked = keras.Sequential([trained_a, keras.layers.Rescaling(1000.0)])
    path = tmp_path / "masked.keras"
    export.save_model(masked, path)
    args = ["evaluate", str(path), "--eps", "0.3", "--attacks", "pgd", "--diagnostic-n", "16",
            "--out", str(tmp_path / "e"), *EVAL]
    assert cli.main(args + ["--strict"]) == cli.EXIT_MASKING
    assert "WARN" in capsys.readouterr().out
    assert cli.main(args) == cli.EXIT_OK  # the finished run, without --strict


def _damaged(exported, tmp_path, case):
    """A copy of the exported SavedModel with one file damaged as ``case`` says."""
    import shutil

    d = tmp_path / case
    shutil.copytree(exported, d)
    pb, variables = d / "saved_model.pb", d / "variables"
    data = next(variables.glob("variables.data*"))
    if case == "pb_truncated":
        pb.write_bytes(pb.read_bytes()[: pb.stat().st_size // 2])
    elif case == "pb_garbage":
        pb.write_bytes(b"not a protocol buffer " * 20)
    elif case == "variables_truncated":
        data.write_bytes(data.read_bytes()[:100])
    elif case == "index_truncated":
        (variables / "variables.index").write_bytes(b"\0" * 20)
    elif case == "variables_missing":
        shutil.rmtree(variables)
    elif case == "metadata_corrupt":
        (d / "assets.extra" / export.METADATA_FILE).write_text("{not json")
    return d


@pytest.mark.parametrize("case, message", [
    ("pb_truncated", "saved_model.pb' cannot be parsed"),
    ("pb_garbage", "saved_model.pb' cannot be parsed"),
    ("variables_truncated", "variable files under"),
    ("index_truncated", "variable files under"),
    ("variables_missing", "its variables are missing"),
    ("metadata_corrupt", "metadata file"),
])
def test_evaluate_damaged_saved_model_exits_2_naming_the_file(case, message, exported, tmp_path,
                                                              capsys):
    model = _damaged(exported, tmp_path, case)
    out = tmp_path / "e"
    assert cli.main(["evaluate", str(model), "--out", str(out), *EVAL]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and str(model) in err and "Traceback" not in err
    assert not out.exists() or not (out / "report.json").exists()


@pytest.mark.parametrize("case, message", [
    ("truncated", "cannot be read as an .npz"),
    ("objects", "cannot be read as an .npz of plain arrays"),
])
def test_evaluate_damaged_data_exits_2_naming_the_file(case, message, exported, tmp_path,
                                                       capsys):
    path = tmp_path / "data.npz"
    x = np.zeros((60, 28, 28, 1), np.float32)
    if case == "truncated":
        np.savez(path, x_test=x, y_test=np.zeros(60, np.int64))
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        np.savez(path, x_test=x, y_test=np.array([object()] * 60, dtype=object))
    args = ["evaluate", str(exported), "--data", str(path), "--out", str(tmp_path / "e"), *EVAL]
    assert cli.main(args) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and str(path) in err


def test_a_split_ordered_by_class_is_sampled_not_cut(tmp_path, capsys):
    """The CIFAR-10 stand-in's test split is ordered by class; its first N would be one
    class, so N examples are drawn with a fixed seed instead (and the user is told)."""
    from tfbnn import cli

    y = np.repeat(np.arange(10), 50)  # 500 examples, ordered by class
    x = np.random.default_rng(0).random((500, 4, 4, 1)).astype(np.float32)
    path = tmp_path / "ordered.npz"
    np.savez(path, x_test=x, y_test=y)
    xs, ys = cli._load_data(str(path), 100)
    assert len(np.unique(ys)) == 10 and np.all(np.diff(ys) >= 0)  # every class, in order
    again, _ = cli._load_data(str(path), 100)
    assert np.array_equal(xs, again)  # the same draw every time
    assert "ordered by class" in capsys.readouterr().err
    shuffled = np.random.default_rng(1).permutation(500)
    np.savez(path, x_test=x[shuffled], y_test=y[shuffled])
    xs, ys = cli._load_data(str(path), 100)
    assert np.array_equal(ys, y[shuffled][:100])  # any other split: the first N
