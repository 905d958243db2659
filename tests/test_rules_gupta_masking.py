"""The verdict rules of the Gupta & Ajanthan masking tutorials (Table 1 / Figures 1-3), on
made-up numbers shaped like their results JSON.

For each rule file in tutorials/paper_numbers/rules/ (gupta2022_masking_checks,
gupta2022_mlp_flip_rate, gupta2022_step_size): a case that reproduces, one that fails, one
inside the noise, one where every countable item saturates, and the committed result
rejudged from its stored numbers alone gives the verdict stored with it. Nothing is
trained or attacked: each summary is computed from the dicts built here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parent.parent / "tutorials" / "results"
PAPER_LABELS = {"iterations": "WARN", "radius": "PASS", "transfer": "WARN"}


@pytest.fixture()
def masking(load_tutorial):
    return load_tutorial("gupta2022_masking_checks")


@pytest.fixture()
def mlp(load_tutorial):
    return load_tutorial("gupta2022_mlp_flip_rate")


@pytest.fixture()
def step(load_tutorial):
    return load_tutorial("gupta2022_step_size")


def _items(judged: dict) -> dict:
    """``what -> outcome`` of every item of a `_verdicts.judge` answer."""
    return dict(item for check in judged["checks"] for item in check["items"])


# --- Table 1 and Figure 1 (gupta2022_masking_checks) --------------------------------------

def _masking(module, pgd: dict, labels: dict | None = None, n: int = 500) -> dict:
    """Results with PGD accuracy (fractions) at 1 and 20 restarts per model, and Figure 1
    labels per binary model (the paper's by default; ``{}`` for checks not run)."""
    labels = {m: PAPER_LABELS for m in pgd if m != "A"} if labels is None else labels
    models = {m: {"clean_accuracy": 0.99,
                  "pgd": {"1": {"accuracy": one}, "20": {"accuracy": twenty}},
                  "checks": {name: {"verdict": label}
                             for name, label in labels.get(m, {}).items()}}
              for m, (one, twenty) in pgd.items()}
    return {"config": {**module.DEFAULT, "n": n}, "models": models}


def _judge(module, results):
    """The summary's verdict and the rule's items, from the same estimates."""
    v = module._verdicts
    judged = v.judge(v.load_rule(module.NAME), module.estimates(results), {})
    summary = module.summarize(results, [])
    assert summary["verdict"] == judged["verdict"] and summary["why"].startswith(judged["why"])
    return summary, _items(judged)


def test_masking_reproduced_when_bnns_beat_ref_and_the_labels_match(masking):
    results = _masking(masking, {"A": (0.05, 0.01), "B": (0.50, 0.40), "C": (0.30, 0.20)})
    summary, items = _judge(masking, results)
    assert summary["verdict"] == "reproduced"
    assert items["B PGD restarts=20 > A PGD restarts=20"] == "holds"
    assert items["C transfer check is WARN"] == "holds"
    assert items["W PGD restarts=1 > A PGD restarts=1"] == "not run"  # W not in this run
    assert "This is tfbnn's finding on MNIST CNNs" in summary["why"]


def test_masking_refuted_when_a_bnn_falls_below_ref(masking):
    results = _masking(masking, {"A": (0.384, 0.344), "B": (0.12, 0.036)})
    summary, items = _judge(masking, results)
    assert summary["verdict"] == "refuted"
    assert items["B PGD restarts=1 > A PGD restarts=1"] == "opposite"


def test_masking_not_reproduced_when_a_label_differs_from_the_caption(masking):
    labels = {"B": {**PAPER_LABELS, "transfer": "PASS"}}
    results = _masking(masking, {"A": (0.05, 0.01), "B": (0.50, 0.40)}, labels)
    summary, items = _judge(masking, results)
    assert summary["verdict"] == "not reproduced"
    assert items["B transfer check is WARN"] == "fails"
    assert items["B iterations check is WARN"] == "holds"


def test_masking_inconclusive_inside_the_binomial_noise(masking):
    # 41 % vs 40 % of 500 images: 1 point against a 2-standard-error band of about 6.
    results = _masking(masking, {"A": (0.40, 0.10), "B": (0.41, 0.30)})
    summary, items = _judge(masking, results)
    assert summary["verdict"] == "inconclusive"
    assert items["B PGD restarts=1 > A PGD restarts=1"] == "inconclusive"
    # The same gap on 100,000 images is beyond the noise.
    assert _judge(masking, _masking(masking, {"A": (0.40, 0.10), "B": (0.41, 0.30)},
                                    n=100000))[0]["verdict"] == "reproduced"


def test_masking_ties_at_zero_count_for_nothing(masking):
    # Every model at 0 % and no Figure 1 check run: nothing countable is left.
    results = _masking(masking, {"A": (0.0, 0.0), "B": (0.0, 0.0)}, labels={})
    summary, items = _judge(masking, results)
    assert summary["verdict"] == "not comparable"
    assert items["B PGD restarts=1 > A PGD restarts=1"] == "saturated"
    # A tie at 0 beside a refuting cell neither rescues nor changes it.
    results = _masking(masking, {"A": (0.40, 0.0), "B": (0.10, 0.0)}, labels={})
    summary, items = _judge(masking, results)
    assert items["B PGD restarts=20 > A PGD restarts=20"] == "saturated"
    assert summary["verdict"] == "refuted"


def test_masking_table_says_what_its_noise_is(masking):
    summary = masking.summarize(_masking(masking, {"A": (0.1, 0.1), "B": (0.5, 0.4)}), [])
    assert "no ± is shown" in summary["table"][0]
    assert "binomial standard error of 500 images" in summary["table"][0]
    assert summary["table"][-1].startswith("| paper, its BNNs") and "WARN" in summary["table"][-1]


# --- Figure 2 (gupta2022_mlp_flip_rate) ----------------------------------------------------

def _mlp(module, rates: dict, attacked: int = 1000) -> dict:
    """Results of the binary MLP with flip rates (fractions) per attack and bound."""
    eps = sorted({float(e) for per_eps in rates.values() for e in per_eps})
    flip_rate = {attack: {str(e): {"flip_rate": r} for e, r in per_eps.items()}
                 for attack, per_eps in rates.items()}
    return {"config": {**module.DEFAULT, "eps": eps, "attacks": list(rates)},
            "models": {"bnn": {"clean_accuracy": 0.95, "attacked": attacked,
                               "njs_beta1": 0.01, "flip_rate": flip_rate}}}


def test_mlp_without_iprop_is_not_comparable_and_pgd_is_only_a_finding(mlp):
    # PGD++ NJS far above PGD: under the old rule (PGD for IPROP) this was 'reproduced'.
    results = _mlp(mlp, {"PGD": {0.1: 0.2, 0.3: 0.5}, "PGD++ NJS": {0.1: 0.6, 0.3: 0.9}})
    summary, items = _judge(mlp, results)
    assert summary["verdict"] == "not comparable"
    assert items["bnn PGD++ NJS eps=0.1 > bnn IPROP eps=0.1"] == "not run"
    assert "which tfbnn does not have" in summary["why"]
    finding = summary["why"][summary["why"].index("Finding in tfbnn's setting"):]
    assert "not the paper's claim" in finding
    assert "bnn PGD++ NJS eps=0.1 > bnn PGD eps=0.1: holds" in finding
    assert "the finding reads 'reproduced'" in finding
    # The finding going the other way changes the finding, never the verdict.
    worse = _mlp(mlp, {"PGD": {0.1: 0.6, 0.3: 0.9}, "PGD++ NJS": {0.1: 0.2, 0.3: 0.5}})
    summary = mlp.summarize(worse, [])
    assert summary["verdict"] == "not comparable"
    assert "bnn PGD++ NJS eps=0.1 > bnn PGD eps=0.1: opposite" in summary["why"]
    assert "the finding reads 'refuted'" in summary["why"]


def test_mlp_reproduced_when_njs_flips_more_than_iprop(mlp):
    results = _mlp(mlp, {"IPROP": {0.1: 0.3, 0.3: 0.6}, "PGD++ NJS": {0.1: 0.5, 0.3: 0.9}})
    summary, items = _judge(mlp, results)
    assert summary["verdict"] == "reproduced"
    assert items["bnn PGD++ NJS eps=0.3 > bnn IPROP eps=0.3"] == "holds"
    assert "which tfbnn does not have" not in summary["why"]


def test_mlp_refuted_when_iprop_flips_more(mlp):
    results = _mlp(mlp, {"IPROP": {0.1: 0.5, 0.3: 0.9}, "PGD++ NJS": {0.1: 0.5, 0.3: 0.6}})
    summary, items = _judge(mlp, results)
    assert summary["verdict"] == "refuted"
    assert items["bnn PGD++ NJS eps=0.3 > bnn IPROP eps=0.3"] == "opposite"
    assert items["bnn PGD++ NJS eps=0.1 > bnn IPROP eps=0.1"] == "inconclusive"


def test_mlp_inconclusive_inside_the_binomial_noise(mlp):
    # 52 % vs 50 % of 300 attacked images: inside 2 standard errors (about 8 points).
    results = _mlp(mlp, {"IPROP": {0.1: 0.50}, "PGD++ NJS": {0.1: 0.52}}, attacked=300)
    summary, items = _judge(mlp, results)
    assert summary["verdict"] == "inconclusive"
    assert items["bnn PGD++ NJS eps=0.1 > bnn IPROP eps=0.1"] == "inconclusive"


def test_mlp_flip_rates_tied_at_100_percent_count_for_nothing(mlp):
    results = _mlp(mlp, {"IPROP": {0.5: 1.0, 1.0: 1.0}, "PGD++ NJS": {0.5: 1.0, 1.0: 1.0}})
    summary, items = _judge(mlp, results)
    assert summary["verdict"] == "not comparable"
    assert set(o for o in items.values() if o != "not run") == {"saturated"}
    # Beside a bound that holds, the ties neither add nor subtract.
    results = _mlp(mlp, {"IPROP": {0.1: 0.3, 1.0: 1.0}, "PGD++ NJS": {0.1: 0.6, 1.0: 1.0}})
    assert _judge(mlp, results)[0]["verdict"] == "reproduced"


# --- Figure 3 (gupta2022_step_size) --------------------------------------------------------

def _step(module, per_model: dict, n: int = 1000) -> dict:
    """Results with PGD accuracy per step fraction and PGD++ accuracy per variant."""
    fractions = sorted({float(f) for pgd, _ in per_model.values() for f in pgd})
    models = {m: {"clean_accuracy": 0.98,
                  "pgd": {str(f): {"accuracy": a} for f, a in pgd.items()},
                  "plusplus": {v: {"accuracy": a} for v, a in pp.items()}}
              for m, (pgd, pp) in per_model.items()}
    return {"config": {**module.DEFAULT, "n": n, "step_fractions": fractions},
            "models": models}


def test_step_size_reproduced_when_no_step_matches_plusplus(step):
    results = _step(step, {"A": ({0.1: 0.1, 0.25: 0.05}, {"NJS": 0.05, "HNS": 0.05}),
                           "B": ({0.1: 0.3, 0.25: 0.2}, {"NJS": 0.0, "HNS": 0.05})})
    summary, items = _judge(step, results)
    assert summary["verdict"] == "reproduced"
    # The best PGD step (0.25) against the better PGD++ variant (NJS).
    assert items["B PGD eta=eps*0.25 > B PGD++ NJS"] == "holds"


def test_step_size_refuted_when_the_best_step_beats_plusplus(step):
    # At the default step PGD is worse than PGD++, but a smaller step beats it.
    results = _step(step, {"B": ({0.1: 0.05, 0.25: 0.5}, {"NJS": 0.2, "HNS": 0.3})})
    summary, items = _judge(step, results)
    assert summary["verdict"] == "refuted"
    assert items["B PGD eta=eps*0.1 > B PGD++ NJS"] == "opposite"


def test_step_size_inconclusive_inside_the_binomial_noise(step):
    results = _step(step, {"B": ({0.1: 0.20, 0.25: 0.21}, {"NJS": 0.19, "HNS": 0.3})})
    summary, items = _judge(step, results)
    assert summary["verdict"] == "inconclusive"
    assert items["B PGD eta=eps*0.1 > B PGD++ NJS"] == "inconclusive"


def test_step_size_both_at_zero_counts_for_nothing(step):
    results = _step(step, {"B": ({0.1: 0.0, 0.25: 0.0}, {"NJS": 0.0, "HNS": 0.0})})
    summary, items = _judge(step, results)
    assert summary["verdict"] == "not comparable"
    assert items["B PGD eta=eps*0.1 > B PGD++ NJS"] == "saturated"
    # Beside a model that holds, the tie neither adds nor subtracts.
    results = _step(step, {"B": ({0.1: 0.0, 0.25: 0.0}, {"NJS": 0.0, "HNS": 0.0}),
                           "C": ({0.1: 0.3, 0.25: 0.2}, {"NJS": 0.0, "HNS": 0.0})})
    assert _judge(step, results)[0]["verdict"] == "reproduced"


def test_step_size_without_a_binary_model_is_not_comparable(step):
    results = _step(step, {"A": ({0.1: 0.4, 0.25: 0.3}, {"NJS": 0.5, "HNS": 0.5})})
    summary, items = _judge(step, results)
    assert summary["verdict"] == "not comparable"
    assert set(items.values()) == {"not run"}


# --- the committed results, rejudged from their stored numbers -----------------------------

@pytest.mark.parametrize("name", ["gupta2022_masking_checks", "gupta2022_mlp_flip_rate",
                                  "gupta2022_step_size"])
def test_committed_result_rejudges_to_its_stored_verdict(load_tutorial, tmp_path, name):
    module = load_tutorial(name)
    stored = json.loads((RESULTS / f"{name}.json").read_text())
    summary = module.resummarize(stored, tmp_path / f"{name}.json")
    assert summary["verdict"] == stored["summary"]["verdict"]
    assert summary["why"] == stored["summary"]["why"]
    assert summary["table"] == stored["summary"]["table"]
    assert summary["plots"] == stored["summary"]["plots"]
    assert all((tmp_path / p).stat().st_size > 0 for p in summary["plots"])
    assert "Rule changed 2026-12-05" in summary["why"]

