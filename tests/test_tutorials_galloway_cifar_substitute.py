"""The Table 5 tutorial (galloway2018_cifar_substitute: the substitute black-box attack on
CIFAR-10 oracles): a tiny run that writes its JSON, Markdown and plot, resumes without
training or attacking again and rejudges to the same verdict; its refusal of bad configs
before any work; the held-out and attacked images never overlapping; the oracles' cache
specs; and its rule on made-up numbers, reaching each verdict on purpose."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tutorial_checks import assert_rejudged_the_same, forbid

TINY = {"oracles": ["A", "C+"], "k1": 4, "epochs": 1, "holdout": 16, "rounds": 2,
        "sub_epochs": 2, "n": 24, "seeds": [0, 1], "sweep": [2], "batch": 12,
        "ensemble": "quick", "ensemble_n": 12, "ensemble_iters": 2}


def test_tiny_run_writes_resumes_and_rejudges(tutorial, cifar_npz, tmp_path, monkeypatch):
    module = tutorial("galloway2018_cifar_substitute")
    out = tmp_path / "sub.json"
    config = {**TINY, "out": str(out)}
    result = module.main(config)
    assert result["n"] == 24 and result["data"] == "CIFAR-10" and not result["drawn"]
    assert result["train_images"] == 256 and "oracles" not in result["config"]
    assert sorted(result["oracles"]) == ["A", "C+"]
    for name, entry in result["oracles"].items():
        assert entry["spec"]["dataset"] == "cifar10" and entry["spec"]["k1"] == 4
        assert entry["spec"]["train_size"] == 256 and entry["key"].startswith(
            f"{name[0]}4-cifar10-")
        assert set(entry["runs"]) == {"0", "1"}
        for run in entry["runs"].values():
            assert run["sizes"] == [16, 32] and run["oracle_queries"] == 32
            assert run["lambdas"] == [-0.1] and set(run["sweep"]) == {"2/255"}
            assert len(run["robust"]) == 24 and set(run["robust"]) <= {"0", "1"}
            # robust = correct after the transfer attack and before it
            assert np.mean([c == "1" for c in run["robust"]]) <= run["clean_accuracy"] + 1e-9
        assert entry["transfer_accuracy"] == pytest.approx(
            np.mean([r["transfer_accuracy"] for r in entry["runs"].values()]))
        assert entry["ensemble"]["n"] == 12 and len(entry["ensemble"]["robust"]) == 12
        assert entry["worst_case_accuracy"] <= entry["ensemble"]["accuracy"] + 1e-9
        assert 0 <= entry["test_accuracy"] <= 1 and entry["logits"]["mean_abs_logit"] > 0
    assert result["oracles"]["C+"]["spec"]["adversary"] == {"kind": "fgsm", "eps_max": 0.3}
    summary = result["summary"]
    assert summary["verdict"] == "not comparable"  # k1=4 is no column of Table 5
    assert "no k1=4 column" in summary["why"]
    assert summary["command"].startswith(
        "python tutorials/galloway2018_cifar_substitute.py --oracles A C+")
    table = "\n".join(summary["table"])
    assert "| A | — |" in table and "| C+ | — |" in table and "eps 2/255" in table
    assert "CIFAR-10, 256 training images, k1 = 4, 1 epoch," in summary["tfbnn_scale"]
    assert "over 2 substitute seeds" in summary["tfbnn_scale"]
    assert out.with_suffix(".md").exists() and (tmp_path / "sub.png").exists()
    assert summary["plots"] == ["sub.png"]
    assert json.loads(out.read_text())["summary"] == summary

    # Resumed, and a run of a subset of the oracles: nothing is trained or attacked again.
    forbid(monkeypatch, module, ("substitute_blackbox_attack", "trained_model", "ensemble"))
    assert module.main(config)["oracles"] == result["oracles"]
    again = module.main({**config, "oracles": ["A"]})
    assert sorted(again["oracles"]) == ["A", "C+"]  # earlier oracles kept in the summary

    # Rejudged from the stored numbers alone: the same verdict, explanation and table.
    assert_rejudged_the_same(module, out)


def test_bad_config_is_refused_before_any_work(tutorial, cifar_npz, tmp_path):
    module = tutorial("galloway2018_cifar_substitute")
    out = str(tmp_path / "x.json")
    with pytest.raises(ValueError, match=r"oracles=\['A', 'S'\]: \['S'\].*choose from"):
        module.main({"oracles": ["A", "S"], "out": out})
    with pytest.raises(ValueError, match="n must be an int >= 1 or None, got 0"):
        module.main({"n": 0, "out": out})
    with pytest.raises(ValueError, match=r"seeds=\[\]: give a list of at least one int"):
        module.main({"seeds": [], "out": out})
    with pytest.raises(ValueError, match="eps=0: the FGSM radius must be in"):
        module.main({"eps": 0, "out": out})
    with pytest.raises(ValueError, match="ensemble='fast': choose one of"):
        module.main({"ensemble": "fast", "out": out})
    # the stand-in file of the fixture holds 64 test images: 60 + 16 overlap
    with pytest.raises(ValueError, match="n=60 attacked and holdout=16 held-out.*at most 48"):
        module.main({**TINY, "n": 60, "out": out})
    assert not (tmp_path / "x.json").exists() and not list((tmp_path / "cache").glob("*"))


def test_held_out_and_attacked_images_never_overlap(tutorial, tmp_path, monkeypatch):
    module = tutorial("galloway2018_cifar_substitute")
    rng = np.random.default_rng(1)
    y = np.sort(rng.integers(0, 10, 200))  # ordered by class, as the JPEG stand-in
    x = rng.integers(0, 256, (200, 32, 32, 3)).astype(np.uint8)
    x[:, 0, 0, 0] = np.arange(200)  # each image identifiable
    path = tmp_path / "ordered.npz"
    np.savez(path, x_train=x[:100], y_train=y[:100], x_test=x[100:], y_test=y[100:])
    monkeypatch.setenv("TFBNN_CIFAR10_PATH", str(path))
    holdout, xs, ys, drawn = module.test_split(60, 40)
    assert drawn and len(holdout) == 40 and len(xs) == 60
    ids = lambda a: set(np.round(a[:, 0, 0, 0] * 255).astype(int))  # noqa: E731
    assert not ids(holdout) & ids(xs) and len(ids(holdout) | ids(xs)) == 100
    assert len(np.unique(ys)) > 2  # a draw over the classes, not the first ones
    x_same, y_same, _ = module.cifar_test(60)  # the other CIFAR tutorials' images
    assert np.array_equal(x_same, xs) and np.array_equal(y_same, ys)
    holdout, xs, _, _ = module.test_split(None, 40)
    assert len(xs) == 60 and not ids(holdout) & ids(xs)


def test_oracle_specs(load_tutorial):
    module = load_tutorial("galloway2018_cifar_substitute")
    import _zoo

    cfg = dict(module.DEFAULT)
    for name in ("A", "B+", "C+"):
        spec = module.spec(name, cfg, 20_000)
        mnist = _zoo.model_spec(name, {**cfg, "train_size": 20_000})
        assert spec == {**mnist, "dataset": "cifar10"} and spec["epochs"] == 20
        assert _zoo.spec_key(spec).startswith(f"{name[0]}64-cifar10-")
        # an MNIST spec is the same with or without dataset="mnist" (cache keys unchanged)
        assert _zoo.spec_key(_zoo.model_spec(name, {**cfg, "dataset": "mnist"})) == \
            _zoo.spec_key(_zoo.model_spec(name, cfg))
    assert module.spec("C+", cfg, 20_000)["adversary"] == _zoo.ADVERSARIES["+"]
    assert _zoo.spec_key(module.spec("A", cfg, 20_000)) != _zoo.spec_key(
        module.spec("A", cfg, 50_000))  # the stand-in's and the real data's oracles


# --- the rule, on made-up numbers ---------------------------------------------------------


def _made_up(module, n=2000, k1=64, clean=0.6, **transfer):
    """Stored results with each oracle (``Ap`` for A+) at the given transfer accuracy (%)
    for all three substitute seeds; the sweep and the white-box numbers are placeholders."""
    oracles = {}
    for key, value in transfer.items():
        name = key.replace("p", "+")
        run = {"transfer_accuracy": value / 100, "clean_accuracy": clean, "agreement": 0.5,
               "sweep": {f"{p}/255": clean for p in module.DEFAULT["sweep"]},
               "robust": "1" * 5 + "0" * 245}
        oracles[name] = {"runs": {str(s): dict(run) for s in range(3)}, "key": "k",
                         "transfer_accuracy": value / 100, "clean_accuracy": clean,
                         "agreement": 0.5, "test_accuracy": clean,
                         "logits": {"mean_abs_logit": 3.0, "mean_margin": 1.0},
                         "ensemble": {"accuracy": 0.0, "robust": [0] * 250, "n": 250},
                         "worst_case_accuracy": 0.0}
    return {"config": {**module.DEFAULT, "k1": k1}, "data": "CIFAR-10 (JPEG stand-in, 20k "
            "train)", "n": n, "drawn": True, "train_images": 20_000, "oracles": oracles}


@pytest.fixture()
def table5(load_tutorial):
    return load_tutorial("galloway2018_cifar_substitute")


def _items(judged):
    return {what: outcome for check in judged["checks"] for what, outcome in check["items"]}


def test_rule_reproduced_as_the_paper_prints_it(table5):
    # Table 5, k1 64: A 23, A+ 16.8, C 20.2, C+ 24.1 (each pair the paper compares separated)
    results = _made_up(table5, A=23, Ap=16.8, C=20.2, Cp=24.1, B=15, Bp=14)
    summary = table5.resummarize(results)
    assert summary["verdict"] == "reproduced", summary["why"]
    assert _items(table5.judge(results)) == {
        "A transfer > C transfer": "holds", "C+ transfer > A+ transfer": "holds",
        "A transfer > A+ transfer": "holds", "C+ transfer > C transfer": "holds"}
    assert "B, B+: no row in Table 5" in summary["why"]
    table = "\n".join(summary["table"])
    assert "| A | 64.4 ± 0.6 | 60.0 | 60.0 | 23 ± 2 | 23.0 ± 0.0 | 50.0 |" in table
    assert "| B | — |" in table
    assert "CIFAR-10 (JPEG stand-in, 20k train), 20,000 training images" in \
        summary["tfbnn_scale"] and "(a seeded draw" in summary["tfbnn_scale"]
    assert summary["command"] == "python tutorials/galloway2018_cifar_substitute.py"


def test_rule_refuted_when_fgsm_training_helps_the_full_precision_oracle(table5):
    results = _made_up(table5, A=17, Ap=23, C=20.2, Cp=24.1)
    judged = table5.judge(results)
    assert judged["verdict"] == "refuted", judged["why"]
    assert _items(judged)["A transfer > A+ transfer"] == "opposite"


def test_rule_inconclusive_inside_the_noise(table5):
    # 1 point apart on 2,000 images x 3 seeds: 2 standard errors are about 1.4 points
    results = _made_up(table5, A=21, Ap=20, C=20, Cp=21)
    assert table5.judge(results)["verdict"] == "inconclusive"
    # the same gaps on 200,000 images are beyond the noise (and A > C, A+ < C+ hold)
    assert table5.judge(_made_up(table5, n=200_000, A=21, Ap=20, C=20, Cp=21))[
        "verdict"] == "reproduced"


def test_rule_saturated_or_other_k1_is_not_comparable(table5):
    results = _made_up(table5, A=0, Ap=0, C=0, Cp=0)
    judged = table5.judge(results)
    assert judged["verdict"] == "not comparable", judged["why"]
    assert set(_items(judged).values()) == {"saturated"}
    judged = table5.judge(_made_up(table5, k1=32, A=23, Ap=16.8, C=20.2, Cp=24.1))
    assert judged["verdict"] == "not comparable" and "no k1=32 column" in judged["why"]
    # k1 128: A vs A+ is inside the paper's own noise, so no claim; the other gaps (3.5 and
    # 3.8 points) are beyond 2 standard errors of 2,000 images, which the seeds share
    # (about 2.6 points)
    judged = table5.judge(_made_up(table5, k1=128, A=23.5, Ap=22, C=20, Cp=25.8))
    assert _items(judged)["A transfer vs A+ transfer"] is None
    assert judged["verdict"] == "reproduced"
