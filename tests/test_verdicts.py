"""tutorials/_verdicts.py: every outcome and every verdict on made-up numbers, and every
rule file in tutorials/paper_numbers/rules/ loads and judges."""

from __future__ import annotations

import json
import math

import pytest


@pytest.fixture()
def v(load_tutorial):
    return load_tutorial("_verdicts")


def test_standard_error_combines_seeds_and_test_set(v):
    one = v.Estimate(50.0, n=10000)
    assert one.se == pytest.approx(100 * math.sqrt(0.25 / 10000))
    seeds = v.Estimate(50.0, std=2.0, runs=4)
    assert seeds.se == pytest.approx(1.0)
    both = v.Estimate(50.0, std=2.0, runs=4, n=10000)
    # the four runs share the same 10,000 images: their binomial noise is not divided by 4
    assert both.se == pytest.approx(math.hypot(1.0, 100 * math.sqrt(0.25 / 10000)))
    # At 0 % the plug-in variance would be 0; half an example keeps a band.
    assert v.Estimate(0.0, n=100).se > 0
    fraction = v.Estimate(0.5, n=10000, scale=1.0)
    assert fraction.se == pytest.approx(math.sqrt(0.25 / 10000))


@pytest.mark.parametrize("kwargs", [{"runs": 0}, {"std": -1.0}, {"n": 0}])
def test_estimate_rejects_bad_numbers(v, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        v.Estimate(1.0, **kwargs)


def test_over_seeds(v):
    e = v.over_seeds([1.0, 2.0, 3.0], n=1000)
    assert (e.mean, e.std, e.runs, e.n) == (2.0, 1.0, 3, 1000)
    assert e.text() == "2.0 ± 1.0"
    assert v.over_seeds([4.0]).std == 0.0 and v.over_seeds([4.0]).text() == "4.0"
    with pytest.raises(ValueError):
        v.over_seeds([])


def test_greater_all_outcomes(v):
    a, b = v.Estimate(80.0, 1.0, runs=3), v.Estimate(70.0, 1.0, runs=3)
    assert v.greater(a, b) == v.HOLDS
    assert v.greater(b, a) == v.OPPOSITE
    close = v.Estimate(70.5, 1.0, runs=3)
    assert v.greater(close, b) == v.INCONCLUSIVE
    # Both at 0 % (or both at 100 %) of 1,000 images: no difference can show.
    zero, zero2 = v.Estimate(0.0, n=1000), v.Estimate(0.0, n=1000)
    assert v.greater(zero, zero2) == v.SATURATED
    full = v.Estimate(100.0, n=1000)
    assert v.greater(full, v.Estimate(100.0, n=1000)) == v.SATURATED
    # One side saturated is still evidence.
    assert v.greater(v.Estimate(30.0, n=1000), zero) == v.HOLDS


def test_the_test_set_alone_can_make_a_gap_inconclusive(v):
    # 2 points apart on 200 images, one run each: inside binomial noise.
    assert v.greater(v.Estimate(52.0, n=200), v.Estimate(50.0, n=200)) == v.INCONCLUSIVE
    # The same gap on 100,000 images is real.
    assert v.greater(v.Estimate(52.0, n=100000), v.Estimate(50.0, n=100000)) == v.HOLDS


def test_within_uses_the_papers_spread_and_ours(v):
    paper = v.paper_cell([2.0, 0.2], runs=4)
    assert v.within(v.Estimate(2.5), paper, sigmas=3) == v.HOLDS
    assert v.within(v.Estimate(6.03), paper, sigmas=3) == v.FAILS  # Table 6's B+
    assert v.within(v.Estimate(2.9, std=1.0, runs=3), paper, sigmas=3) == v.HOLDS
    assert v.within(v.Estimate(2.9), v.paper_cell(2.0, runs=4), sigmas=3, floor=1.0) == v.HOLDS
    assert v.within(v.Estimate(3.1), v.paper_cell(2.0, runs=4), sigmas=3, floor=1.0) == v.FAILS


@pytest.mark.parametrize("outcomes, expected", [
    (["holds", "holds"], "reproduced"),
    (["holds", "saturated"], "reproduced"),
    (["holds", "fails"], "not reproduced"),
    (["holds", "inconclusive"], "inconclusive"),
    (["inconclusive", "fails"], "not reproduced"),
    (["holds", "opposite", "fails"], "refuted"),
    (["saturated", "saturated"], "not comparable"),
    ([], "not comparable"),
])
def test_verdict_folding(v, outcomes, expected):
    assert v.verdict(outcomes) == expected
    assert expected in v.VERDICTS


def test_verdict_rejects_unknown_outcomes(v):
    with pytest.raises(ValueError, match="unknown check outcome"):
        v.verdict(["holds", "yes"])


def _rule(*checks):
    return {"tutorial": "made_up", "claim": "a made-up claim", "checks": list(checks),
            "paper_file": "made_up.json", "paper_runs": 4}


ORDER = {"id": "order", "kind": "paper_order", "claim": "the paper's order",
         "groups": [["A", "B", "C"]]}


def _paper(**cells):
    return {k: v_ for k, v_ in cells.items()}


def test_paper_order_skips_pairs_inside_the_papers_noise(v):
    # Galloway Table 1 at k1=64, eps 0.1: A 74 +- 4, B 75 +- 2, C 56 +- 7 over 4 runs.
    paper = {"A": v.paper_cell([74, 4], 4), "B": v.paper_cell([75, 2], 4),
             "C": v.paper_cell([56, 7], 4)}
    ours = {"A": v.Estimate(70.0, n=10000), "B": v.Estimate(60.0, n=10000),
            "C": v.Estimate(50.0, n=10000)}
    result = v.judge(_rule(ORDER), ours, paper)
    items = dict(result["checks"][0]["items"])
    assert items["A vs B"] is None  # the paper does not separate A and B: no claim
    assert items["A > C"] == v.HOLDS and items["B > C"] == v.HOLDS
    assert result["verdict"] == "reproduced"
    assert "not a claim" in result["why"] and "Verdict: reproduced." in result["why"]


def test_judge_reproduces_fails_is_inconclusive_or_saturated(v):
    paper = {"A": v.paper_cell([90, 1], 4), "B": v.paper_cell([50, 1], 4)}
    magnitude = {"id": "magnitude", "kind": "within_paper", "claim": "the paper's values",
                 "sigmas": 3, "floor": 2.0}
    rule = _rule(dict(ORDER, groups=[["A", "B"]]), magnitude)
    good = {"A": v.Estimate(89.0, n=10000), "B": v.Estimate(51.0, n=10000)}
    assert v.judge(rule, good, paper)["verdict"] == "reproduced"
    off = {"A": v.Estimate(80.0, n=10000), "B": v.Estimate(51.0, n=10000)}
    assert v.judge(rule, off, paper)["verdict"] == "not reproduced"
    reversed_ = {"A": v.Estimate(40.0, n=10000), "B": v.Estimate(50.0, n=10000)}
    assert v.judge(rule, reversed_, paper)["verdict"] == "refuted"
    small = {"A": v.Estimate(54.0, n=50), "B": v.Estimate(50.0, n=50)}
    assert v.judge(_rule(dict(ORDER, groups=[["A", "B"]])), small, paper)["verdict"] == \
        "inconclusive"
    zeros = {"A": v.Estimate(0.0, n=1000), "B": v.Estimate(0.0, n=1000)}
    assert v.judge(_rule(dict(ORDER, groups=[["A", "B"]])), zeros, paper)["verdict"] == \
        "not comparable"


def test_greater_check_and_changes_are_explained(v):
    rule = _rule({"id": "g", "kind": "greater", "claim": "B beats A", "a": "B", "b": "A"})
    rule["changes"] = [{"date": "2026-12-01", "what": "PGD recipe", "why": "authors' code"}]
    result = v.judge(rule, {"A": v.Estimate(10.0, n=1000), "B": v.Estimate(30.0, n=1000)}, {})
    assert result["verdict"] == "reproduced"
    assert result["checks"][0]["items"] == [["B > A", "holds"]]
    assert "Rule changed 2026-12-01: PGD recipe (authors' code)" in result["why"]


def test_load_rule_errors_name_the_problem(v, tmp_path):
    with pytest.raises(FileNotFoundError, match="no rule file"):
        v.load_rule("missing", tmp_path)
    (tmp_path / "bad.json").write_text(json.dumps({"tutorial": "bad", "claim": "c",
                                                   "paper_file": "x", "paper_runs": 4}))
    with pytest.raises(ValueError, match="lacks 'checks'"):
        v.load_rule("bad", tmp_path)
    (tmp_path / "kind.json").write_text(json.dumps(_rule({"id": "x", "kind": "vibes",
                                                         "claim": "c"})))
    with pytest.raises(ValueError, match="has kind 'vibes'"):
        v.load_rule("kind", tmp_path)


def test_greater_margin_and_ties(v):
    a, b = v.Estimate(80.0, 1.0, runs=3), v.Estimate(70.0, 1.0, runs=3)
    assert v.greater(a, b, margin=5.0) == v.HOLDS
    assert v.greater(a, b, margin=20.0) == v.OPPOSITE  # the claimed effect is clearly not there
    assert v.greater(a, b, margin=9.0) == v.INCONCLUSIVE
    # Non-inferiority: 69 is "not below 70 by more than 5" beyond the noise.
    assert v.greater(v.Estimate(69.0, 0.5, runs=3), b, margin=-5.0) == v.HOLDS
    assert v.greater(v.Estimate(60.0, 0.5, runs=3), b, margin=-5.0) == v.OPPOSITE
    # Two noiseless equal numbers (28.0 = sqrt(784) for every model): a tie, no evidence.
    assert v.greater(v.Estimate(28.0), v.Estimate(28.0)) == v.SATURATED
    assert v.greater(v.Estimate(28.1), v.Estimate(28.0)) == v.HOLDS


def test_above_and_in_range(v):
    assert v.above(v.Estimate(95.0, n=1000), 90.0) == v.HOLDS
    assert v.above(v.Estimate(85.0, n=1000), 90.0) == v.OPPOSITE
    assert v.above(v.Estimate(90.5, n=1000), 90.0) == v.INCONCLUSIVE
    # Figure 5's logit ratio: 2.07 with a band of +- 0.1 against the band 2-8.
    ratio = v.Estimate(2.07, std=0.05, runs=1, scale=1.0)
    assert v.in_range(ratio, 2.0, 8.0) == v.INCONCLUSIVE
    assert v.in_range(v.Estimate(4.0, std=0.05, scale=1.0), 2.0, 8.0) == v.HOLDS
    assert v.in_range(v.Estimate(1.5, std=0.05, scale=1.0), 2.0, 8.0) == v.FAILS
    assert v.in_range(v.Estimate(9.0, std=0.05, scale=1.0), 2.0, 8.0) == v.FAILS
    with pytest.raises(ValueError, match="low=3"):
        v.in_range(v.Estimate(1.0), 3.0, 2.0)


def test_each_min_and_not_run_cells(v):
    check = {"id": "pp", "kind": "greater", "claim": "PGD leaves more than the better PGD++",
             "each": {"model": ["B", "C"], "eps": ["0.1", "0.3"]},
             "a": "{model} eps={eps} PGD",
             "b": {"min": ["{model} eps={eps} PGD++ NJS", "{model} eps={eps} PGD++ HNS"]}}
    ours = {"B eps=0.1 PGD": v.Estimate(40.0, n=1000),
            "B eps=0.1 PGD++ NJS": v.Estimate(20.0, n=1000),
            "B eps=0.1 PGD++ HNS": v.Estimate(10.0, n=1000),
            "B eps=0.3 PGD": v.Estimate(0.0, n=1000),
            "B eps=0.3 PGD++ NJS": v.Estimate(0.0, n=1000),
            "C eps=0.1 PGD": v.Estimate(40.0, n=1000),
            "C eps=0.1 PGD++ HNS": v.Estimate(42.0, n=1000)}
    result = v.judge(_rule(check), ours, {})
    items = dict(result["checks"][0]["items"])
    assert items == {"B eps=0.1 PGD > B eps=0.1 PGD++ HNS": v.HOLDS,
                     "B eps=0.3 PGD > B eps=0.3 PGD++ NJS": v.SATURATED,
                     "C eps=0.1 PGD > C eps=0.1 PGD++ HNS": v.INCONCLUSIVE,
                     "C eps=0.3 PGD > min(C eps=0.3 PGD++ NJS, C eps=0.3 PGD++ HNS)": v.NOT_RUN}
    assert result["verdict"] == "inconclusive"  # saturated and not-run items count for nothing
    assert "1 not run" in result["why"]
    ours["C eps=0.1 PGD++ HNS"] = v.Estimate(60.0, n=1000)
    assert v.judge(_rule(check), ours, {})["verdict"] == "refuted"
    ours["C eps=0.1 PGD++ HNS"] = v.Estimate(5.0, n=1000)
    assert v.judge(_rule(check), ours, {})["verdict"] == "reproduced"
    nothing = {k: v.Estimate(0.0, n=1000) for k in ours}
    assert v.judge(_rule(check), nothing, {})["verdict"] == "not comparable"


@pytest.mark.parametrize("kind, extra, value, expected", [
    ("above", {"value": 90}, 95.0, "reproduced"),
    ("above", {"value": 90}, 80.0, "refuted"),
    ("above", {"value": 90}, 90.5, "inconclusive"),
    ("below", {"value": 10}, 5.0, "reproduced"),
    ("below", {"value": 10}, 20.0, "refuted"),
    ("in_range", {"low": 2, "high": 8}, 4.0, "reproduced"),
    ("in_range", {"low": 2, "high": 8}, 12.0, "not reproduced"),
    ("in_range", {"low": 2, "high": 8}, 7.95, "inconclusive"),
])
def test_bound_kinds_through_judge(v, kind, extra, value, expected):
    rule = _rule({"id": "x", "kind": kind, "claim": "c", "a": "m", **extra})
    assert v.judge(rule, {"m": v.Estimate(value, n=1000)}, {})["verdict"] == expected


def test_equals_labels(v):
    rule = _rule({"id": "fig1", "kind": "equals", "claim": "the iterations check warns",
                  "each": {"model": ["B", "C"]}, "a": "{model} iterations", "value": "WARN"})
    assert v.judge(rule, {"B iterations": "WARN", "C iterations": "WARN"}, {})["verdict"] == \
        "reproduced"
    assert v.judge(rule, {"B iterations": "WARN", "C iterations": "PASS"}, {})["verdict"] == \
        "not reproduced"
    assert v.judge(rule, {}, {})["verdict"] == "not comparable"


def test_load_rule_checks_each_kinds_fields(v, tmp_path):
    (tmp_path / "r.json").write_text(json.dumps(_rule({"id": "x", "kind": "in_range",
                                                      "claim": "c", "a": "m", "low": 1})))
    with pytest.raises(ValueError, match="check 'x' lacks 'high'"):
        v.load_rule("r", tmp_path)
    assert set(v.REQUIRED) == set(v.KINDS)


PAPER_KINDS = ("paper_order", "within_paper")


def test_every_committed_rule_file_loads_and_names_real_cells(v):
    files = sorted(v.RULES.glob("*.json"))
    assert {p.stem for p in files} >= {"galloway2018_clean_variants", "galloway2018_table1",
                                       "galloway2018_table2"}
    for path in files:
        rule = v.load_rule(path.stem)
        assert rule["tutorial"] == path.stem
        paper = json.loads((v.RULES.parent / rule["paper_file"]).read_text())
        for check in rule["checks"]:
            if check["kind"] not in PAPER_KINDS:
                continue
            for binding in v._bindings(check):
                named = [c for g in check.get("groups", []) for c in g] + check.get("cells", [])
                named = [c.format_map(binding) for c in named]
                missing = [c for c in named if c not in paper["rows"]]
                assert not missing, (path.name, check["id"], missing)
