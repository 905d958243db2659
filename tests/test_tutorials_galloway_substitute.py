"""The Table 4 substitute black-box tutorial runs end to end at a tiny scale.

The model cache (TFBNN_CACHE) points at a temporary folder; two tiny oracles (the
deterministic A and the stochastic S, k1 = 4, one epoch on 256 images) are attacked by
a substitute trained for 2 rounds of 2 epochs from 30 held-out images, on 64 test
images. Checked: the JSON, the summary and its verdict, that a second call resumes
without recomputing anything (the attack is replaced by one that raises), and the
verdict rule on made-up numbers.
"""

import json

import pytest

import tfbnn  # noqa: F401

TINY = {"k1": 4, "epochs": 1, "train_size": 256, "holdout": 30, "rounds": 2,
        "sub_epochs": 2, "n": 64, "seeds": [0, 1], "draws": 3}


@pytest.fixture()
def substitute(tutorial):
    return tutorial("galloway2018_substitute")


def _forbid(monkeypatch, module):
    def boom(*args, **kwargs):
        raise AssertionError("a resumed run recomputed an attack or trained a model")

    for name in ("substitute_blackbox_attack", "accuracy_over_draws", "trained_model"):
        monkeypatch.setattr(module, name, boom)


def test_substitute_tiny(substitute, tmp_path, monkeypatch):
    module = substitute
    out = tmp_path / "sub.json"
    config = {**TINY, "oracles": ["A", "S"], "out": str(out)}
    result = module.main(config)
    assert set(result["oracles"]) == {"A", "S"}
    assert "oracles" not in result["config"] and result["config"]["n"] == 64
    for name, entry in result["oracles"].items():
        assert set(entry["runs"]) == {"0", "1"}
        for run in entry["runs"].values():
            assert run["sizes"] == [30, 60] and run["oracle_queries"] == 60
            assert run["lambdas"] == [-0.1]
            assert 0 <= run["transfer_accuracy"] <= 1 and 0 <= run["clean_accuracy"] <= 1
            assert run["draws"] == (3 if name == "S" else 1)
        assert entry["transfer_accuracy"] == pytest.approx(
            sum(r["transfer_accuracy"] for r in entry["runs"].values()) / 2)
        assert entry["spec"]["k1"] == 4 and entry["spec"]["adversary"] is None
    assert "transfer_std_over_draws" in result["oracles"]["S"]["runs"]["0"]
    s = result["summary"]
    assert s["verdict"] == "not comparable"  # k1=4 is no column of Table 4
    assert "Rule" in s["why"] and "no k1=4 column" in s["why"]
    assert len(s["table"]) == 2 + 2 and s["table"][2].startswith("| A | — |")
    assert "--oracles A S" in s["command"] and "MNIST" in s["tfbnn_scale"]
    assert json.loads(out.read_text())["summary"] == s

    # Resume: the same config, and a run asking for a subset, recompute nothing.
    trained = sorted((tmp_path / "cache").glob("*.keras"))
    assert len(trained) == 2
    _forbid(monkeypatch, module)
    assert module.main(config)["oracles"] == result["oracles"]
    again = module.main({**config, "oracles": ["S"]})
    assert again["oracles"] == result["oracles"]  # earlier oracles kept in the summary
    assert sorted((tmp_path / "cache").glob("*.keras")) == trained


def test_specs_shared_with_fgsm_tables(substitute):
    module = substitute
    import galloway2018_fgsm_tables as tables

    cfg = {**module.DEFAULT, "pgd_full": False}
    table_cfg = {**tables.DEFAULT}
    import _zoo

    for name in ("A", "A+", "C+*"):  # the same cached model (Table 1/2's first seed)
        assert _zoo.spec_key(module.spec(name, cfg)) == _zoo.spec_key(tables.spec(name, table_cfg))
    spec = module.spec("S+*", cfg)
    assert spec["variant"] == "S" and spec["adversary"] == tables.ADVERSARIES["+*"]


def test_verdict_rule(substitute):
    module = substitute

    def results(**acc):
        """Stored results with each oracle at the given transfer accuracy for every seed."""
        return {"config": {**module.DEFAULT}, "oracles": {
            k.replace("p", "+").replace("s", "*"): {
                "runs": {str(seed): {"transfer_accuracy": v} for seed in range(4)},
                "transfer_accuracy": v, "clean_accuracy": 0.99, "agreement": 0.6}
            for k, v in acc.items()}}

    def items(judged):
        return {what: outcome for check in judged["checks"] for what, outcome in check["items"]
                if outcome != "not run"}

    # Paper k1=64: A 79 > B 46, A 79 > C 51, A 79 > A+ 73, C+ 65 > C 51.
    judged = module.judge(results(A=0.8, B=0.5, C=0.55, Ap=0.7, Cp=0.6))
    assert judged["verdict"] == "reproduced" and len(items(judged)) == 4
    judged = module.judge(results(A=0.8, B=0.5, C=0.55, Ap=0.85, Cp=0.6))
    assert judged["verdict"] == "refuted" and items(judged)["A > A+"] == "opposite"
    # PGD comparisons count once their oracles are run: C+* 94.7 > S+* 56.
    judged = module.judge(results(C=0.5, Cps=0.9, Sps=0.95))
    assert judged["verdict"] == "refuted" and items(judged) == {
        "C+* > C": "holds", "C+* > S+*": "opposite"}
    summary = module.summarize(results(A=0.8, Aps=0.95, Cps=0.94))
    assert summary["verdict"] == "reproduced"
    assert "A+* - C+* = +1.1 points in the paper, +1.0" in summary["why"]
    assert module.judge(results(B=0.5, S=0.2))["verdict"] == "not comparable"  # no pair run
    bad = results(A=0.8, B=0.5)
    bad["config"]["k1"] = 32
    assert module.judge(bad)["verdict"] == "not comparable"
