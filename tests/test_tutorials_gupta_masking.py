"""The Gupta & Ajanthan masking tutorials (Table 1 / Figures 1-3) run end to end, tiny.

Each test points the model cache (TFBNN_CACHE) at a temporary folder shared by this
module (the tiny A and B models are trained once), runs the tutorial's ``main`` on a
few test images, checks the JSON, the summary and its verdict, the PNGs, and that a
second call resumes: every attack is replaced by one that raises, so nothing may be
recomputed. The verdict rules are also checked on made-up numbers.
"""

import json

import pytest

import tfbnn  # noqa: F401
from tfbnn import attacks

TINY = {"k1": 4, "epochs": 1, "train_size": 256}
VERDICTS = ("reproduced", "not reproduced", "refuted", "not comparable")


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
    assert s["verdict"] in VERDICTS and "Rule" in s["why"]
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
        "A": {"pgd": {"1": {"accuracy": 0.0}, "20": {"accuracy": 0.0}}, "checks": {}},
        "B": {"pgd": {"1": {"accuracy": 0.5}, "20": {"accuracy": 0.3}}, "checks": masked}}}
    assert module.judge(results)[0] == "reproduced"
    results["models"]["B"]["pgd"]["20"]["accuracy"] = 0.0
    assert module.judge(results)[0] == "not reproduced"
    del results["models"]["A"]
    assert module.judge(results)[0] == "not comparable"


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

    def results(pgd, njs):
        rates = {"PGD": {"0.1": {"flip_rate": pgd[0]}, "0.3": {"flip_rate": pgd[1]}},
                 "PGD++ NJS": {"0.1": {"flip_rate": njs[0]}, "0.3": {"flip_rate": njs[1]}}}
        return {"config": cfg, "models": {"bnn": {"attacked": 1000, "clean_accuracy": 0.95,
                                                  "flip_rate": rates}}}

    assert module.judge(results([0.2, 0.9], [0.5, 0.9]))[0] == "reproduced"
    assert module.judge(results([0.2, 0.9], [0.2, 0.9]))[0] == "not reproduced"
    assert module.judge(results([0.5, 0.9], [0.6, 0.7]))[0] == "not reproduced"


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

    def results(pgd, pp):
        return {"config": cfg, "models": {"B": {
            "pgd": {"0.1": {"accuracy": pgd[0]}, "0.25": {"accuracy": pgd[1]}},
            "plusplus": {"NJS": {"accuracy": pp}, "HNS": {"accuracy": pp + 0.1}}}}}

    assert module.judge(results([0.3, 0.2], 0.0))[0] == "reproduced"
    assert module.judge(results([0.3, 0.0], 0.0))[0] == "not reproduced"
    assert module.judge(results([0.3, 0.2], 0.2))[0] == "not reproduced"
