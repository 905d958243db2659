"""The CIFAR-10 Tables 12-14 tutorial (gupta2022_cifar_signal): a tiny run that writes its
JSON, Markdown and plot, resumes without measuring again and rejudges to the same verdict;
its Table 13 against the MNIST tutorial's and the library's; and its rule on made-up
numbers, reaching each verdict on purpose, with issue #13's vacuous passes ruled out."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tutorial_checks import assert_lost_cell_is_measured_again, assert_rejudged_the_same, forbid


TINY = {"variants": ["WQ-MD"], "width": 0.0625, "epochs": 1, "n": 12, "batch": 12,
        "iters": 2, "njs_rhos": [1e-5, 0.01, 0.2], "prop1_rhos": [1e-15, 0.5], "sweep": [2],
        "rho_eps": [], "table13_n": 4, "ensemble": "quick", "ensemble_iters": 2}


def test_tiny_run_writes_resumes_and_rejudges(tutorial, cifar_npz, tmp_path, monkeypatch):
    module = tutorial("gupta2022_cifar_signal")
    out = tmp_path / "signal.json"
    config = {**TINY, "out": str(out)}
    results = module.main(config)
    assert results["n"] == 12 and results["data"] == "CIFAR-10" and not results["drawn"]
    assert sorted(results["models"]) == ["WQ-MD"]
    entry = results["models"]["WQ-MD"]
    assert sorted(entry["settings"]) == ["linf eps=2/255", "linf eps=8/255"]
    assert set(entry["settings"]["linf eps=8/255"]["attacks"]) == {
        "PGD", "PGD++ NJS rho=1e-05", "PGD++ NJS rho=1e-02", "PGD++ NJS rho=2e-01",
        "PGD++ Prop1 rho=1e-15", "PGD++ Prop1 rho=5e-01", "PGD++ HNS"}
    assert set(entry["settings"]["linf eps=2/255"]["attacks"]) == {
        "PGD", "PGD++ NJS rho=1e-02", "PGD++ HNS"}  # the sweep alone: 2 is not in rho_eps
    for setting in entry["settings"].values():
        for row in setting["attacks"].values():
            assert len(row["robust"]) == 12 and row["accuracy"] == np.mean(row["robust"])
            assert row["accuracy"] <= entry["clean_accuracy"] + 1e-9
    attacks = entry["settings"]["linf eps=8/255"]["attacks"]
    njs = attacks["PGD++ NJS rho=2e-01"]["diagnostic"]
    assert njs is None or 0 <= njs <= 1
    small, large = (attacks[f"PGD++ Prop1 rho={r}"]["diagnostic"] for r in ("1e-15", "5e-01"))
    if small is not None:  # a smaller rho allows a larger beta (Proposition 1)
        assert small > large
    assert entry["njs_beta1"] > 0
    linf = entry["settings"]["linf eps=8/255"]["attacks"]
    assert entry["worst_case_accuracy"] <= min(
        [entry["ensemble"]["accuracy"]] + [r["accuracy"] for r in linf.values()]) + 1e-9
    table = entry["table13"]
    assert 0 < table["images"] <= 4
    for method in module.METHODS:
        assert all(len(v) == table["images"] for v in table["per_image"][method].values())
        assert 0 < table["stats"][method]["sign_grad_norm"] <= math.sqrt(3072) + 1e-3
    assert table["per_image"]["Orig."]["beta"] == [1.0] * table["images"]
    summary = results["summary"]
    assert summary["verdict"] in module._verdicts.VERDICTS
    assert "width 0.0625" in summary["tfbnn_scale"] and "12 attacked" in summary["tfbnn_scale"]
    assert "Per check: njs stable: " in summary["why"]
    lines = "\n".join(summary["table"])
    assert "| rho = 1e-15 | 0.00 | 9.61 | 48.18 | 40.66 |" in lines  # Table 14, read not typed
    assert "| JSV (Mean) | Orig. | 8.09 | 0.515 | 35.3 | 1.11 |" in lines
    assert "tfbnn BNN-WQ 8/255" in lines and "tfbnn REF" not in lines  # networks run only
    assert all("||" not in line for line in summary["table"] if line.startswith("|"))
    assert out.with_suffix(".md").exists() and (tmp_path / "signal.png").exists()
    assert summary["plots"] == ["signal.png"]

    # resumed: nothing is measured again
    forbid(monkeypatch, module, ("measure", "ensemble", "table13"))
    again = module.main(config)
    assert again["models"] == results["models"]

    # a cell lost from the file is measured again, alone
    assert_lost_cell_is_measured_again(
        monkeypatch, module, config, out,
        ("models", "WQ-MD", "settings", "linf eps=2/255", "attacks"), ("PGD++ HNS",), "measure",
        {"family": "HNS", "rho": None, "accuracy": 0.25, "seconds": 0.0,
         "robust": [1, 1, 1] + [0] * 9})

    # rejudged from the stored numbers alone: the same verdict, explanation and table
    assert_rejudged_the_same(module, out)


def test_table13_matches_the_mnist_tutorial_and_the_library(load_tutorial):
    """The per-image Table 13 (one Jacobian per image for all three methods, in batches)
    pools to the MNIST tutorial's `table13` and `temperature.signal_propagation_stats`."""
    import _zoo
    import gupta2022_signal_propagation as signal
    from tfbnn import temperature

    module = load_tutorial("gupta2022_cifar_signal")
    model = _zoo._cifar_model({"architecture": "vgg16", "precision": "wq",
                               "method": "md_tanh_s", "width": 0.0625})
    model_fn = lambda t: model(t, training=False)  # noqa: E731
    x = np.random.default_rng(0).uniform(0, 1, (7, 32, 32, 3)).astype(np.float32)
    y = model_fn(x).numpy().argmax(-1)  # every image correctly classified
    config = {**module.DEFAULT, "table13_n": 7}
    beta1 = float(temperature.njs_beta1(model_fn, x, 7))
    ours = module.table13(model_fn, x, y, beta1, config)
    theirs = signal.table13(model_fn, x, y, x, {**config, "njs_samples": 7})
    assert ours["images"] == 7
    for method in module.METHODS:
        for key, value in theirs["stats"][method].items():
            assert ours["stats"][method][key] == pytest.approx(value, rel=1e-3, abs=1e-7), (
                method, key)
    library = temperature.signal_propagation_stats(model_fn, x, y, 1.0)
    assert ours["stats"]["Orig."]["jsv_mean"] == pytest.approx(library["jsv_mean"], rel=1e-4)
    assert ours["njs_beta2_below_1"] == pytest.approx(theirs["njs_beta2_below_1"])


