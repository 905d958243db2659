"""The verdict rules of the Gupta & Ajanthan rho-ablation, signal-propagation and timing
tutorials, on made-up results shaped like their JSON: for each, a result that
reproduces, one that is refuted, one inside the noise, one where the claims cannot show
(saturated, tied or never triggered), and the committed result judged as it is stored.

The made-up numbers are chosen to sit clearly on one side of each rule; the reviewer's
complaints are tests of their own: a Table 12 check whose premise (beta_2 < 1) never
occurs, and sign-gradient norms tied at their ceiling sqrt(784) = 28.0, count for
nothing.
"""

from __future__ import annotations

import copy
import json
import math

import pytest

RHOS_NJS = [1e-05, 1e-04, 1e-03, 1e-02, 1e-01, 2e-01]
RHOS_PROP1 = [1e-15, 1e-09, 1e-05, 1e-01, 2e-01, 5e-01]


# --- Tables 12 and 14: gupta2022_rho_ablation -------------------------------------------

@pytest.fixture()
def rho(load_tutorial):
    return load_tutorial("gupta2022_rho_ablation")


def _rho_model(njs, fired, prop1, clean=0.98):
    """One model's entry: NJS accuracies per rho (a number: the same at every rho), the
    share of clean correct images with beta_2 < 1 at the largest rho, Prop. 1 accuracies."""
    njs = njs if isinstance(njs, list) else [njs] * len(RHOS_NJS)
    attacks = {"PGD": {"family": "PGD", "rho": None, "accuracy": 0.3, "diagnostic": None}}
    for i, (r, a) in enumerate(zip(RHOS_NJS, njs)):
        attacks[f"PGD++ NJS rho={r:.0e}"] = {"family": "NJS", "rho": r, "accuracy": a,
                                             "diagnostic": fired if i == len(RHOS_NJS) - 1
                                             else 0.0}
    for r, a in zip(RHOS_PROP1, prop1):
        attacks[f"PGD++ Prop1 rho={r:.0e}"] = {"family": "Prop1", "rho": r, "accuracy": a,
                                               "diagnostic": 1.0}
    return {"attacks": attacks, "clean_accuracy": clean, "njs_beta1": 0.05}


def _rho_results(**models):
    return {"config": {"models": [m for m in models if not m.endswith("*")],
                       "adv_models": [m[0] for m in models if m.endswith("*")], "n": 500},
            "models": models}


FLAT = [0.3] * 6
WQ_LIKE = [0.40, 0.10, 0.10, 0.10, 0.10, 0.10]
"""Table 14's BNN-WQ pattern: rho 1e-15 leaves the most accuracy."""


def _rho_verdict(module, results):
    return module.summarize(results, "made_up.png")


def test_rho_reproduced(rho):
    s = _rho_verdict(rho, _rho_results(A=_rho_model(0.3, 0.10, FLAT),
                                       W=_rho_model(0.3, 0.10, WQ_LIKE),
                                       B=_rho_model(0.2, 0.0, FLAT)))
    assert s["verdict"] == "reproduced"
    assert "A NJS spread < 2: holds" in s["why"] and "W NJS spread < 2: holds" in s["why"]
    assert "W Prop1 rho=1e-15 > W Prop1 rho=5e-01: holds" in s["why"]


def test_rho_refuted_when_njs_moves_or_the_smallest_rho_is_strongest(rho):
    moving = _rho_model([0.30, 0.30, 0.31, 0.33, 0.36, 0.40], 0.10, FLAT)
    s = _rho_verdict(rho, _rho_results(A=moving, W=_rho_model(0.3, 0.10, WQ_LIKE)))
    assert s["verdict"] == "refuted" and "A NJS spread < 2: opposite" in s["why"]
    reversed_w = _rho_model(0.3, 0.10, [0.10, 0.12, 0.20, 0.30, 0.32, 0.33])
    s = _rho_verdict(rho, _rho_results(W=reversed_w))
    assert s["verdict"] == "refuted"
    assert "W Prop1 rho=1e-15 > W Prop1 rho=5e-01: opposite" in s["why"]


