"""The exact-gap tutorial (attacks against the exact robust accuracy) runs end to end,
tiny, resumes without recomputing, and its committed rule judges made-up numbers as the
rule says: a small gap reproduces, a large one refutes, one at the margin is
inconclusive, unknowns widen the gap into an interval that must lie on one side of the
margin, and an attack that leaves 0 % where the truth is 0 % is not judged."""

import json

import pytest

pytest.importorskip("ortools")

TINY = {"models": ["mlp5x100", "conv-small-friendly"], "n": 8, "epochs": 1,
        "train_size": 512, "iters": 3, "time_limit": 2.0, "version": "quick", "cifar_n": 4}


def test_runs_and_resumes(tutorial, tmp_path, monkeypatch):
    module = tutorial("gupta2022_exact_gap")
    out = tmp_path / "gap.json"
    result = module.main({**TINY, "out": str(out)})
    assert set(result["models"]) == set(TINY["models"]) | {"conv-small-cifar"}
    assert result["models"]["conv-small-cifar"]["data"].startswith("CIFAR-10")
    assert "CIFAR-10" in result["summary"]["tfbnn_scale"]
    for name, entry in result["models"].items():
        (cell,) = entry["eps"].values()
        e = cell["exact"]
        assert e["certified"] + e["counterexamples"] + e["unknown"] <= entry["n"]
        assert 0 <= e["lower"] <= e["upper"] <= e["ensemble_upper"] <= e["clean_accuracy"]
        assert e["gap"] == pytest.approx(e["upper"] - e["lower"])
        assert set(cell["attacks"]) == {"PGD", "PGD++ NJS", "PGD++ HNS", "APGD-CE", "seconds"}
        # the truth lies below every attack's accuracy
        assert all(e["lower"] <= acc for a, acc in cell["attacks"].items() if a != "seconds")
    assert result["models"]["conv-small-friendly"]["zero_weights"]  # ternary: some zeros
    summary = result["summary"]
    assert summary["verdict"] in module._verdicts.VERDICTS and "Rule" in summary["why"]
    assert out.with_suffix(".md").read_text().startswith("## Gupta & Ajanthan, Figure 2")

    def boom(*args, **kwargs):
        raise AssertionError("a resumed run recomputed a measurement")

    monkeypatch.setattr(module, "attacks", boom)
    monkeypatch.setattr(module, "exact", boom)
    again = module.main({**TINY, "out": str(out)})
    assert again["models"] == json.loads(out.read_text())["models"] == result["models"]


def _results(cells: dict, n: int = 500) -> dict:
    """Made-up results: ``cells[(model, eps)] = (pgdpp, pgd, ensemble, lower, upper,
    unknown)`` as fractions."""
    models = {}
    for (name, eps), (pgdpp, pgd, ens, lower, upper, unknown) in cells.items():
        entry = models.setdefault(name, {"test_accuracy": 0.95, "zero_weights": {},
                                         "train_seconds": 1.0, "eps": {}})
        entry["eps"][eps] = {
            "attacks": {"PGD": pgd, "PGD++ NJS": pgdpp, "PGD++ HNS": pgdpp + 0.01,
                        "APGD-CE": pgdpp},
            "exact": {"clean_accuracy": 0.95, "certified": int(lower * n),
                      "counterexamples": 1, "unknown": int(unknown * n), "lower": lower,
                      "upper": upper, "ensemble_upper": ens, "gap": upper - lower,
                      "unknown_fraction": unknown, "solver_runs": 3,
                      "solve_seconds_mean": 1.0, "solve_seconds_median": 1.0,
                      "solve_seconds_max": 2.0, "seconds": 3.0, "found_by": {}}}
    return {"config": {"n": n, "eps": [0.1], "epochs": 10, "train_seed": 1234, "iters": 20,
                       "seed": 0, "version": "standard", "time_limit": 60.0, "workers": 2,
                       "models": sorted(models), "train_size": 60000, "jobs": 1,
                       "batch": 250, "out": "x.json"},
            "models": models}