def test_attack_plan_follows_the_tables(load_tutorial):
    """Table 12's rhos on REF, BNN-WQ and BNN-WAQ, Table 14's on REF, BNN-WQ and the '*'
    networks, at 8/255 and at ``rho_eps``; elsewhere PGD, NJS at rho 0.01 and HNS."""
    module = load_tutorial("gupta2022_cifar_signal")
    config = module.DEFAULT
    njs = {f"PGD++ NJS rho={r:.0e}" for r in config["njs_rhos"]}
    prop1 = {f"PGD++ Prop1 rho={r:.0e}" for r in config["prop1_rhos"]}
    sweep = {"PGD", "PGD++ NJS rho=1e-02", "PGD++ HNS"}
    for eps in (8, 2):
        assert set(module.attack_plan(config, "WQ-MD", eps, 0.1)) == sweep | njs | prop1
        assert set(module.attack_plan(config, "WAQ", eps, 0.1)) == sweep | njs
        assert set(module.attack_plan(config, "REF*", eps, 0.1)) == sweep | prop1
    for variant in module.ROWS:
        assert set(module.attack_plan(config, variant, 4, 0.1)) == sweep
    assert module.radii(config) == [8, 1, 2, 4]
    families = {name: family for name, (family, _, _) in
                module.attack_plan(config, "REF", 8, 0.1).items()}
    assert families["PGD++ HNS"] == "HNS" and families["PGD++ Prop1 rho=1e-15"] == "Prop1"


