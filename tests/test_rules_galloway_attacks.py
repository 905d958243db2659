"""The verdict rules of Galloway's Table 3 / Figure 2 / JSMA (targeted CW-L2 and JSMA, S
under EOT) and Table 4 (substitute black-box transfer), on made-up results shaped like
the real JSON.

Each rule is tried on numbers that reproduce it, numbers that refute it, numbers inside
the noise (inconclusive), and numbers where items saturate (counted for nothing) or
nothing can be compared; the last tests rejudge the committed results and must find the
verdicts stored in them. Nothing is trained or attacked here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

RESULTS = Path(__file__).resolve().parent.parent / "tutorials" / "results"
IMAGES = 40


def _items(judged: dict) -> dict:
    """``{item: outcome}`` of a judgement, items the run did not measure left out."""
    return {what: outcome for check in judged["checks"] for what, outcome in check["items"]
            if outcome != "not run"}


# --- Table 3, Figure 2, JSMA: galloway2018_cw_jsma --------------------------------------

CW_GOOD = {"A": 0.0, "B": 0.40, "B+": 0.30, "B+*": 0.35, "S": 0.72, "S EOT-CW": 0.70}
JSMA_GOOD = {"A": 0.10, "B": 0.30}


@pytest.fixture()
def cw(load_tutorial):
    return load_tutorial("galloway2018_cw_jsma")


def _images(mean: float, noise: float = 0.02, seed: int = 0) -> list:
    """Per-image accuracies around ``mean`` (each image's mean over its 9 targets)."""
    rng = np.random.default_rng(seed)
    return [round(float(v), 4) for v in np.clip(mean + rng.normal(0, noise, IMAGES), 0, 1)]


def _entry(per_image: list, **extra) -> dict:
    """An attack's stored entry, as `galloway2018_cw_jsma._score` writes it."""
    accuracy = float(np.mean(per_image))
    return {"pairs": 9 * IMAGES, "draws": 1, "accuracy": accuracy, "accuracy_std": 0.0,
            "clean_accuracy": 0.98, "target_success": 1 - accuracy, "attack_success": 0.9,
            "per_image_accuracy": per_image, **extra}


def _cw_results(module, cw_acc: dict | None = None, jsma_acc: dict | None = None,
                per_image: dict | None = None, **config) -> dict:
    """A results dict of the CW/JSMA tutorial at 100 iterations: every image of a model
    near its accuracy in ``cw_acc`` / ``jsma_acc`` (each model its own noise), or exactly
    the lists of ``per_image`` (keys "CW <label>", "JSMA <model>")."""
    per_image = dict(per_image or {})
    for i, (label, acc) in enumerate((cw_acc or {}).items()):
        per_image.setdefault(f"CW {label}", _images(acc, seed=i))
    for i, (model, acc) in enumerate((jsma_acc or {}).items()):
        per_image.setdefault(f"JSMA {model}", _images(acc, seed=10 + i))
    cw_section = {key[3:]: {"100": _entry(v, iterations=100, mean_l2_all=2.0,
                                          mean_l2_success=2.2)}
                  for key, v in per_image.items() if key.startswith("CW ")}
    jsma_section = {key[5:]: _entry(v, fraction_changed_all=0.05)
                    for key, v in per_image.items() if key.startswith("JSMA ")}
    return {"config": {**module.DEFAULT, "n": IMAGES, "iterations": [100], **config},
            "models": {}, "cw": cw_section, "jsma": jsma_section, "eot_pgd": {}}


def test_cw_reproduced(cw):
    results = _cw_results(cw, CW_GOOD, JSMA_GOOD)
    judged = cw.judge(results)
    assert judged["verdict"] == "reproduced"
    assert set(_items(judged).values()) == {"holds"} and len(_items(judged)) == 9
    summary = cw.summarize(results, [])
    assert summary["verdict"] == "reproduced" and summary["why"].startswith(judged["why"])
    assert "bootstrap standard error over the 40 images" in summary["tfbnn_scale"]
    assert any(row.startswith("| judged: CW-L2 100 it, (S - paper S) / paper std | 0 (S: 71 ± 2)")
               for row in summary["table"])


def test_cw_estimates_are_paired_bootstrap_means(cw):
    results = _cw_results(cw, CW_GOOD, JSMA_GOOD)
    ours = cw.estimates(results)
    s = np.asarray(results["cw"]["S"]["100"]["per_image_accuracy"])
    b = np.asarray(results["cw"]["B"]["100"]["per_image_accuracy"])
    assert ours["CW S - B"].mean == pytest.approx(100 * (s - b).mean())
    assert ours["CW S vs paper (paper std)"].mean == pytest.approx((100 * s.mean() - 71) / 2)
    # The paper's std scales the bootstrap error too; the error is that of a mean of 40.
    assert ours["CW S vs paper (paper std)"].std == pytest.approx(ours["CW S"].std / 2)
    assert ours["CW S"].std == pytest.approx(100 * s.std() / IMAGES ** 0.5, rel=0.25)
    # Paired: a model against a copy of itself differs by exactly 0, with no noise.
    same = cw.estimates(_cw_results(cw, per_image={"CW A": list(s), "CW B": list(s)}))
    assert (same["CW B - A"].mean, same["CW B - A"].std) == (0.0, 0.0)


def test_cw_refuted_when_s_misses_the_papers_edge(cw):
    # S at 50 %: clearly below 71 - 2 x 2 = 67 %, under the paper's own attack.
    judged = cw.judge(_cw_results(cw, {**CW_GOOD, "S": 0.50}, JSMA_GOOD))
    assert judged["verdict"] == "refuted"
    assert _items(judged)["CW S vs paper (paper std) > -2"] == "opposite"
    assert _items(judged)["CW S - B > 0"] == "holds"


def test_cw_refuted_when_eot_breaks_s(cw):
    # P1-P4 hold; the adaptive attack takes S to 30 %: the 71 % does not survive it.
    judged = cw.judge(_cw_results(cw, {**CW_GOOD, "S EOT-CW": 0.30}, JSMA_GOOD))
    assert judged["verdict"] == "refuted"
    outcomes = _items(judged)
    assert outcomes.pop("CW S EOT-CW vs paper (paper std) > -2") == "opposite"
    assert set(outcomes.values()) == {"holds"}


def test_cw_refuted_when_a_resists_better_than_b(cw):
    judged = cw.judge(_cw_results(cw, {**CW_GOOD, "A": 0.60}, JSMA_GOOD))
    assert judged["verdict"] == "refuted"
    assert _items(judged)["CW B - A > 0"] == "opposite"


def test_cw_inconclusive_inside_the_bootstrap_noise(cw):
    # B+* as robust as S: the same per-image values in another order, so the paired
    # difference is 0 on average with noise; S under EOT-CW at exactly the paper's edge,
    # 67 %, is neither above nor below it beyond the noise.
    s = _images(0.72, seed=5)
    edge = [0.47, 0.87] * (IMAGES // 2)
    results = _cw_results(cw, CW_GOOD, JSMA_GOOD,
                          per_image={"CW S": s, "CW B+*": s[::-1], "CW S EOT-CW": edge})
    judged = cw.judge(results)
    assert judged["verdict"] == "inconclusive"
    outcomes = _items(judged)
    assert outcomes["CW S - B+* > 0"] == "inconclusive"
    assert outcomes["CW S EOT-CW vs paper (paper std) > -2"] == "inconclusive"
    assert "opposite" not in outcomes.values()


def test_cw_ties_at_zero_count_for_nothing(cw):
    # A and B both at 0 % on every image, under CW-L2 and JSMA: no difference can show.
    zero = [0.0] * IMAGES
    results = _cw_results(cw, CW_GOOD, per_image={"CW A": zero, "CW B": zero,
                                                  "JSMA A": zero, "JSMA B": zero})
    judged = cw.judge(results)
    outcomes = _items(judged)
    assert outcomes["CW B - A > 0"] == outcomes["JSMA B - A > 0"] == "saturated"
    assert judged["verdict"] == "reproduced"  # the rest holds; the ties count for nothing
    # With nothing but the tie measured, nothing is left to judge.
    only_tie = _cw_results(cw, per_image={"CW A": zero, "CW B": zero})
    assert cw.judge(only_tie)["verdict"] == "not comparable"


@pytest.mark.parametrize("config, reason", [
    ({"k1": 4}, "no k1=4 column"),
    ({"k1": 32}, "no S cell at k1=32"),
    ({"iterations": [10, 20]}, "100 CW-L2 iterations (Table 3's budget) not run"),
])
def test_cw_not_comparable_without_the_papers_inputs(cw, config, reason):
    summary = cw.summarize(_cw_results(cw, CW_GOOD, JSMA_GOOD, **config), [])
    assert summary["verdict"] == "not comparable" and reason in summary["why"]
    assert not any(row.startswith("| judged:") for row in summary["table"])


def test_cw_rejudging_the_committed_result_keeps_its_verdict(cw, tmp_path):
    stored = json.loads((RESULTS / "galloway2018_cw_jsma.json").read_text())
    summary = cw.resummarize(stored, tmp_path / "galloway2018_cw_jsma.json")
    assert summary["verdict"] == stored["summary"]["verdict"]
    assert summary["why"] == stored["summary"]["why"]
    assert summary["table"] == stored["summary"]["table"]
    assert summary["plots"] == ["galloway2018_cw_jsma.png"]
    assert (tmp_path / "galloway2018_cw_jsma.png").stat().st_size > 0


# --- Table 4: galloway2018_substitute ----------------------------------------------------

# Transfer accuracies that keep every order the paper's k1 = 64 column separates:
# A 79 > B 46, C 51; A 79 > A+ 73; C+ 65 > C 51; A+* 95.8 > A; C+* 94.7 > C, S+* 56.
SUB_GOOD = {"A": 0.80, "A+": 0.74, "A+*": 0.95, "B": 0.45, "B+": 0.42, "C": 0.50,
            "C+": 0.66, "C+*": 0.94, "S": 0.20, "S+*": 0.57}


@pytest.fixture()
def substitute(load_tutorial):
    return load_tutorial("galloway2018_substitute")


def _sub_results(module, acc: dict, spread: float = 0.01, **config) -> dict:
    """A results dict of the substitute tutorial: each oracle's transfer accuracy over four
    substitute seeds, spread evenly by ``+-spread`` around ``acc`` (clipped to [0, 1])."""
    oracles = {}
    for name, mean in acc.items():
        runs = {str(seed): {"transfer_accuracy": float(np.clip(mean + spread * step, 0, 1)),
                            "clean_accuracy": 0.98, "agreement": 0.6}
                for seed, step in enumerate((-1, -1 / 3, 1 / 3, 1))}
        values = [r["transfer_accuracy"] for r in runs.values()]
        oracles[name] = {"runs": runs, "transfer_accuracy": float(np.mean(values)),
                         "transfer_accuracy_std_over_seeds": float(np.std(values)),
                         "clean_accuracy": 0.98, "agreement": 0.6}
    return {"config": {**module.DEFAULT, **config}, "oracles": oracles}


def test_substitute_reproduced(substitute):
    summary = substitute.summarize(_sub_results(substitute, SUB_GOOD))
    judged = substitute.judge(_sub_results(substitute, SUB_GOOD))
    assert summary["verdict"] == judged["verdict"] == "reproduced"
    assert _items(judged) == {"A > B": "holds", "A > C": "holds", "A > A+": "holds",
                              "C+ > C": "holds", "A+* > A": "holds", "C+* > C": "holds",
                              "C+* > S+*": "holds"}
    assert "mean ± std over 4 substitute seeds" in summary["table"][0]
    # ± is the sample std over the seeds (values 0.79, 0.7967, 0.8033, 0.81 for A).
    assert "| A | 79 ± 1 | 80.0 ± 0.9 |" in summary["table"][2]


def test_substitute_refuted_when_fgsm_training_helps_a(substitute):
    # tfbnn's finding at k1 64: A+ far above A, where the paper has A 79 ± 1 > A+ 73 ± 2.
    judged = substitute.judge(_sub_results(substitute, {**SUB_GOOD, "A+": 0.96}))
    assert judged["verdict"] == "refuted"
    outcomes = _items(judged)
    assert outcomes.pop("A > A+") == "opposite" and set(outcomes.values()) == {"holds"}


def test_substitute_inconclusive_inside_the_seed_noise(substitute):
    # C+ half a point above C, seeds spread by +-2 points: no difference beyond the noise.
    judged = substitute.judge(_sub_results(substitute, {**SUB_GOOD, "C+": 0.505}, spread=0.02))
    assert judged["verdict"] == "inconclusive"
    assert _items(judged)["C+ > C"] == "inconclusive"


def test_substitute_pairs_inside_the_papers_noise_are_no_claims(substitute):
    # k1 128: A 78 ± 4 vs A+ 76 ± 4 is inside the paper's own noise; tfbnn's A+ far
    # below A is then no evidence either way.
    judged = substitute.judge(_sub_results(substitute, {**SUB_GOOD, "A+": 0.30}, k1=128))
    assert judged["verdict"] == "reproduced"
    assert _items(judged)["A vs A+"] is None


def test_substitute_saturated_pairs_count_for_nothing(substitute):
    # A and A+* both at 100 % transfer accuracy on every seed: no order can show.
    results = _sub_results(substitute, {**SUB_GOOD, "A": 1.0, "A+*": 1.0}, spread=0.0)
    judged = substitute.judge(results)
    outcomes = _items(judged)
    assert outcomes["A+* > A"] == "saturated"
    assert judged["verdict"] == "reproduced"
    # Only a saturated pair: nothing is left to judge.
    only = _sub_results(substitute, {"A": 0.0, "B": 0.0}, spread=0.0)
    assert substitute.judge(only)["verdict"] == "not comparable"


def test_substitute_not_comparable_without_a_paper_column(substitute):
    summary = substitute.summarize(_sub_results(substitute, SUB_GOOD, k1=32))
    assert summary["verdict"] == "not comparable" and "no k1=32 column" in summary["why"]


def test_substitute_rejudging_the_committed_result_keeps_its_verdict(substitute):
    stored = json.loads((RESULTS / "galloway2018_substitute.json").read_text())
    summary = substitute.resummarize(stored)
    assert summary["verdict"] == stored["summary"]["verdict"]
    assert summary["why"] == stored["summary"]["why"]
    assert summary["table"] == stored["summary"]["table"]
