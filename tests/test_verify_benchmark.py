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


def _tiny_friendly(name, epochs, seed):
    """A small ternary MLP trained briefly with the margin penalty: a stand-in for the
    tutorial's cached networks."""
    import tf_keras as keras

    from tfbnn import data, models, training
    from tfbnn.verify import friendly

    keras.utils.set_random_seed(seed)
    (x, y), _ = data.load_mnist()
    model = models.binary_mlp((16, 16), weights="ternary")
    net = friendly.MarginTrainer(model, weight=3.0, eps=0.02, flip=0.3)
    training.compile_model(net)
    net.fit(x[:2048], y[:2048], epochs=1, batch_size=128, verbose=0)
    return model, f"tiny-{name}"


def test_ablation_runs_every_configuration_agrees_and_resumes(load_benchmark, tmp_path,
                                                              monkeypatch):
    bench = load_benchmark("verify_ablation")
    monkeypatch.setattr(bench, "load_network", _tiny_friendly)
    out = tmp_path / "ablation.json"
    argv = ["--models", "mlp5x100-friendly", "--n", "4", "--eps", "0.02", "--time-limit",
            "1", "--json", str(out)]
    first = bench.main(argv)
    entry = first["models"]["mlp5x100-friendly"]
    assert list(entry["configs"]) == list(bench.CONFIGS) and entry["disagreements"] == 0
    for label, cell in entry["configs"].items():
        assert sum(cell["counts"].values()) == 4 == len(cell["status"]), label
        assert cell["options"] == bench.CONFIGS[label]
        if not cell["options"]["attack"]:
            assert cell["found_by"]["attack"] == 0, label
    text = bench.render(first)
    assert text.count("| mlp5x100-friendly |") == len(bench.CONFIGS) + 1
    assert "| all | on / on / on |" in text and "| plain | off / off / off |" in text
    monkeypatch.setattr(bench, "measure", None)  # a resumed run solves nothing again
    assert bench.main(argv + ["--resume"])["models"] == json.loads(out.read_text())["models"]


def test_ablation_counts_certified_against_broken_as_a_disagreement(load_benchmark):
    bench = load_benchmark("verify_ablation")
    agree = {"a": {"status": ["certified", "unknown", "counterexample"]},
             "b": {"status": ["unknown", "unknown", "counterexample"]}}
    assert bench.disagreements(agree) == 0
    agree["c"] = {"status": ["counterexample", "certified", "counterexample"]}
    assert bench.disagreements(agree) == 1


@pytest.mark.parametrize("argv", [["--eps", "2"], ["--n", "0"], ["--configs", "plain", "all"],
                                  ["--time-limit", "0"]])
def test_ablation_refuses_bad_settings_before_work(load_benchmark, argv):
    bench = load_benchmark("verify_ablation")
    with pytest.raises(SystemExit):
        bench.parse_args(argv)