def test_bad_config_is_refused_before_any_work(tutorial, tmp_path):
    module = tutorial("gupta2022_cifar_signal")
    out = str(tmp_path / "x.json")
    with pytest.raises(ValueError, match=r"architecture='resnet34': choose one of"):
        module.main({"architecture": "resnet34", "out": out})
    with pytest.raises(ValueError, match=r"variants=\['WQ'\].*choose from.*WQ-MD"):
        module.main({"variants": ["WQ"], "out": out})
    with pytest.raises(ValueError, match="n must be an int >= 1, got 0"):
        module.main({"n": 0, "out": out})
    with pytest.raises(ValueError, match="table13_n must be an int >= 1, got 0.*--table13-n"):
        module.main({"table13_n": 0, "out": out})
    with pytest.raises(ValueError, match=r"njs_rhos must lie in \(0, .*got 0.95"):
        module.main({"njs_rhos": [0.95], "out": out})
    with pytest.raises(ValueError, match=r"prop1_rhos=\[\]: give at least one rho"):
        module.main({"prop1_rhos": [], "out": out})
    with pytest.raises(ValueError, match="ensemble='fast': choose one of"):
        module.main({"ensemble": "fast", "out": out})
    assert not (tmp_path / "x.json").exists()


# --- the rule, on made-up numbers ---------------------------------------------------------

N = 100


def _robust(k: int, n: int = N) -> list:
    """The first ``k`` of ``n`` images robust: nested sets, so two attacks differ on
    exactly their difference in count (the paired reading)."""
    return [1] * k + [0] * (n - k)


def _attacks(pgd, njs, prop1, hns, fired):
    """``njs``/``prop1``: rho -> robust count; ``fired``: share of clean correct images
    with beta_2 < 1 (the NJS diagnostic)."""
    rows = {"PGD": pgd, "PGD++ HNS": hns}
    rows.update({f"PGD++ NJS rho={r:.0e}": k for r, k in njs.items()})
    rows.update({f"PGD++ Prop1 rho={r:.0e}": k for r, k in prop1.items()})
    out = {name: {"accuracy": k / N, "seconds": 1.0, "robust": _robust(k)}
           for name, k in rows.items()}
    for name, row in out.items():
        if "NJS" in name:
            row["diagnostic"] = fired
        elif "Prop1" in name:
            row["diagnostic"] = 1.0
    return out


def _table13(raise_by: float, fired: float, images: int = 40, ceiling: bool = False):
    """Per-image Table 13 values: NJS and HNS raise every norm by ``raise_by`` (0: ties);
    NJS's beta_2 fires on ``fired`` of the images; J's mean singular value 8 (NJS brings it
    to about 1, 0.5 where beta_2 fires)."""
    top = math.sqrt(3072)
    base = {"psi_norm": [0.01] * images, "grad_norm": [0.2] * images,
            "sign_grad_norm": [top if ceiling else 40.0] * images}
    fired_n = int(round(fired * images))
    per_image = {"Orig.": {"beta": [1.0] * images, **base}}
    for method in ("NJS", "HNS"):
        values = {k: [v + raise_by * (1 + (i % 3)) if not (k == "sign_grad_norm" and ceiling)
                      else v for i, v in enumerate(vs)] for k, vs in base.items()}
        beta = ([1 / 16] * fired_n + [1 / 8] * (images - fired_n) if method == "NJS"
                else [0.5] * images)
        per_image[method] = {"beta": beta, **values}
    return {"images": images, "njs_beta1": 1 / 8, "rho": 0.01, "njs_beta2_below_1": fired,
            "sv_mean": [8.0 + (i % 2) for i in range(images)],
            "sv_sq_mean": [80.0] * images, "per_image": per_image,
            "stats": {m: {"jsv_mean": 1.0, "jsv_std": 1.0, "psi_norm": 0.1, "grad_norm": 0.1,
                          "sign_grad_norm": 40.0} for m in ("Orig.", "NJS", "HNS")}}


