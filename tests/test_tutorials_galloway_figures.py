"""The Galloway Figure 3/4 (AND toy) and Figure 5 (logits) tutorials run end to end, tiny.

Same pattern as tests/test_tutorials.py: the model cache (TFBNN_CACHE) and the outputs
go to a temporary folder, ``main(config)`` runs at a tiny scale, the JSON's structure,
summary and plots are checked, and a second call must resume from the written results
without recomputing anything.
"""

import json

TINY_MODEL = {"k1": 4, "epochs": 1, "train_size": 256}


def _check_summary(result, out):
    from _verdicts import VERDICTS  # tutorials/ is on sys.path once a tutorial is loaded

    s = result["summary"]
    assert s["verdict"] in VERDICTS and s["why"].startswith("Rule (")
    assert f"Verdict: {s['verdict']}." in s["why"]
    assert s["table"][0].startswith("| ") and s["plots"]
    for name in s["plots"]:
        assert (out.parent / name).stat().st_size > 1000
    assert json.loads(out.read_text())["summary"] == s


def _forbid(monkeypatch, module, *names):
    def boom(*args, **kwargs):
        raise AssertionError("recomputed on resume")

    for name in names:
        monkeypatch.setattr(module, name, boom)


def test_and_toy(tutorial, tmp_path, monkeypatch):
    module = tutorial("galloway2018_and_toy")
    out = tmp_path / "and.json"
    config = {"seeds": [0], "train_size": 64, "epochs": 5, "grid": 11, "out": str(out)}
    result = module.main(config)
    assert set(result["models"]) == {"fp-2", "q-2", "fp-4", "q-4"}
    for entry in result["models"].values():
        assert set(module.METRICS) <= set(entry["median"])
        row = entry["seeds"]["0"]
        assert 0.0 <= row["grid_accuracy"] <= 1.0 and row["weights"]
    assert result["summary"]["verdict"] != "not comparable"  # all four configurations ran
    _check_summary(result, out)
    assert module.resummarize(result, out) == result["summary"]  # the --rejudge path
    _forbid(monkeypatch, module, "train")
    again = module.main(config)  # resumes: no training, same numbers
    assert again["models"] == result["models"]


def test_logits(tutorial, tmp_path, monkeypatch):
    module = tutorial("galloway2018_logits")
    out = tmp_path / "logits.json"
    config = {**TINY_MODEL, "models": ["A", "B"], "n": 16, "batch": 8,
              "temperatures": [0.6, 0.7, 1.0], "eps_max": 0.2, "eps_step": 0.1,
              "far_eps": 0.2, "out": str(out)}
    result = module.main(config)
    eps = result["eps"]
    assert eps == [-0.2, -0.1, 0.0, 0.1, 0.2]
    for entry in result["models"].values():
        assert set(entry["temperatures"]) == {"0.6", "0.7", "1.0"}
        row = entry["temperatures"]["1.0"]
        assert len(row["curves"]["accuracy"]) == len(eps) and len(row["side"]) == 16
        assert row["curves"]["accuracy"][eps.index(0.0)] == entry["clean"]["accuracy"]
        assert 0.0 <= entry["flip_rate"] <= 1.0 and "flip_rate_0.6_0.7" in entry
    assert len(result["summary"]["table"]) > 10
    _check_summary(result, out)
    assert module.resummarize(result, out) == result["summary"]  # the --rejudge path
    trained = sorted((tmp_path / "cache").glob("*.keras"))
    assert len(trained) == 2
    import _zoo

    _forbid(monkeypatch, module, "run_temperature")
    _forbid(monkeypatch, _zoo, "trained_model")
    again = module.main(config)  # resumes: no model loaded, no attack run
    assert again["models"] == result["models"]
    assert sorted((tmp_path / "cache").glob("*.keras")) == trained