@pytest.mark.parametrize("cells, verdict", [
    # PGD++ within a point of the truth on both networks: reproduced
    ({("mlp5x100", "0.1"): (0.41, 0.60, 0.40, 0.40, 0.40, 0.0),
      ("conv-small", "0.1"): (0.20, 0.30, 0.195, 0.19, 0.195, 0.005)}, "reproduced"),
    # PGD++ 20 points above the truth: refuted
    ({("mlp5x100", "0.1"): (0.60, 0.70, 0.40, 0.40, 0.40, 0.0)}, "refuted"),
    # a gap at the 5-point margin, inside the noise of 500 images: inconclusive
    ({("mlp5x100", "0.1"): (0.45, 0.70, 0.40, 0.40, 0.40, 0.0)}, "inconclusive"),
    # 10 % unknown and a gap of 5 to 15 points: the truth straddles the margin
    ({("mlp5x100", "0.1"): (0.45, 0.70, 0.40, 0.30, 0.40, 0.10)}, "inconclusive"),
    # 10 % unknown, but even the smallest gap the unknowns allow is 33 points: refuted
    ({("mlp5x100", "0.1"): (0.73, 0.78, 0.40, 0.27, 0.40, 0.13)}, "refuted"),
    # 10 % unknown, and even the largest gap they allow is 1 point: reproduced
    ({("mlp5x100", "0.1"): (0.31, 0.78, 0.31, 0.30, 0.40, 0.10)}, "reproduced"),
    # every image broken by PGD++ too (the gap is 0 by force): not judged
    ({("mlp5x100", "0.3"): (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)}, "not comparable"),
    # the truth is 0 % but PGD++ leaves 2.4 %: a gap of 2.4 points, judged
    ({("mlp5x100", "0.1"): (0.024, 0.026, 0.0, 0.0, 0.0, 0.0)}, "reproduced"),
    # the truth is 0 % and PGD++ leaves 20 %: refuted
    ({("mlp5x100", "0.1"): (0.20, 0.26, 0.0, 0.0, 0.0, 0.0)}, "refuted"),
])
def test_rule_on_made_up_numbers(tutorial, cells, verdict):
    module = tutorial("gupta2022_exact_gap")
    got = module.summarize(_results(cells))
    assert got["verdict"] == verdict, got["why"]
    assert "rules/gupta2022_exact_gap.json" in got["why"]


def test_margins_come_from_the_rule(tutorial):
    module = tutorial("gupta2022_exact_gap")
    assert module.margins(module._verdicts.load_rule(module.NAME)) == {
        "PGD++": 5.0, "PGD": 5.0, "ensemble": 2.0}
    assert module.spec("conv-small-cifar", dict(module.DEFAULT))["dataset"] == "cifar10"
    assert "dataset" not in module.spec("conv-small", dict(module.DEFAULT))


def test_verifiable_specs(tutorial):
    zoo = tutorial("_zoo")
    plain = zoo.verifiable_spec("mlp", epochs=2)
    friendly = zoo.verifiable_spec("conv_small", friendly={"weights": "ternary",
                                                           "margin": {"weight": 1.0}})
    assert zoo.spec_key(plain).startswith("verifiable-mlp5x100-")
    assert zoo.spec_key(friendly).startswith("verifiable-conv-small-ternary-margin-")
    assert zoo.spec_key(plain) != zoo.spec_key(zoo.verifiable_spec("mlp", epochs=3))
    with pytest.raises(ValueError, match="architecture='resnet'"):
        zoo.verifiable_spec("resnet")
    with pytest.raises(ValueError, match=r"unknown verifiable spec settings \['k1'\]"):
        zoo.verifiable_spec("mlp", k1=64)


def test_readme_quotes_the_committed_full_run():
    """The README's exact-verification paragraph quotes the --full run: each figure it
    prints is the committed results file's, so a rerun that changes them fails here until
    the README is updated."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    models = json.loads((root / "tutorials" / "results" / "gupta2022_exact_gap_full.json")
                        .read_text())["models"]
    readme = " ".join((root / "README.md").read_text().split())

    def pct(model, eps, field):
        value = 100 * models[model]["eps"][eps]["exact"][field]
        return f"{value:.1f}"

    mlp, conv = "mlp5x100-friendly", "conv-small-friendly"
    cifar_eps = next(iter(models["conv-small-cifar"]["eps"]))
    assert (f"settled within {pct(mlp, '0.1', 'gap')} points (certified "
            f"{pct(mlp, '0.1', 'lower')} %, upper bound {pct(mlp, '0.1', 'upper')} %, "
            f"{pct(mlp, '0.1', 'unknown_fraction')} % unknown)") in readme
    assert (f"friendly conv-small within {pct(conv, '0.1', 'gap')} "
            f"({pct(conv, '0.1', 'lower')} % to {pct(conv, '0.1', 'upper')} %, "
            f"{pct(conv, '0.1', 'unknown_fraction')} % unknown)") in readme
    assert f"stays {pct('conv-small-cifar', cifar_eps, 'unknown_fraction')} % unknown" in readme
    for model in ("mlp5x100", "conv-small"):
        assert models[model]["eps"]["0.1"]["exact"]["upper"] == 0  # "no robust image left"
