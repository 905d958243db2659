"""Every section of docs/benchmarks.md is its committed results file rendered.

Each benchmark in benchmarks/ writes its results to benchmarks/results/<section>.json and
renders its docs section from that file alone. These tests render every committed file
again (no timing, no training) and compare: a section edited by hand, or one whose results
file is missing, fails here.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "benchmarks" / "results"
SECTION = re.compile(r"<!-- BEGIN (\S+) -->\n(.*?)\n<!-- END \1 -->", re.S)
# Sections written by a script of another name (its --section).
SCRIPTS = {"retracing_cifar": "retracing"}


def _sections() -> dict[str, str]:
    return dict(SECTION.findall(DOCS.read_text()))


def test_every_section_is_closed_and_every_results_file_shown():
    text = DOCS.read_text()
    begun = re.findall(r"<!-- BEGIN (\S+) -->", text)
    assert begun and sorted(begun) == sorted(_sections()), "a BEGIN without its END"
    assert len(set(begun)) == len(begun), "a section twice"
    shown = set(begun)
    assert {p.stem for p in RESULTS.glob("*.json")} <= shown, "a results file with no section"


@pytest.mark.parametrize("section", sorted(_sections()))
def test_section_is_its_results_rendered(section, load_benchmark):
    path = RESULTS / f"{section}.json"
    assert path.exists(), f"{section}: no {path.relative_to(ROOT)}; run its benchmark"
    bench = load_benchmark(SCRIPTS.get(section, section))
    rendered = bench.render(json.loads(path.read_text())).rstrip()
    assert rendered == _sections()[section], (
        f"docs/benchmarks.md section {section} is not {path.relative_to(ROOT)} rendered; "
        f"regenerate it with its script's --render-only --write-docs")


@pytest.mark.parametrize("section", sorted(_sections()))
def test_render_only_runs_nothing(section, load_benchmark, capsys):
    path = RESULTS / f"{section}.json"
    if not path.exists():
        pytest.skip(f"no {path.name} (failed above)")
    bench = load_benchmark(SCRIPTS.get(section, section))
    results = bench.main(["--render-only", "--json", str(path)])
    assert results == json.loads(path.read_text())
    assert _sections()[section] in capsys.readouterr().out


def test_a_run_writes_the_file_it_renders(load_benchmark, tmp_path, monkeypatch, capsys):
    """The shared skeleton of benchmarks/_report.py (parse, record, clock, finish) end to
    end, on train_throughput with its measurements replaced by the committed rows: the file
    written has the committed file's keys and the command that made it, the section printed
    is that file rendered, and a --quick run without --json writes no file."""
    bench = load_benchmark("train_throughput")
    path = RESULTS / "train_throughput.json"
    committed_text = path.read_text()
    committed = json.loads(committed_text)
    monkeypatch.setattr(bench, "load_mnist", lambda split: (
        np.zeros((2560, 28, 28, 1), np.float32), np.zeros(2560, np.int64)))
    monkeypatch.setattr(bench, "bench_variant", lambda *a: committed["throughput"][0])
    monkeypatch.setattr(bench, "bench_pgd", lambda *a: committed["pgd"])
    out = tmp_path / "results.json"
    argv = ["--quick", "--variants", "A", "--json", str(out)]
    results = bench.main(argv)
    on_disk = json.loads(out.read_text())
    assert on_disk == json.loads(json.dumps(results))
    assert list(on_disk) == list(committed)
    assert on_disk["command"] == shlex.join(["python", "benchmarks/train_throughput.py", *argv])
    assert on_disk["config"]["quick"] and on_disk["config"]["n_images"] == 20 * 128
    assert "gpus" in on_disk["machine"] and "tfbnn" in on_disk["versions"]
    printed = capsys.readouterr()
    assert bench.render(on_disk) in printed.out and f"wrote {out}" in printed.err

    bench.main(["--quick", "--variants", "A"])
    assert "wrote" not in capsys.readouterr().err
    assert path.read_text() == committed_text


def test_docs_say_which_test_images_a_run_measured(load_benchmark):
    """A run on a class-ordered split (the CIFAR stand-in) draws its images with a fixed seed
    (`tfbnn.data.first_examples`) and its section says so; older runs read "first n"."""
    report = load_benchmark("_report")
    assert report.test_images(500, False, "MNIST") == "first 500 MNIST test images"
    assert report.test_images(500, None) == "first 500 test images"
    assert report.test_images(500, True) == (
        "500 test images drawn with a fixed seed from the class-ordered split")
