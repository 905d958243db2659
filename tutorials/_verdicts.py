"""Verdicts a reviewer would accept: one vocabulary, rules as data, noise and saturation.

A tutorial's rule is a JSON file in ``tutorials/paper_numbers/rules/``, committed before
the run it judges (git history shows the order), written as the claims it tests::

    {"tutorial": "galloway2018_clean_variants",
     "paper_file": "galloway2018_table6.json", "paper_runs": 4,
     "claim": "Table 6: ...",
     "checks": [
       {"id": "order", "kind": "paper_order", "groups": [["A", "B", "C"]],
        "claim": "clean error keeps the paper's order where the paper separates it"},
       {"id": "magnitude", "kind": "within_paper", "cells": ["B+", "C+"], "sigmas": 3,
        "claim": "each cell lies within 3 of the paper's standard deviations"}],
     "changes": [{"date": "...", "what": "...", "why": "..."}]}

Every check compares `Estimate` s (a mean with its noise: the spread over training seeds
and the binomial noise of a finite test set) and has one outcome:

- ``holds``: the claimed difference is there beyond ``z`` standard errors;
- ``opposite``: the reverse difference is there beyond ``z`` standard errors;
- ``inconclusive``: the difference lies inside the noise;
- ``fails``: a magnitude lies outside the paper's spread (``within_paper``);
- ``saturated``: both sides sit at the floor or the ceiling (0 or 100 %), where no
  difference can show; such a check counts neither for nor against the claim.

`verdict` folds the outcomes into one of `VERDICTS`: ``not comparable`` when nothing
countable is left (or the tutorial's setting differs from the paper's: the tutorial says
so before calling this), else ``refuted`` if any claim goes the other way beyond the
noise, ``not reproduced`` if a magnitude misses, ``inconclusive`` if some claims sit
inside the noise, and ``reproduced`` only when every countable claim holds.

Check kinds (`KINDS`; each names its cells in the rule, and a cell the run did not
measure is listed as ``not run`` and counts for nothing):

- ``greater``: ``a`` exceeds ``b`` (by more than ``margin``, default 0; a negative margin
  states "not below by more than"), beyond the noise of both;
- ``above`` / ``below``: ``a`` lies above / below the constant ``value``;
- ``in_range``: ``a`` lies inside ``[low, high]`` (``fails`` when clearly outside);
- ``equals``: a label (a diagnostic's PASS / WARN, say) equals ``value``;
- ``within_paper``: ``cells`` lie within ``sigmas`` of the paper's standard deviations;
- ``paper_order``: each group keeps the paper's order where the paper's noise separates it.

A check may carry ``"each": {"model": ["B", "C"], "eps": ["0.1", "0.3"]}``: it is
applied once per combination, with ``{model}`` and ``{eps}`` filled into its cell names.
A cell name may also be ``{"min": [names]}`` or ``{"max": [names]}``: the measured cell
with the lowest (highest) mean among those present (the stronger of two attacks, say).

Written here rather than taken from a library: no statistics package has verdicts for
paper claims; the arithmetic is a two-sided z-band on a difference of means.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

RULES = Path(__file__).parent / "paper_numbers" / "rules"

REPRODUCED, NOT_REPRODUCED, REFUTED = "reproduced", "not reproduced", "refuted"
INCONCLUSIVE, NOT_COMPARABLE = "inconclusive", "not comparable"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, REFUTED, INCONCLUSIVE, NOT_COMPARABLE)

HOLDS, OPPOSITE, FAILS, SATURATED = "holds", "opposite", "fails", "saturated"
OUTCOMES = (HOLDS, OPPOSITE, INCONCLUSIVE, FAILS, SATURATED)
Z = 2.0
"""Standard errors a difference must exceed to count (about a 95 % two-sided band)."""


@dataclass(frozen=True)
class Estimate:
    """A measured (or printed) number with what is known of its noise.

    # Arguments
        mean: the value, in ``scale`` units (100: percent; 1: a fraction).
        std: the standard deviation over independent ``runs`` (training seeds); 0 for one.
        runs: how many runs ``mean`` averages.
        n: test examples behind each run's value, when it is an accuracy or error rate:
            adds the binomial noise of a finite test set. Every run is measured on the
            same ``n`` images (each tutorial's first or seeded-drawn test images), so that
            noise is shared by the runs and does not shrink with their number. None when
            unknown (the paper's cells) or not a rate.
        scale: 100 for percent, 1 for fractions.
    """

    mean: float
    std: float = 0.0
    runs: int = 1
    n: int | None = None
    scale: float = 100.0

    def __post_init__(self):
        if self.runs < 1:
            raise ValueError(f"Estimate runs={self.runs} must be >= 1")
        if self.std < 0:
            raise ValueError(f"Estimate std={self.std} must be >= 0")
        if self.n is not None and self.n < 1:
            raise ValueError(f"Estimate n={self.n} must be >= 1 (or None)")

    @property
    def se(self) -> float:
        """The standard error of ``mean``: the seeds' spread (over ``runs``) and the
        binomial noise of the ``n`` test images, which every run shares (not divided by
        ``runs``: averaging training seeds does not average over other images)."""
        variance = self.std ** 2 / self.runs
        if self.n is not None:
            p = min(max(self.mean / self.scale, 0.0), 1.0)
            # At p = 0 or 1 the plug-in variance is 0; half an example keeps it honest.
            p = min(max(p, 0.5 / self.n), 1 - 0.5 / self.n)
            variance += (self.scale ** 2) * p * (1 - p) / self.n
        return math.sqrt(variance)

    def at_floor(self) -> bool:
        return self.n is not None and self.mean * self.n / self.scale < 0.5

    def at_ceiling(self) -> bool:
        return self.n is not None and self.mean * self.n / self.scale > self.n - 0.5

    def text(self, digits: int = 1) -> str:
        """``mean ± std`` (std over runs), or the mean alone for one run."""
        if self.runs > 1:
            return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"
        return f"{self.mean:.{digits}f}"


def paper_cell(cell, runs: int) -> Estimate:
    """A paper's printed ``[mean, std]`` (std over ``runs``) or a bare number."""
    if isinstance(cell, (list, tuple)):
        mean, std = cell
        return Estimate(float(mean), float(std), runs=runs)
    return Estimate(float(cell), 0.0, runs=1)


def over_seeds(values, n: int | None = None, scale: float = 100.0) -> Estimate:
    """The mean ± sample std of one number measured once per training seed."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("over_seeds needs at least one value")
    mean = sum(values) / len(values)
    std = (math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
           if len(values) > 1 else 0.0)
    return Estimate(mean, std, runs=len(values), n=n, scale=scale)


def greater(a: Estimate, b: Estimate, z: float = Z, margin: float = 0.0) -> str:
    """The claim ``a > b + margin``: `HOLDS`, `OPPOSITE`, `INCONCLUSIVE` or `SATURATED`.

    Saturated: both at the floor or both at the ceiling, or an exact tie of two noiseless
    numbers (a quantity that is the same for every model by construction); neither can
    show a difference. ``margin`` < 0 states non-inferiority ("``a`` is not below ``b``
    by more than ``-margin``"), and `OPPOSITE` then means it is, beyond the noise.
    """
    if (a.at_floor() and b.at_floor()) or (a.at_ceiling() and b.at_ceiling()):
        return SATURATED
    band = z * math.hypot(a.se, b.se)
    if band == 0 and a.mean == b.mean:
        return SATURATED
    difference = a.mean - b.mean - margin
    if difference > band:
        return HOLDS
    if difference < -band:
        return OPPOSITE
    return INCONCLUSIVE


def above(a: Estimate, value: float, z: float = Z) -> str:
    """The claim ``a > value`` for a constant ``value``: `HOLDS`, `OPPOSITE` or
    `INCONCLUSIVE` (``value`` inside ``a``'s band)."""
    return greater(a, Estimate(float(value)), z)


def in_range(a: Estimate, low: float, high: float, z: float = Z) -> str:
    """The claim ``low <= a <= high``: `HOLDS` when ``a``'s whole band lies inside, `FAILS`
    when it lies wholly outside, else `INCONCLUSIVE`."""
    if low > high:
        raise ValueError(f"in_range low={low} must be <= high={high}")
    band = z * a.se
    if low <= a.mean - band and a.mean + band <= high:
        return HOLDS
    if a.mean + band < low or a.mean - band > high:
        return FAILS
    return INCONCLUSIVE


def separated(a: Estimate, b: Estimate, z: float = Z) -> bool:
    """Whether ``a`` and ``b`` differ beyond ``z`` standard errors (a paper's own pair)."""
    return abs(a.mean - b.mean) > z * math.hypot(a.se, b.se)


def within(ours: Estimate, paper: Estimate, sigmas: float, floor: float = 0.0,
           z: float = Z) -> str:
    """The claim that ``ours`` matches ``paper``'s magnitude: within ``sigmas`` of the
    paper's standard deviations (at least ``floor`` units), widened by ``z`` of our own
    standard errors. `HOLDS` or `FAILS`."""
    tolerance = max(sigmas * paper.std, floor) + z * ours.se
    return HOLDS if abs(ours.mean - paper.mean) <= tolerance else FAILS


def verdict(outcomes) -> str:
    """One of `VERDICTS` from the checks' outcomes (see the module docstring)."""
    outcomes = list(outcomes)
    unknown = [o for o in outcomes if o not in OUTCOMES]
    if unknown:
        raise ValueError(f"unknown check outcome(s) {unknown}; expected {OUTCOMES}")
    counted = [o for o in outcomes if o != SATURATED]
    if not counted:
        return NOT_COMPARABLE
    if OPPOSITE in counted:
        return REFUTED
    if FAILS in counted:
        return NOT_REPRODUCED
    if INCONCLUSIVE in counted:
        return INCONCLUSIVE
    return REPRODUCED


def load_rule(name: str, directory: Path = RULES) -> dict:
    """The rule file ``directory/name.json``, checked for the fields `judge` needs."""
    path = Path(directory) / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no rule file {path}: write the claim the tutorial tests "
                                "there (and commit it) before running it")
    rule = json.loads(path.read_text())
    for field in ("tutorial", "claim", "checks", "paper_file", "paper_runs"):
        if field not in rule:
            raise ValueError(f"rule file {path} lacks {field!r}")
    for check in rule["checks"]:
        if check.get("kind") not in KINDS:
            raise ValueError(f"rule file {path}: check {check.get('id')!r} has kind "
                             f"{check.get('kind')!r}; expected one of {sorted(KINDS)}")
        for field in ("id", "claim") + REQUIRED[check["kind"]]:
            if field not in check:
                raise ValueError(f"rule file {path}: check {check.get('id')!r} lacks "
                                 f"{field!r}: {check}")
    return rule


NOT_RUN = "not run"
"""An item whose cell the run did not measure: listed, and counted for nothing."""


def _cell(ref, ours, binding: dict):
    """``(name, value)`` of a rule's cell reference in ``ours``, or ``(name, None)`` when not
    measured. ``ref``: a name (``{model}``-style fields filled from ``binding``), or
    ``{"min": [names]}`` / ``{"max": [names]}`` (the lowest / highest measured mean)."""
    if isinstance(ref, dict):
        (how, names), = ref.items()
        if how not in ("min", "max"):
            raise ValueError(f"cell reference {ref}: expected 'min' or 'max'")
        present = [(n, ours[n]) for n in (name.format_map(binding) for name in names)
                   if n in ours]
        if not present:
            return f"{how}({', '.join(n.format_map(binding) for n in names)})", None
        pick = (min if how == "min" else max)(present, key=lambda item: item[1].mean)
        return pick
    name = ref.format_map(binding)
    return name, ours.get(name)


def _bindings(check) -> list[dict]:
    """One dict of field values per combination of the check's ``each`` (one empty dict
    without it)."""
    each = check.get("each") or {}
    keys = list(each)
    return [dict(zip(keys, values)) for values in itertools.product(*(each[k] for k in keys))]


def _greater_check(check, ours, paper):
    rows = []
    for binding in _bindings(check):
        (a, x), (b, y) = _cell(check["a"], ours, binding), _cell(check["b"], ours, binding)
        margin = check.get("margin", 0.0)
        what = f"{a} > {b}" + (f" {'+' if margin > 0 else '-'} {abs(margin):g}" if margin else "")
        rows.append((what, NOT_RUN if x is None or y is None else
                     greater(x, y, check.get("z", Z), margin)))
    return rows


def _bound_check(direction: str):
    def check_fn(check, ours, paper):
        rows = []
        for binding in _bindings(check):
            a, x = _cell(check["a"], ours, binding)
            value = float(check["value"])
            if x is None:
                rows.append((f"{a} {direction} {value:g}", NOT_RUN))
                continue
            if direction == ">":
                outcome = above(x, value, check.get("z", Z))
            else:
                outcome = greater(Estimate(value), x, check.get("z", Z))
            rows.append((f"{a} {direction} {value:g}", outcome))
        return rows
    return check_fn


def _in_range_check(check, ours, paper):
    rows = []
    for binding in _bindings(check):
        a, x = _cell(check["a"], ours, binding)
        what = f"{check['low']:g} <= {a} <= {check['high']:g}"
        rows.append((what, NOT_RUN if x is None else
                     in_range(x, check["low"], check["high"], check.get("z", Z))))
    return rows


def _equals_check(check, ours, paper):
    rows = []
    for binding in _bindings(check):
        a, x = _cell(check["a"], ours, binding)
        rows.append((f"{a} is {check['value']}", NOT_RUN if x is None else
                     HOLDS if x == check["value"] else FAILS))
    return rows


def _paper_order_check(check, ours, paper):
    """Every pair of a group the paper itself separates keeps the paper's direction;
    pairs inside the paper's noise are no claim and are listed as skipped."""
    rows = []
    for binding in _bindings(check):
        for group in check["groups"]:
            names = [c.format_map(binding) for c in group]
            present = [c for c in names if c in ours and c in paper]
            for a, b in itertools.combinations(present, 2):
                if not separated(paper[a], paper[b], check.get("z", Z)):
                    rows.append((f"{a} vs {b}", None))
                    continue
                top, bottom = (a, b) if paper[a].mean > paper[b].mean else (b, a)
                rows.append((f"{top} > {bottom}", greater(ours[top], ours[bottom],
                                                        check.get("z", Z))))
    return rows


def _within_paper_check(check, ours, paper):
    rows = []
    for binding in _bindings(check):
        cells = ([c.format_map(binding) for c in check["cells"]] if check.get("cells")
                 else [c for c in paper if c in ours])
        rows += [(c, within(ours[c], paper[c], check["sigmas"], check.get("floor", 0.0),
                            check.get("z", Z))) for c in cells if c in ours and c in paper]
    return rows


KINDS = {"greater": _greater_check, "above": _bound_check(">"), "below": _bound_check("<"),
         "in_range": _in_range_check, "equals": _equals_check,
         "paper_order": _paper_order_check, "within_paper": _within_paper_check}
"""What each check ``kind`` of a rule file does with tfbnn's and the paper's estimates."""

REQUIRED = {"greater": ("a", "b"), "above": ("a", "value"), "below": ("a", "value"),
            "in_range": ("a", "low", "high"), "equals": ("a", "value"),
            "paper_order": ("groups",), "within_paper": ("sigmas",)}
"""The fields each kind needs besides ``id``, ``kind`` and ``claim``."""


def judge(rule: dict, ours: Mapping[str, Estimate], paper: Mapping[str, Estimate]) -> dict:
    """Apply ``rule`` to tfbnn's and the paper's estimates (cell name -> `Estimate`).

    Returns ``{"verdict", "checks": [{"id", "claim", "items": [[what, outcome]]}],
    "why"}``; an item whose outcome is None was not a claim (a pair inside the paper's
    own noise) and is left out of the verdict.
    """
    checks, outcomes = [], []
    for check in rule["checks"]:
        items = KINDS[check["kind"]](check, ours, paper)
        checks.append({"id": check["id"], "claim": check["claim"],
                       "items": [[what, outcome] for what, outcome in items]})
        outcomes += [o for _, o in items if o not in (None, NOT_RUN)]
    result = verdict(outcomes)
    return {"verdict": result, "checks": checks, "why": explain(rule, checks, result)}


def explain(rule: dict, checks: list, result: str) -> str:
    """The rule and its outcomes in words, for RESULTS.md."""
    parts = [f"Rule ({rule['claim']}), from tutorials/paper_numbers/rules/"
             f"{rule['tutorial']}.json:"]
    for check in checks:
        counts = {}
        for _, outcome in check["items"]:
            key = outcome or "not a claim (inside the paper's own noise)"
            counts[key] = counts.get(key, 0) + 1
        listed = "; ".join(f"{what}: {outcome or 'skipped'}" for what, outcome in check["items"])
        summary = ", ".join(f"{v} {k}" for k, v in counts.items()) or "nothing to check"
        parts.append(f"{check['claim']} [{summary}] ({listed}).")
    for change in rule.get("changes", []):
        parts.append(f"Rule changed {change['date']}: {change['what']} ({change['why']}).")
    return " ".join(parts) + f" Verdict: {result}."


def finding(rule: dict, ours: dict) -> str:
    """The rule's ``findings`` judged on ``ours``, in words labelled as tfbnn's finding
    (empty without findings): a comparison the paper does not make, beside the verdict."""
    if not rule.get("findings"):
        return ""
    judged = judge({**rule, "checks": rule["findings"]}, ours, {})
    parts = []
    for check in judged["checks"]:
        items = "; ".join(f"{what}: {outcome}" for what, outcome in check["items"])
        parts.append(f"{check['claim']} ({items})")
    return (f"Finding in tfbnn's setting, {rule['findings_note']}: "
            + " ".join(parts) + f"; on these numbers the finding reads '{judged['verdict']}'.")
