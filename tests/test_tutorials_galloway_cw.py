"""tutorials/galloway2018_cw_jsma.py end to end at a tiny scale, and its verdict rule.

The model cache (TFBNN_CACHE) and the outputs point at a temporary folder; the models
are k1 = 4, one epoch on 256 images, the attacks a few iterations on 2 images x 9 targets.
A second call must resume from the written JSON without training or attacking again.
"""

import json

import numpy as np
import pytest

TINY = {"k1": 4, "epochs": 1, "train_size": 256, "n": 2, "iterations": [2, 3],
        "score_draws": 2, "eot_draws": 2, "jsma_gamma": 0.02, "pgd_iters": 1,
        "pgd_eps": [0.1], "bootstrap": 50}


@pytest.fixture()
def module(tutorial):
    return tutorial("galloway2018_cw_jsma")


def test_cw_jsma_tiny_and_resume(module, tmp_path, monkeypatch):
    out = tmp_path / "cw.json"
    config = {**TINY, "out": str(out)}
    result = module.main(config)
    pairs = 2 * 9

    assert set(result["models"]) == {"A", "B", "B+", "B+*", "S"}
    assert result["models"]["S"]["draws"] == 2 and result["models"]["A"]["draws"] == 1
    assert result["models"]["B+"]["spec"]["adversary"]["kind"] == "fgsm"
    assert result["models"]["B+*"]["spec"]["adversary"]["kind"] == "pgd"
    assert set(result["cw"]) == {"A", "B", "B+", "B+*", "S", "S EOT-CW"}
    for label, entries in result["cw"].items():
        assert set(entries) == {"2", "3"}
        for entry in entries.values():
            assert entry["pairs"] == pairs and len(entry["per_image_accuracy"]) == 2
            assert 0 <= entry["accuracy"] <= 1 and 0 <= entry["target_success"] <= 1
            assert entry["mean_l2_all"] >= 0
            assert entry["draws"] == (2 if label.startswith("S") else 1)
    assert result["cw"]["S EOT-CW"]["3"]["eot_draws"] == 2
    assert set(result["jsma"]) == {"A", "B"}
    for entry in result["jsma"].values():
        # gamma 0.02 of 784 pixels: at most 7 pair steps, 14 pixels
        assert 0 <= entry["fraction_changed_all"] <= 14 / 784 + 1e-6
    pgd = result["eot_pgd"]["eps=0.1"]
    assert set(pgd) == {"PGD (no EOT)", "EOT-PGD", "EOT-PGD++ NJS", "EOT-PGD++ HNS"}
    assert all(e["max_linf"] <= 0.1 + 1e-5 and e["images"] == 2 for e in pgd.values())

    summary = result["summary"]
    assert summary["verdict"] == "not comparable"  # k1 = 4 is no column of Table 3
    assert summary["table"][0].startswith("| quantity |")
    assert summary["plots"] == ["cw.png"] and (tmp_path / "cw.png").stat().st_size > 0
    assert json.loads(out.read_text())["summary"] == summary

    trained = sorted((tmp_path / "cache").glob("*.keras"))
    assert len(trained) == 5

    def fail(*args, **kwargs):
        raise AssertionError("resumed run recomputed an attack")

    for name in ("carlini_wagner_l2", "jacobian_saliency_map_method",
                 "projected_gradient_descent", "pgd_plus_plus"):
        monkeypatch.setattr(module.attacks, name, fail)
    monkeypatch.setattr(module, "trained_model", fail)
    again = module.main(config)
    for section in ("models", "cw", "jsma", "eot_pgd"):
        assert again[section] == result[section]
    assert sorted((tmp_path / "cache").glob("*.keras")) == trained


def _per_image(**acc):
    """Per-image accuracies: 40 images, each at the given accuracy +- a little noise."""
    rng = np.random.default_rng(0)
    return {k.replace("_plus", "+").replace("_", " ").replace("S EOT", "S EOT-CW"):
            list(np.clip(v + rng.normal(0, 0.02, 40), 0, 1)) for k, v in acc.items()}


def _judge(module, per_image, k1=64):
    """The verdict and its explanation of per-image accuracies at 100 iterations
    ("cw <label>" / "jsma <model>" keys), as stored results of the run's k1."""
    results = {"config": {**module.DEFAULT, "k1": k1, "bootstrap": 200},
               "cw": {k[3:]: {"100": {"per_image_accuracy": v}}
                      for k, v in per_image.items() if k.startswith("cw ")},
               "jsma": {k[5:]: {"per_image_accuracy": v}
                        for k, v in per_image.items() if k.startswith("jsma ")}}
    judged = module.judge(results)
    return judged["verdict"], judged["why"]


@pytest.mark.parametrize("eot, a_cw, verdict", [
    (0.70, 0.0, "reproduced"),
    (0.20, 0.0, "refuted"),  # S's accuracy falls below the paper's edge under EOT-CW
    (0.70, 0.5, "refuted"),  # A more robust than B+: P1 goes the other way
])
def test_verdict_rule(module, eot, a_cw, verdict):
    numbers = _per_image(cw_A=a_cw, cw_B=0.4, cw_B_plus=0.3, cw_S=0.7, cw_S_EOT=eot,
                         jsma_A=0.1, jsma_B=0.3)
    assert set(numbers) == {"cw A", "cw B", "cw B+", "cw S", "cw S EOT-CW", "jsma A", "jsma B"}
    got, why = _judge(module, numbers)
    assert got == verdict and "Rule" in why


def test_verdict_checks_the_pgd_trained_b_plus_when_measured(module):
    numbers = _per_image(cw_A=0.0, cw_B=0.4, cw_B_plus=0.3, cw_S=0.7, cw_S_EOT=0.7,
                         jsma_A=0.1, jsma_B=0.3)
    verdict, why = _judge(module, numbers)
    assert verdict == "reproduced" and "CW B+* - A > 0: not run" in why
    numbers["cw B+*"] = _per_image(cw_A=0.0)["cw A"][::-1]  # no better than A, own noise
    verdict, why = _judge(module, numbers)
    assert verdict == "inconclusive" and "CW B+* - A > 0: inconclusive" in why


def test_verdict_not_comparable(module):
    assert _judge(module, {})[0] == "not comparable"
    assert _judge(module, _per_image(cw_A=0.0), k1=32)[0] == "not comparable"  # no S32
    at_zero = [0.0] * 40  # A and B at 0 on every image: a tie counts for nothing
    assert _judge(module, {"cw A": at_zero, "cw B": at_zero})[0] == "not comparable"


def test_stale_model_results_are_dropped(module):
    import _common

    config = _common.resolve(dict(TINY), module.DEFAULT, module.FULL)
    stale = {**module.spec("B+*", config), "last_epochs": 5}  # another recipe's B+*
    results = {"models": {"B+*": {"spec": stale}}, "cw": {"B+*": {"2": {}, "3": {}}},
               "jsma": {}, "eot_pgd": {}}
    todo = module.todo(results, config, "B+*")
    assert ("models", "B+*", None) in todo and ("cw", "B+*", 3) in todo
    assert "B+*" not in results["cw"] and "B+*" not in results["models"]
    current = {"models": {"B+*": {"spec": module.spec("B+*", config)}},
               "cw": {"B+*": {"2": {}, "3": {}}}, "jsma": {}, "eot_pgd": {}}
    assert module.todo(current, config, "B+*") == []