def test_rho_inconclusive_inside_the_binomial_noise(rho):
    # 22 % against 20 % of 500 images: about 1.8 points of noise on each.
    close = _rho_model(0.3, 0.10, [0.22, 0.20, 0.20, 0.20, 0.20, 0.20])
    s = _rho_verdict(rho, _rho_results(A=_rho_model(0.3, 0.10, FLAT), W=close))
    assert s["verdict"] == "inconclusive"
    # ... and with 10,000 images (0.4 points each) the same 2-point gap holds.
    results = _rho_results(A=_rho_model(0.3, 0.10, FLAT), W=close)
    results["config"]["n"] = 10000
    assert _rho_verdict(rho, results)["verdict"] == "reproduced"


def test_rho_vacuous_table12_is_not_run_with_the_reason(rho):
    """The reviewer's case: beta_2 never fires on B and C, so every rho is the same
    attack and a spread of 0 is no evidence of stability."""
    s = _rho_verdict(rho, _rho_results(B=_rho_model(0.196, 0.0, FLAT),
                                       C=_rho_model(0.346, 0.0, FLAT)))
    assert s["verdict"] == "not comparable"
    assert "B NJS spread < 2: not run" in s["why"]
    assert "on B, beta_2 < 1 on no attacked image at any rho" in s["why"]
    # Firing on fewer images than the tolerance (1.6 % < 2 %) cannot move the accuracy
    # by 2 points either; 5 % can.
    few = _rho_verdict(rho, _rho_results(W=_rho_model(0.3, 0.0164, FLAT)))
    assert "W NJS spread < 2: not run" in few["why"] and "1.6 % of the attacked" in few["why"]
    enough = _rho_verdict(rho, _rho_results(W=_rho_model(0.3, 0.05, FLAT)))
    assert "W NJS spread < 2: holds" in enough["why"]


def test_rho_saturated_at_zero_counts_for_nothing(rho):
    zero = _rho_model(0.0, 0.5, [0.0] * 6)
    s = _rho_verdict(rho, _rho_results(A=zero, W=copy.deepcopy(zero), **{"W*": zero}))
    assert s["verdict"] == "not comparable"
    assert "every NJS accuracy sits at 0 or 100 %" in s["why"]
    assert "W Prop1 rho=1e-15 > W Prop1 rho=1e-09: saturated" in s["why"]


def test_rho_adversarially_trained_large_rhos_weaker(rho):
    star = _rho_model(0.5, 0.10, [0.48, 0.47, 0.48, 0.55, 0.56, 0.58])
    s = _rho_verdict(rho, _rho_results(**{"A*": star}))
    assert s["verdict"] == "reproduced"
    assert ("A* Prop1 rho=1e-01 > A* Prop1 rho=1e-09: holds") in s["why"]
    flat = _rho_verdict(rho, _rho_results(**{"A*": _rho_model(0.5, 0.10, [0.5] * 6)}))
    assert flat["verdict"] == "inconclusive"


# --- Table 13, Figures 4-5: gupta2022_signal_propagation ---------------------------------

@pytest.fixture()
def signal(load_tutorial):
    return load_tutorial("gupta2022_signal_propagation")


def _stats(psi, grad, sign=(28.0, 28.0, 28.0)):
    """Table 13 stats for Orig., NJS, HNS: ``psi``, ``grad``, ``sign`` are triples."""
    return {m: {"jsv_mean": 1.0, "jsv_std": 1.0, "psi_norm": p, "grad_norm": g,
                "sign_grad_norm": s}
            for m, p, g, s in zip(("Orig.", "NJS", "HNS"), psi, grad, sign)}


def _signal_model(stats, below_one=0.95, images=500):
    betas = [0.01, 1.0, 100.0]
    curve = {"median": [1.0, 2.0, 0.5], "q25": [1.0] * 3, "q75": [2.0] * 3,
             "example": [1.0] * 3}
    peak = {"beta_median": 0.1, "interior_fraction": 1.0, "below_beta_1_fraction": below_one}
    return {"table13_images": images,
            "table13": {"stats": stats, "njs_beta1": 0.05, "njs_beta2_below_1": 0.0,
                        "njs_beta_median": 0.05, "hns_beta": [0.1, 0.2]},
            "sweep": {"betas": betas, "images": images,
                      "curves": {k: dict(curve) for k in ("psi_norm", "softmax_jsv_mean",
                                                          "hessian_norm", "grad_norm",
                                                          "sign_grad_norm", "jsv_mean")},
                      "hessian_norm_peak": peak, "grad_norm_peak": dict(peak)}}


