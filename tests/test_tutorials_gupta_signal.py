"""The Gupta & Ajanthan signal-propagation, rho-ablation and timing tutorials run end to
end at a tiny scale (k1 = 4, one epoch on 256 images, a handful of test images).

Each test points the model cache (TFBNN_CACHE) at a folder shared by this module's tests
(so the tiny models train once) and the outputs at a temporary folder, checks the JSON it
wrote (a summary with a computed verdict, PNGs where the tutorial draws figures), and
calls ``main`` again with the computing functions replaced by ones that fail: the second
call must resume from the saved results, neither recomputing nor retraining.
"""

import json
from pathlib import Path

import pytest

TINY_MODEL = {"k1": 4, "epochs": 1, "train_size": 256}


@pytest.fixture()
def tutorial(module_tutorial):  # the tiny models train once for this module
    return module_tutorial


def _fail(*args, **kwargs):
    raise AssertionError("recomputed instead of resuming")


def _tutorial_name(summary: dict) -> str:
    """The tutorial (and rule file) a summary's command runs."""
    return summary["command"].split()[1].removeprefix("tutorials/").removesuffix(".py")


def _check_summary(result, out: Path, plots: int):
    import _common

    s = result["summary"]
    assert s["verdict"] in _common.VERDICTS
    assert s["why"].startswith("Rule (")  # the committed rule file, named and applied
    assert f"tutorials/paper_numbers/rules/{_tutorial_name(s)}.json" in s["why"]
    assert any(line.startswith("| ") and "paper" in line and "tfbnn" in line
               for line in s["table"])
    assert all("||" not in line for line in s["table"] if line.startswith("|"))  # Markdown-safe
    assert len(s["plots"]) == plots
    for name in s["plots"]:
        assert (out.parent / name).stat().st_size > 0
    assert json.loads(out.read_text())["summary"] == s


def _resume(module, monkeypatch, config, names, result, cache):
    trained = sorted(cache.glob("*.keras"))
    for name in names:
        monkeypatch.setattr(module, name, _fail)
    again = module.main(config)
    assert again["models"] == result["models"]
    assert again["summary"]["verdict"] == result["summary"]["verdict"]
    assert sorted(cache.glob("*.keras")) == trained


def test_signal_propagation(tutorial, tmp_path, monkeypatch, module_cache):
    module = tutorial("gupta2022_signal_propagation")
    out = tmp_path / "signal.json"
    config = {**TINY_MODEL, "models": ["A", "W"], "n": 12, "sweep_n": 6, "beta_points": 9,
              "out": str(out)}
    result = module.main(config)
    for name in ("A", "W"):
        entry = result["models"][name]
        assert set(entry["table13"]["stats"]) == {"Orig.", "NJS", "HNS"}
        stats = entry["table13"]["stats"]["Orig."]
        assert set(stats) == set(module.STATS) and 0 < stats["sign_grad_norm"] <= 28.0
        sweep = entry["sweep"]
        assert len(sweep["betas"]) == 9 and set(sweep["curves"]) == set(module.CURVES)
        assert all(len(c["median"]) == 9 for c in sweep["curves"].values())
    _check_summary(result, out, plots=2)
    _resume(module, monkeypatch, config, ["table13", "sweep"], result, module_cache)


def test_rho_ablation(tutorial, tmp_path, monkeypatch, module_cache):
    module = tutorial("gupta2022_rho_ablation")
    out = tmp_path / "rho.json"
    config = {**TINY_MODEL, "models": ["B"], "adv_models": ["W"], "n": 16, "batch": 8,
              "iters": 2, "njs_rhos": [1e-5, 0.2], "prop1_rhos": [1e-15, 0.5], "out": str(out)}
    result = module.main(config)
    assert set(result["models"]) == {"B", "W*"}
    assert result["models"]["W*"]["model"]["adversary"]["kind"] == "pgd"
    attacks = result["models"]["B"]["attacks"]
    assert set(attacks) == {"PGD", "PGD++ NJS rho=1e-05", "PGD++ NJS rho=2e-01",
                            "PGD++ Prop1 rho=1e-15", "PGD++ Prop1 rho=5e-01"}
    assert all(0 <= a["accuracy"] <= 1 for a in attacks.values())
    assert attacks["PGD++ Prop1 rho=1e-15"]["diagnostic"] > attacks["PGD++ Prop1 rho=5e-01"][
        "diagnostic"]  # a smaller rho allows a larger beta (Proposition 1)
    _check_summary(result, out, plots=1)
    import _common

    monkeypatch.setattr(_common, "attack_accuracy", _fail)  # every attack is scored by it
    _resume(module, monkeypatch, config, [], result, module_cache)


def test_timing(tutorial, tmp_path, monkeypatch, module_cache):
    module = tutorial("gupta2022_timing")
    out = tmp_path / "timing.json"
    config = {**TINY_MODEL, "models": ["B"], "n": 8, "batch1_n": 2, "repeats": 2,
              "batch1_repeats": 1, "iters": 2, "out": str(out)}
    result = module.main(config)
    entry = result["models"]["B"]
    for setting in ("batch", "batch1"):
        assert set(entry[setting]) == set(module.attack_table({**module.DEFAULT, **config}, 1.0))
        assert all(row["median_s"] > 0 and len(row["times_s"]) == (2 if setting == "batch" else 1)
                   for row in entry[setting].values())
    assert entry["beta1"] > 0 and entry["beta1_seconds"] > 0
    _check_summary(result, out, plots=0)
    _resume(module, monkeypatch, config, ["time_attack", "time_beta1"], result, module_cache)
