"""Smoke test of benchmarks/verify_scaling.py: it runs, renders its counts consistently,
resumes without redoing a finished network, and refuses bad settings before any work."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ortools")


def test_quick_run_resumes_and_renders(load_benchmark, tmp_path, monkeypatch):
    bench = load_benchmark("verify_scaling")
    out = tmp_path / "scaling.json"
    first = bench.main(["--quick", "--json", str(out)])
    assert [(n["depth"], n["width"]) for n in first["networks"]] == [(2, 8), (2, 16)]
    cell = first["networks"][0]["cells"][0]
    assert sum(cell["counts"].values()) == 3 == sum(cell["how"].values())
    assert len(cell["solve_seconds"]) == sum(
        v for k, v in cell["how"].items() if k.endswith("by solver"))
    text = bench.render(first)
    assert "| 2x8 | " in text and f"{cell['eps']:g}" in text
    # a resumed run keeps the finished networks as they were, and trains nothing
    monkeypatch.setattr(bench, "train", None)
    again = bench.main(["--quick", "--json", str(out), "--resume"])
    assert again["networks"] == json.loads(out.read_text())["networks"] == first["networks"]
    with pytest.raises(SystemExit, match="other settings"):
        bench.main(["--quick", "--seed", "1", "--json", str(out), "--resume"])


@pytest.mark.parametrize("argv", [["--eps", "2"], ["--widths", "0"], ["--time-limit", "-1"]])
def test_bad_settings_are_refused_before_work(load_benchmark, argv):
    bench = load_benchmark("verify_scaling")
    with pytest.raises(SystemExit):
        bench.parse_args(argv)