def _signal_results(**models):
    return {"config": {"models": list(models)}, "models": models}


RAISED = _stats((0.01, 0.5, 0.3), (0.1, 0.8, 0.9))


def _signal_verdict(module, results):
    return module.summarize(results, [])


def test_signal_reproduced_and_sign_ties_at_the_ceiling_are_no_claim(signal):
    s = _signal_verdict(signal, _signal_results(A=_signal_model(RAISED),
                                                B=_signal_model(RAISED)))
    assert s["verdict"] == "reproduced"
    assert "B NJS ||sign(dl/dx)||_2 > B Orig. ||sign(dl/dx)||_2: not run" in s["why"]
    assert "||sign(dl/dx)||_2 is no claim on A, B: at beta = 1 it is already" in s["why"]


def test_signal_sign_counts_below_its_ceiling(signal):
    below = _stats((0.01, 0.5, 0.3), (0.1, 0.8, 0.9), sign=(20.0, 28.0, 28.0))
    s = _signal_verdict(signal, _signal_results(W=_signal_model(below)))
    assert "W NJS ||sign(dl/dx)||_2 > W Orig. ||sign(dl/dx)||_2: holds" in s["why"]
    assert s["verdict"] == "reproduced"
    tied = _stats((0.01, 0.5, 0.3), (0.1, 0.8, 0.9), sign=(20.0, 20.0, 28.0))
    s = _signal_verdict(signal, _signal_results(W=_signal_model(tied)))
    assert "W NJS ||sign(dl/dx)||_2 > W Orig. ||sign(dl/dx)||_2: saturated" in s["why"]
    assert s["verdict"] == "reproduced"  # the tie counts for nothing


def test_signal_refuted_when_a_gradient_norm_drops(signal):
    # As the committed C: NJS lowers the mean input-gradient norm.
    dropped = _stats((0.017, 0.93, 0.29), (2.31, 1.50, 11.4))
    s = _signal_verdict(signal, _signal_results(B=_signal_model(RAISED),
                                                C=_signal_model(dropped)))
    assert s["verdict"] == "refuted"
    assert "C NJS ||dl/dx||_2 > C Orig. ||dl/dx||_2: opposite" in s["why"]


def test_signal_inconclusive_hessian_peak_share(signal):
    # 52 % of 500 images: the binomial band (about +-4.5 points) straddles 50 %.
    s = _signal_verdict(signal, _signal_results(B=_signal_model(RAISED, below_one=0.52)))
    assert s["verdict"] == "inconclusive"
    assert "B Hessian-norm peak below beta = 1, % of images > 50: inconclusive" in s["why"]
    late = _signal_verdict(signal, _signal_results(B=_signal_model(RAISED, below_one=0.2)))
    assert late["verdict"] == "refuted"


def test_signal_all_tied_is_not_comparable(signal):
    tied = _stats((0.3, 0.3, 0.3), (0.5, 0.5, 0.5))
    model = _signal_model(tied)
    del model["sweep"]
    s = _signal_verdict(signal, _signal_results(B=model))
    assert s["verdict"] == "not comparable"
    assert "B NJS ||psi||_2 > B Orig. ||psi||_2: saturated" in s["why"]


def test_signal_rule_holds_on_the_papers_own_table(signal, load_tutorial):
    v = load_tutorial("_verdicts")
    judged = v.judge(v.load_rule("gupta2022_signal_propagation"), signal.paper_estimates(), {})
    assert judged["verdict"] == "reproduced"
    # BNN-WQ's 43.9 at beta = 1 is below CIFAR-10's ceiling sqrt(3072): a real claim.
    items = dict(item for c in judged["checks"] for item in c["items"])
    assert items["W NJS ||sign(dl/dx)||_2 > W Orig. ||sign(dl/dx)||_2"] == "holds"
    assert items["B NJS ||sign(dl/dx)||_2 > B Orig. ||sign(dl/dx)||_2"] == "not run"


# --- Table 7: gupta2022_timing -----------------------------------------------------------

@pytest.fixture()
def timing(load_tutorial):
    return load_tutorial("gupta2022_timing")


