"""The Gupta & Ajanthan masking tutorials (Table 1 / Figures 1-3) run end to end, tiny.

Each test points the model cache (TFBNN_CACHE) at a temporary folder shared by this
module (the tiny A and B models are trained once), runs the tutorial's ``main`` on a
few test images, checks the JSON, the summary and its verdict, the PNGs, and that a
second call resumes: every attack is replaced by one that raises, so nothing may be
recomputed. The verdict rules are also checked on made-up numbers (more cases in
test_rules_gupta_masking.py).
"""

import json

import pytest

import tfbnn  # noqa: F401
from tfbnn import attacks

TINY = {"k1": 4, "epochs": 1, "train_size": 256}


@pytest.fixture()
def tutorial(module_tutorial):  # the tiny A and B models train once for this module
    return module_tutorial


def _forbid_attacks(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a resumed run recomputed an attack")

    for name in ("projected_gradient_descent", "pgd_plus_plus", "fast_gradient_method"):
        monkeypatch.setattr(attacks, name, boom)


def _check_summary_and_resume(module, config, result, out, monkeypatch):
    """The summary is complete and saved; a second call recomputes no attack."""
    s = result["summary"]
    assert s["verdict"] in module._verdicts.VERDICTS and "Rule" in s["why"]
    assert any(line.startswith("| ") for line in s["table"])
    assert s["paper_scale"] and "MNIST" in s["tfbnn_scale"]
    assert s["plots"] and all((out.parent / p).stat().st_size > 0 for p in s["plots"])
    assert json.loads(out.read_text())["summary"] == s
    _forbid_attacks(monkeypatch)
    assert module.main(config)["models"] == result["models"]


def test_masking_checks(tutorial, tmp_path, monkeypatch):
    module = tutorial("gupta2022_masking_checks")
    out = tmp_path / "masking.json"
    config = {**TINY, "models": ["A", "B"], "n": 16, "batch": 8, "restarts": [1, 2],
              "out": str(out)}
    result = module.main(config)
    a, b = result["models"]["A"], result["models"]["B"]
    assert set(a["pgd"]) == {"1", "2"} and set(a["checks"]) == {"iterations", "radius"}
    assert set(b["checks"]) == {"iterations", "radius", "transfer"}
    for entry in (a, b):  # 2 restarts keep the worst case, restart 0 is the 1-restart run
        assert entry["pgd"]["2"]["accuracy"] <= entry["pgd"]["1"]["accuracy"] <= \
            entry["clean_accuracy"]
        assert all(c["verdict"] in ("PASS", "WARN") for c in entry["checks"].values())
    assert len(b["checks"]["iterations"]["data"]["accuracy"]) == 6
    assert b["checks"]["radius"]["data"]["eps"][-1] == 1.0
    _check_summary_and_resume(module, config, result, out, monkeypatch)


def test_masking_verdict_rule(tutorial):
    module = tutorial("gupta2022_masking_checks")
    cfg = {**module.DEFAULT, "n": 100, "restarts": [1, 20]}
    masked = {"iterations": {"verdict": "WARN"}, "radius": {"verdict": "PASS"},
              "transfer": {"verdict": "WARN"}}
    results = {"config": cfg, "models": {
        "A": {"clean_accuracy": 0.9, "pgd": {"1": {"accuracy": 0.0}, "20": {"accuracy": 0.0}},
              "checks": {}},
        "B": {"clean_accuracy": 0.9, "pgd": {"1": {"accuracy": 0.5}, "20": {"accuracy": 0.3}},
              "checks": masked}}}

    def verdict():
        return module.summarize(results, [])["verdict"]

    assert verdict() == "reproduced"
    results["models"]["B"]["checks"]["transfer"]["verdict"] = "PASS"
    assert verdict() == "not reproduced"
    results["models"]["A"]["pgd"]["1"]["accuracy"] = 0.8  # A above B beyond the noise
    assert verdict() == "refuted"
    results["models"] = {"A": results["models"]["A"]}  # no binary model: nothing to judge
    assert verdict() == "not comparable"


def test_mlp_flip_rate(tutorial, tmp_path, monkeypatch, module_cache):
    module = tutorial("gupta2022_mlp_flip_rate")
    out = tmp_path / "mlp.json"
    config = {"epochs": 1, "train_size": 2048, "models": ["fp", "bnn"], "n": 32,
              "eps": [0.05, 1.0], "out": str(out)}
    result = module.main(config)
    for entry in result["models"].values():
        assert set(entry["flip_rate"]) == {"PGD", "PGD++ NJS", "PGD++ HNS"}
        for rates in entry["flip_rate"].values():
            assert set(rates) == {"0.05", "1.0"}
            assert all(0 <= r["flip_rate"] <= 1 for r in rates.values())
    assert result["models"]["bnn"]["attacked"] > 0
    assert result["models"]["bnn"]["flip_rate"]["PGD"]["1.0"]["flip_rate"] >= 0.9
    trained = sorted(module_cache.glob("mlp-*.keras"))
    assert len(trained) == 2
    _check_summary_and_resume(module, config, result, out, monkeypatch)
    assert sorted(module_cache.glob("mlp-*.keras")) == trained


def test_mlp_verdict_rule(tutorial):
    module = tutorial("gupta2022_mlp_flip_rate")
    cfg = {**module.DEFAULT, "eps": [0.1, 0.3]}

    def summary(pgd, njs, other="PGD"):
        rates = {other: {"0.1": {"flip_rate": pgd[0]}, "0.3": {"flip_rate": pgd[1]}},
                 "PGD++ NJS": {"0.1": {"flip_rate": njs[0]}, "0.3": {"flip_rate": njs[1]}}}
        return module.summarize({"config": {**cfg, "attacks": [other, "PGD++ NJS"]},
                                 "models": {"bnn": {"attacked": 1000, "clean_accuracy": 0.95,
                                                    "njs_beta1": 0.01, "flip_rate": rates}}},
                                [])

    # The paper compares PGD++ with IPROP: against plain PGD it is a finding, no verdict.
    better = summary([0.2, 0.9], [0.5, 0.95])
    assert better["verdict"] == "not comparable"
    assert "the finding reads 'reproduced'" in better["why"]
    assert "the finding reads 'refuted'" in summary([0.5, 0.9], [0.2, 0.7])["why"]
    assert summary([0.2, 0.9], [0.5, 0.95], other="IPROP")["verdict"] == "reproduced"
    assert summary([0.5, 0.9], [0.2, 0.7], other="IPROP")["verdict"] == "refuted"


def test_step_size(tutorial, tmp_path, monkeypatch):
    module = tutorial("gupta2022_step_size")
    out = tmp_path / "step.json"
    config = {**TINY, "models": ["A", "B"], "n": 16, "batch": 8,
              "step_fractions": [0.05, 0.25, 2.0], "out": str(out)}
    result = module.main(config)
    for entry in result["models"].values():
        assert set(entry["pgd"]) == {"0.05", "0.25", "2.0"}
        assert set(entry["plusplus"]) == {"NJS", "HNS"}
        assert all(0 <= r["accuracy"] <= entry["clean_accuracy"]
                   for r in [*entry["pgd"].values(), *entry["plusplus"].values()])
    _check_summary_and_resume(module, config, result, out, monkeypatch)


def test_step_size_verdict_rule(tutorial):
    module = tutorial("gupta2022_step_size")
    cfg = {**module.DEFAULT, "n": 1000, "step_fractions": [0.1, 0.25]}

    def verdict(pgd, pp):
        return module.summarize({"config": cfg, "models": {"B": {
            "clean_accuracy": 0.98,
            "pgd": {"0.1": {"accuracy": pgd[0]}, "0.25": {"accuracy": pgd[1]}},
            "plusplus": {"NJS": {"accuracy": pp}, "HNS": {"accuracy": pp + 0.1}}}}},
            [])["verdict"]

    assert verdict([0.3, 0.2], 0.0) == "reproduced"
    assert verdict([0.3, 0.0], 0.0) == "not comparable"  # both at 0 %: no difference shows
    assert verdict([0.3, 0.2], 0.2) == "inconclusive"  # a tie inside the noise
    assert verdict([0.3, 0.05], 0.2) == "refuted"