def _made_up(module, *, njs_spread=0, fired=0.5, wq_small=30, wq_others=0, star_small=45,
             star_large=55, raise_by=0.1, beta2=0.5, ceiling=False, pgd=40, plus=0):
    """Results for the five networks (one training seed, N images): Table 12 NJS
    accuracies 20 % on every rho but the last, which is ``njs_spread`` points higher;
    Table 14 on BNN-WQ ``wq_small`` % at rho 1e-15 and ``wq_others`` elsewhere, on the '*'
    networks ``star_small`` % at small rhos and ``star_large`` at large ones; the sweep
    with PGD at ``pgd`` and PGD++ at ``plus``; Table 13 from `_table13`."""
    cfg = {**module.DEFAULT}
    models = {}
    for variant in module.ROWS:
        settings = {}
        for eps in (1, 2, 4, 8):
            ablation = eps in (2, 8)
            njs = {cfg["rho"]: 20}
            if ablation and variant in module.TABLE12:
                njs = {r: 20 for r in cfg["njs_rhos"]}
                njs[cfg["njs_rhos"][-1]] = 20 + njs_spread
            prop1 = {}
            if ablation and variant in module.TABLE14:
                small, large = ((wq_small, wq_others) if variant == "WQ-MD" else
                                (star_small, star_large) if variant.endswith("*") else (0, 0))
                prop1 = {r: (small if r < 1e-2 else large) for r in cfg["prop1_rhos"]}
                if variant == "WQ-MD":
                    prop1 = {r: (wq_small if r == 1e-15 else wq_others)
                             for r in cfg["prop1_rhos"]}
            settings[f"linf eps={eps}/255"] = {"attacks": _attacks(pgd, njs, prop1, plus,
                                                                   fired)}
        entry = {"key": "k", "clean_accuracy": 0.8, "test_accuracy": 0.8,
                 "data": "CIFAR-10", "iterations": 1570, "njs_beta1": 0.125,
                 "logits": {"mean_abs_logit": 5.0, "mean_margin": 2.0},
                 "worst_case_accuracy": 0.0, "ensemble": {"accuracy": 0.0, "robust": []},
                 "settings": settings}
        if variant in module.TABLE13:
            entry["table13"] = _table13(raise_by, beta2, ceiling=ceiling)
        models[variant] = entry
    return {"config": cfg, "data": "CIFAR-10 (JPEG stand-in, 20k train)", "n": N,
            "drawn": True, "models": models}


@pytest.fixture()
def sig(load_tutorial):
    return load_tutorial("gupta2022_cifar_signal")


def _items(sig, results):
    """check id -> {item: outcome} of the rule applied to ``results``."""
    import _verdicts

    ours, _ = sig.estimates(results)
    judged = _verdicts.judge(_verdicts.load_rule(sig.RULE), ours, {})
    return {c["id"]: dict(c["items"]) for c in judged["checks"]}


def test_rule_reproduced_as_the_paper_claims_it(sig):
    results = _made_up(sig)
    summary = sig.resummarize(results)
    assert summary["verdict"] == "reproduced", summary["why"]
    assert "CIFAR-10 (JPEG stand-in, 20k train)" in summary["tfbnn_scale"]
    items = _items(sig, results)
    assert set(items["njs stable"].values()) == {"holds"}
    assert set(items["njs jsv closer to 1"].values()) == {"holds"}
    assert set(items["prop1 large rho weaker"].values()) == {"holds"}  # 9 pairs x 2 nets
    assert len(items["prop1 large rho weaker"]) == 18
    assert "on these numbers the finding reads 'reproduced'" in summary["why"]


def test_rule_refuted_when_large_rho_is_the_stronger_attack(sig):
    summary = sig.resummarize(_made_up(sig, star_small=55, star_large=45))
    assert summary["verdict"] == "refuted", summary["why"]
    assert "prop1 large rho weaker: refuted" in summary["why"]
    # NJS unstable by 10 points where beta_2 fires on half the images: refuted too
    summary = sig.resummarize(_made_up(sig, njs_spread=10))
    assert summary["verdict"] == "refuted", summary["why"]
    assert "njs stable: refuted" in summary["why"]