def _times(median, spread=0.02, repeats=5):
    """Repeat times around ``median`` (a relative ``spread`` either side)."""
    times = [median * (1 + spread * (i - repeats // 2) / max(repeats // 2, 1))
             for i in range(repeats)]
    return {"median_s": median, "times_s": times}


def _timing_results(fgsm, njs, hns, spread=0.02, repeats=5):
    rows = {"FGSM": fgsm, "FGSM++ NJS": njs, "FGSM++ NJS (beta_1 from each batch)": 2 * njs,
            "FGSM++ HNS": hns, "PGD": 10 * fgsm, "PGD++ NJS": 10 * njs, "PGD++ HNS": 12 * hns}
    entry = {"beta1": 0.02, "beta1_seconds": 0.3}
    for setting, scale in (("batch", 1.0), ("batch1", 30.0)):
        entry[setting] = {k: _times(v * scale, spread, repeats) for k, v in rows.items()}
    return {"config": {"models": ["B"], "n": 250}, "models": {"B": entry},
            "machine": {"cpus": 2, "machine": "x86_64", "tensorflow": "2"}}


def test_timing_reproduced(timing):
    s = timing.summarize(_timing_results(1.0, 1.05, 6.0))
    assert s["verdict"] == "reproduced"
    assert "B FGSM++ NJS / FGSM, batch 1 < 1.5: holds" in s["why"]
    assert "B FGSM++ HNS / FGSM++ NJS, one batch > 1: holds" in s["why"]


def test_timing_refuted_when_njs_is_not_cheap(timing):
    s = timing.summarize(_timing_results(1.0, 3.0, 6.0))
    assert s["verdict"] == "refuted"
    assert "B FGSM++ NJS / FGSM, one batch < 1.5: opposite" in s["why"]
    s = timing.summarize(_timing_results(1.0, 1.05, 0.5))
    assert "B FGSM++ HNS / FGSM++ NJS, batch 1 > 1: opposite" in s["why"]


def test_timing_inconclusive_inside_the_noise_of_the_repeats(timing):
    # 1.45 FGSMs, repeats spread +-20 % over three runs: the band reaches past 1.5.
    s = timing.summarize(_timing_results(1.0, 1.45, 6.0, spread=0.2, repeats=3))
    assert s["verdict"] == "inconclusive"
    assert "B FGSM++ NJS / FGSM, batch 1 < 1.5: inconclusive" in s["why"]
    # The same ratio from tightly clustered repeats holds.
    assert timing.summarize(_timing_results(1.0, 1.45, 6.0, spread=0.001))["verdict"] == \
        "reproduced"


def test_timing_exact_ties_count_for_nothing(timing):
    # One repeat each: no spread; NJS at exactly 1.5 FGSMs and HNS as fast as NJS.
    s = timing.summarize(_timing_results(0.25, 0.375, 0.375, repeats=1))
    assert s["verdict"] == "not comparable"
    assert "B FGSM++ NJS / FGSM, batch 1 < 1.5: saturated" in s["why"]
    assert "B FGSM++ HNS / FGSM++ NJS, one batch > 1: saturated" in s["why"]
    none = {"config": {"models": ["B"], "n": 250}, "models": {}}
    assert timing.summarize(none)["verdict"] == "not comparable"


def test_timing_ratio_standard_error(timing):
    a, b = {"median_s": 2.0, "times_s": [1.9, 2.0, 2.1]}, {"median_s": 1.0, "times_s": [1.0]}
    r = timing.ratio(a, b)
    logs = [math.log(t) for t in a["times_s"]]
    mean = sum(logs) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / 2)
    assert r.mean == 2.0 and r.se == pytest.approx(2.0 * math.sqrt(math.pi / 2) * sd / 3 ** .5)


# --- the committed results ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["gupta2022_rho_ablation", "gupta2022_signal_propagation",
                                  "gupta2022_timing"])
def test_committed_result_rejudges_to_its_stored_verdict(load_tutorial, tmp_path, name):
    module = load_tutorial(name)
    path = module._common.RESULTS / f"{name}.json"
    results = json.loads(path.read_text())
    summary = module.resummarize(copy.deepcopy(results), tmp_path / path.name)
    assert summary["verdict"] == results["summary"]["verdict"]
    assert summary["why"] == results["summary"]["why"]
