"""benchmarks/evaluation_versions.py: its numbers are the evaluation's own, every finished
run is on disk at once, and a second call resumes instead of repeating work."""

from __future__ import annotations

import json

import numpy as np
import pytest

@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("evaluation_versions")


@pytest.fixture(scope="module")
def saved(trained_a, tmp_path_factory):
    path = tmp_path_factory.mktemp("versions") / "a.keras"
    trained_a.save(path)
    return path


def test_runs_record_the_evaluation_and_resume(bench, saved, tmp_path, monkeypatch):
    out = tmp_path / "results.json"
    args = ["--model", str(saved), "--name", "tiny A", "--n", "12", "--eps", "0.3",
            "--runs", "quick", "alone_other", "--batch-size", "8", "--json", str(out)]
    results = bench.main(args)
    on_disk = json.loads(out.read_text())
    assert on_disk == json.loads(json.dumps(results))
    cells = on_disk["models"]["tiny A"]["cells"]
    assert set(cells) == {"0.3|quick", "0.3|alone_other"}
    quick, alone = cells["0.3|quick"], cells["0.3|alone_other"]
    assert quick["version"] == "quick" and quick["mode"] == "cascade"
    assert [a["name"] for a in quick["attacks"]] == [
        "apgd_ce", "pgdpp_hns", "pgdpp_njs", "apgd_dlr", "square"]
    assert [a["name"] for a in alone["attacks"]] == ["apgd_dlr", "fab"]
    assert quick["n"] == 12
    low, high = quick["robust_interval"]
    assert low <= quick["robust_accuracy"] <= high
    # The cascade attacks only what is left; alone, each attack sees every correct example.
    assert quick["attacks"][0]["attacked"] == round(quick["clean_accuracy"] * 12)
    assert all(a["attacked"] == round(alone["clean_accuracy"] * 12) for a in alone["attacks"])
    assert quick["unit_before"] > 0 and quick["unit_after"] > 0
    assert quick["cascade"]["verdict"] in ("PASS", "WARN")

    # The table shows the recorded numbers.
    text = bench.render(on_disk)
    assert f"| quick | {100 * quick['robust_accuracy']:.1f} " in text
    assert "| plus | not run |" in text
    assert f"| fab | 100 iterations | {100 * alone['attacks'][1]['accuracy']:.1f} " in text

    # A second call finds both runs on disk and runs nothing again.
    def fail(*a, **k):
        raise AssertionError("a finished run was repeated")

    monkeypatch.setattr(bench, "one_run", fail)
    again = bench.main(args)
    assert again["models"]["tiny A"]["cells"] == cells


def test_a_killed_run_keeps_the_finished_ones(bench, saved, tmp_path, monkeypatch):
    out = tmp_path / "results.json"
    real = bench.one_run
    calls = []

    def one_then_die(*a, **k):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(bench, "one_run", one_then_die)
    with pytest.raises(KeyboardInterrupt):
        bench.main(["--model", str(saved), "--n", "8", "--eps", "0.3", "--runs", "quick",
                    "alone_other", "--batch-size", "8", "--json", str(out)])
    cells = json.loads(out.read_text())["models"][str(saved)]["cells"]
    assert list(cells) == ["0.3|quick"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_bad_arguments_fail_before_any_work(bench, tmp_path, capsys):
    out = tmp_path / "r.json"
    for argv, needle in [
        (["--json", str(out)], "--model is required"),
        (["--model", "m", "--json", str(out), "--n", "0"], "--n must be >= 1"),
        (["--model", "m", "--json", str(out), "--eps", "8/0"], "--eps '8/0'"),
        (["--model", "m", "--json", str(out), "--eps", "2"], "must lie in (0, 1]"),
    ]:
        with pytest.raises(SystemExit) as info:
            bench.main(argv)
        assert info.value.code == 2
        assert needle in capsys.readouterr().err
    out.write_text("{not json")
    with pytest.raises(SystemExit):
        bench.main(["--model", "m", "--json", str(out)])
    assert "is not a results file" in capsys.readouterr().err
    assert not np.any([p.suffix == ".tmp" for p in tmp_path.iterdir()])


def test_settings_clash_with_the_file(bench, saved, tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text(json.dumps({"schema": "x", "models": {"m": {
        "meta": {"model": str(saved), "dataset": "mnist", "n": 5, "seed": 0,
                 "batch_size": 8, "eps": [0.3]}, "cells": {}}}}))
    with pytest.raises(SystemExit):
        bench.main(["--model", str(saved), "--name", "m", "--n", "6", "--eps", "0.3",
                    "--json", str(out)])
    assert "already holds 'm' with other settings" in capsys.readouterr().err


def test_eps_fractions(bench):
    assert bench.parse_eps("8/255") == pytest.approx(8 / 255)
    assert bench._eps_text(8 / 255) == "8/255"
    assert bench._eps_text(0.1) == "0.1"