def test_rule_inconclusive_inside_the_paired_noise(sig):
    # 3 images of 100 apart: the paired standard error is 1.7 points, 2 of them 3.4
    summary = sig.resummarize(_made_up(sig, star_small=45, star_large=48))
    assert summary["verdict"] == "inconclusive", summary["why"]
    # 8 images apart, all the same way: beyond the paired noise (an unpaired reading of
    # 45 % against 53 % on 100 images would still be inside two binomial standard errors)
    summary = sig.resummarize(_made_up(sig, star_small=45, star_large=53))
    assert summary["verdict"] == "reproduced", summary["why"]


def test_rule_saturated_and_vacuous_checks_count_for_nothing(sig):
    """Issue #13: a rho check where beta_2 never fires, and sign-gradient ties at the
    sqrt(3072) ceiling, never read as support."""
    results = _made_up(sig, fired=0.0, beta2=0.0, ceiling=True, raise_by=0.0, wq_small=0,
                       star_small=0, star_large=0, pgd=0)
    summary = sig.resummarize(results)
    assert summary["verdict"] == "not comparable", summary["why"]
    assert "holds" not in summary["why"].split("Finding in tfbnn's setting")[0]
    for check in ("njs stable", "njs jsv closer to 1", "psi raised", "gradient raised",
                  "signed gradient raised", "prop1 smallest rho weakest",
                  "prop1 large rho weaker"):
        assert f"{check}: not comparable" in summary["why"]
    assert ("BNN-WQ linf eps=8/255 NJS spread: beta_2 < 1 on no attacked image at any rho"
            in summary["why"])
    assert "NJS's JSV mean is beta_1's by construction" in summary["why"]
    items = _items(sig, results)
    assert set(items["signed gradient raised"].values()) == {"saturated"}
    assert set(items["njs stable"].values()) == {"not run"}


def test_premises_fire_only_where_the_mechanism_can(sig):
    # beta_2 on 1 % of the attacked images (0.8 clean x 1.25 %): under the 2 % premise
    items = _items(sig, _made_up(sig, fired=0.0125))
    assert set(items["njs stable"].values()) == {"not run"}
    items = _items(sig, _made_up(sig, fired=0.05))
    assert set(items["njs stable"].values()) == {"holds"}
    # the JSV check needs beta_2 on 10 % of the Table 13 images
    items = _items(sig, _made_up(sig, beta2=0.05))
    assert set(items["njs jsv closer to 1"].values()) == {"not run"}
    items = _items(sig, _made_up(sig, beta2=0.25))
    assert set(items["njs jsv closer to 1"].values()) == {"holds"}


def test_the_rule_on_the_papers_own_tables(sig):
    """The paper's Table 13 ties at the ceiling in six sign-gradient comparisons (saturated)
    and moves BNN-WAQ's JSV mean away from 1 under NJS (1.11 -> 0.224), so the JSV check
    leaves BNN-WAQ out (the paper's sentence is no claim its own table makes there); its
    Table 14 holds beyond the noise of 10,000 images: the rule reproduces the paper's own
    tables."""
    import _verdicts

    judged = _verdicts.judge(_verdicts.load_rule(sig.RULE), sig.paper_estimates(), {})
    items = {c["id"]: dict(c["items"]) for c in judged["checks"]}
    assert not any("BNN-WAQ" in item for item in items["njs jsv closer to 1"])
    assert set(items["njs jsv closer to 1"].values()) == {"holds"}
    assert [o for o in items["signed gradient raised"].values()].count("saturated") == 6
    assert items["signed gradient raised"]["BNN-WQ NJS minus Orig. ||sign(dl/dx)||_2 > 0"] == (
        "holds")
    assert set(items["prop1 smallest rho weakest"].values()) == {"holds"}
    assert set(items["prop1 large rho weaker"].values()) == {"holds"}
    assert set(items["psi raised"].values()) == {"holds"}
    assert set(items["njs stable"].values()) == {"not run"}
    assert judged["verdict"] == "reproduced"
