"""Every committed verdict is the one its rule gives on its numbers today.

``make_results.py --rejudge`` recomputes each tutorial's summary from its stored results
with the rule files as they are now (``resummarize``; nothing trained or attacked). Run
on a copy of tutorials/results/, it must leave every verdict and explanation as committed:
a rule edited without rejudging, or a summary edited by hand, fails here.
"""

from __future__ import annotations

import json
import shutil

import pytest


@pytest.fixture()
def make_results(load_tutorial, tmp_path, monkeypatch):
    module = load_tutorial("make_results")
    copy = tmp_path / "results"
    shutil.copytree(module.RESULTS, copy)
    monkeypatch.setattr(module, "RESULTS", copy)
    monkeypatch.setattr(module, "OUT", tmp_path / "RESULTS.md")
    return module


def test_every_tutorial_can_be_rejudged(make_results):
    for name, _, _, command, _ in make_results.SECTIONS:
        script = command.split()[1].removeprefix("tutorials/").removesuffix(".py")
        module = __import__(script)
        assert callable(getattr(module, "resummarize", None)), script


def test_rejudging_the_committed_results_changes_no_verdict(make_results):
    before = {p.name: json.loads(p.read_text()) for p in make_results.RESULTS.glob("*.json")}
    done = make_results.rejudge()
    assert done, "nothing was rejudged"
    for name in done:
        after = json.loads((make_results.RESULTS / name).read_text())
        old, new = before[name].get("summary", {}), after["summary"]
        assert new["verdict"] == old.get("verdict"), name
        assert new["why"] == old.get("why"), name
        assert new["table"] == old.get("table"), name
        # Only the summary may change: the measurements are untouched.
        assert {k: v for k, v in after.items() if k != "summary"} == \
            {k: v for k, v in before[name].items() if k != "summary"}, name


def test_rejudge_uses_the_rule_as_it_is_now(make_results, monkeypatch):
    """Changing a committed rule changes the rejudged verdict (the test above can fail)."""
    import _verdicts

    real = _verdicts.load_rule

    def strict(name, *args, **kwargs):
        rule = real(name, *args, **kwargs)
        if name == "galloway2018_clean_variants":
            rule = {**rule, "checks": [{"id": "impossible", "kind": "above", "a": "A",
                                        "value": 50.0, "claim": "A errs on half the images"}]}
        return rule

    monkeypatch.setattr(_verdicts, "load_rule", strict)
    make_results.rejudge()
    after = json.loads((make_results.RESULTS / "galloway2018_clean_variants.json").read_text())
    assert after["summary"]["verdict"] == "refuted"
    assert "A errs on half the images" in after["summary"]["why"]


def test_a_one_seed_result_is_judged_as_that_seed(load_tutorial):
    common = load_tutorial("_common")
    legacy = {"A": {"test_error_pct": 1.0}, "B": {"test_error_pct": 2.0}}
    models, converted = common.by_seed(legacy, 1234)
    assert converted and models == {"A": {"1234": {"test_error_pct": 1.0}},
                                    "B": {"1234": {"test_error_pct": 2.0}}}
    seeded = {"A": {"1234": {"test_error_pct": 1.0}, "1235": {"test_error_pct": 1.1}}}
    assert common.by_seed(seeded, 1234) == (seeded, False)


def test_the_overview_names_each_section_once(make_results):
    """A --full section keeps its mark in the one-paragraph overview: without it the two
    exact-gap sections read as the same item twice."""
    assert make_results._short("Gupta & Ajanthan, Figure 2 against the truth (exact) "
                               "(--full)") == "Figure 2 against the truth (--full)"
    text = make_results.main().read_text()
    overview = text.split("\n\n")[2]
    for group in overview.split(". "):
        items = group.split(": ", 1)[-1].split("; ")
        assert len(items) == len(set(items)), group
