import json
import subprocess
import sys

import pytest

from tfbnn import cli, export

TINY = ["--k1", "4", "--epochs", "1", "--train-size", "512", "--n", "40", "--pgd-iter", "3", "--quiet"]


def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), *TINY]) == cli.EXIT_OK
    printed = capsys.readouterr().out
    assert "clean" in printed and "FGSM" in printed and "PGD-3" in printed
    assert str(out / "saved_model") in printed
    result = json.loads((out / "demo.json").read_text())
    assert result["n_test"] == 40 and result["variant"] == "B"
    accuracy = result["accuracy"]
    assert set(accuracy) == {"clean", "FGSM eps=0.1", "PGD-3 eps=0.1 step=0.025"}
    assert all(0.0 <= v <= 1.0 for v in accuracy.values())
    # an attack never makes a model more accurate than on clean data by much at n=40
    assert accuracy["PGD-3 eps=0.1 step=0.025"] <= accuracy["clean"] + 0.05
    model_fn, meta = export.load_saved_model(out / "saved_model")
    assert meta["variant"] == "B" and meta["k1"] == 4

    # a second run refuses to overwrite the first one's outputs
    assert cli.main(["demo", "--out", str(out), *TINY]) == cli.EXIT_USAGE
    assert "--overwrite" in capsys.readouterr().err


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
