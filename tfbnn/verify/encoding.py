"""The CP-SAT encoding of "some input in the ball is misclassified".

Variables and constraints, for one example with label ``y`` (OR-Tools CP-SAT, whose
linear constraints over Booleans and integers and their enforcement literals are
native, so nothing is expanded into clauses):

- a pixel ``p_i`` is an integer variable over its levels ``[lo_i, hi_i]`` (a constant
  where ``lo_i == hi_i``);
- a hidden neuron is a Boolean ``b_j`` (output +1), tied to its integer threshold by one
  reified linear constraint, written as two half-reifications:
  ``b_j => d_j s_j >= t_j`` and ``not b_j => d_j s_j <= t_j - 1``, with ``s_j`` a
  weighted sum of pixels (first layer) or ``sum_k w_jk (2 b_k - 1)`` (later layers);
- an output neuron's sum ``s_j`` indexes its table of logit ranks (an element
  constraint), which reproduces Keras's float32 logits and its ``argmax`` exactly;
- ``OR_j z_j`` over the classes ``j != y`` that can win at all, with
  ``z_j => rank_j >= rank_y + [j > y]`` (the first of tied classes wins, as ``argmax``).

Feasible: a counterexample. Infeasible: no input in the ball is misclassified. With
``fixing=True`` the neurons that `interval_bounds` decides become constants and are left
out; a hint (the best attack point, all its activations) starts the search near an
adversarial region without changing the answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from tfbnn.verify.bounds import interval_bounds
from tfbnn.verify.network import IntegerNetwork

__all__ = ["Encoding", "encode", "solve"]


@dataclass
class Encoding:
    """A CP-SAT model of one example's question, or its answer when the bounds gave it.

    ``decided`` is ``"certified"`` when no other class can reach the label's logit over
    the bounds (no model is built); ``None`` otherwise.
    """

    model: cp_model.CpModel | None
    pixels: list = field(default_factory=list)
    decided: str | None = None
    free_neurons: int = 0
    fixed_neurons: int = 0


def _weighted(terms, coeffs):
    return cp_model.LinearExpr.WeightedSum(terms, coeffs) if terms else 0


def encode(network: IntegerNetwork, lo: np.ndarray, hi: np.ndarray, label: int, *,
           fixing: bool = True, hint: np.ndarray | None = None) -> Encoding:
    """Build the CP-SAT model for one example.

    # Arguments
        network: the `IntegerNetwork`.
        lo, hi: flat integer levels bounding each pixel (the ball, `IntegerNetwork.domain`).
        label: the true class.
        fixing: replace the neurons that interval bounds decide by constants.
        hint: flat levels inside ``[lo, hi]`` to hint, with all the activations they give.
    """
    lo, hi = np.asarray(lo, np.int64).ravel(), np.asarray(hi, np.int64).ravel()
    model = cp_model.CpModel()
    bounds = interval_bounds(network, lo, hi) if fixing else None
    hint_acts, hint_out = (None, None)
    if hint is not None:
        hint = np.clip(np.asarray(hint, np.int64).ravel(), lo, hi)
        acts, out_s = network.forward(hint[None])
        hint_acts, hint_out = [a[0] for a in acts], out_s[0]
    values: list = []
    for i in range(len(lo)):
        if lo[i] == hi[i]:
            values.append(int(lo[i]))
        else:
            var = model.NewIntVar(int(lo[i]), int(hi[i]), f"p{i}")
            if hint is not None:
                model.AddHint(var, int(hint[i]))
            values.append(var)
    pixels = list(values)
    free_neurons = fixed_neurons = 0
    boolean_inputs = False
    value_lo, value_hi = lo, hi
    for index, layer in enumerate(network.layers):
        s_lo, s_hi = layer.bounds(value_lo, value_hi)
        rows = []  # per neuron: (constant part of s, free terms, their weights)
        for j in range(layer.n_out):
            const, terms, coeffs = 0, [], []
            for k, w in zip(layer.fan_index[j], layer.fan_weight[j]):
                if w == 0:  # a ternary network's zero weight: no term (a sparser model)
                    continue
                v = layer.pad_value if k == layer.n_in else values[k]
                if isinstance(v, int):
                    const += int(w) * v
                else:
                    terms.append(v)
                    coeffs.append(int(w))
            if boolean_inputs:  # a = 2 b - 1: s = 2 sum w b - sum w + const
                const -= sum(coeffs)
            rows.append((const, terms, coeffs))
        if layer.is_output:
            return _output(model, network, rows, (s_lo, s_hi), boolean_inputs, label, pixels,
                           hint_out, free_neurons, fixed_neurons)
        new_values = []
        for j, (const, terms, coeffs) in enumerate(rows):
            if fixing and bounds[index].decided[j]:
                new_values.append(int(bounds[index].a_lo[j]))
                fixed_neurons += 1
                continue
            d, t = int(layer.direction[j]), int(layer.threshold[j])
            b = model.NewBoolVar(f"b{index}_{j}")
            if hint_acts is not None:
                model.AddHint(b, bool(hint_acts[index][j] > 0))
            new_values.append(b)
            free_neurons += 1
            if not terms:  # constant over the ball, kept as a variable (fixing off)
                model.Add(b == int(d * const >= t))
                continue
            scale = 2 if boolean_inputs else 1
            # d * (scale * sum + const) >= t  <=>  d * sum >= ceil((t - d const) / scale)
            need = -((-(t - d * const)) // scale)
            expr = _weighted(terms, [d * c for c in coeffs])
            model.Add(expr >= need).OnlyEnforceIf(b)
            model.Add(expr <= need - 1).OnlyEnforceIf(b.Not())
        values = new_values
        boolean_inputs = True
        value_lo = np.array([v if isinstance(v, int) else -1 for v in values], np.int64)
        value_hi = np.array([v if isinstance(v, int) else 1 for v in values], np.int64)
    raise AssertionError("unreachable: the last layer is the output layer")


def _output(model, network, rows, s_bounds, boolean_inputs, label, pixels, hint_out, free,
            fixed):
    out = network.layers[-1]
    scale = 2 if boolean_inputs else 1
    ranks, rank_range = [], []
    for j, (const, terms, coeffs) in enumerate(rows):
        s_lo, s_hi = int(s_bounds[0][j]), int(s_bounds[1][j])
        table = out.rank_table[j]
        reachable = table[s_lo + out.offset:s_hi + out.offset + 1]
        rank_range.append((int(reachable.min()), int(reachable.max())))
        if s_lo == s_hi:
            ranks.append(int(table[s_lo + out.offset]))
            continue
        idx = model.NewIntVar(s_lo + out.offset, s_hi + out.offset, f"s{j}")
        model.Add(idx == scale * _weighted(terms, coeffs) + const + out.offset)
        rank = model.NewIntVar(*rank_range[-1], f"r{j}")
        model.AddElement(idx, [int(v) for v in table], rank)
        if hint_out is not None:
            model.AddHint(idx, int(hint_out[j] + out.offset))
            model.AddHint(rank, int(table[hint_out[j] + out.offset]))
        ranks.append(rank)
    lowest_label = rank_range[label][0]
    rivals = [j for j in range(len(rows))
              if j != label and rank_range[j][1] >= lowest_label + (j > label)]
    if not rivals:
        return Encoding(None, pixels, "certified", free, fixed)
    wins = []
    for j in rivals:
        z = model.NewBoolVar(f"z{j}")
        model.Add(ranks[j] >= ranks[label] + int(j > label)).OnlyEnforceIf(z)
        if hint_out is not None:
            at = out.rank_table[np.arange(out.n_out), hint_out + out.offset]
            model.AddHint(z, bool(at[j] >= at[label] + (j > label)))
        wins.append(z)
    model.AddBoolOr(wins)
    return Encoding(model, pixels, None, free, fixed)


STATUS = {cp_model.OPTIMAL: "counterexample", cp_model.FEASIBLE: "counterexample",
          cp_model.INFEASIBLE: "certified", cp_model.UNKNOWN: "unknown"}


def solve(encoding: Encoding, *, time_limit: float, workers: int = 1,
          seed: int = 0) -> tuple[str, np.ndarray | None, float]:
    """Solve an `Encoding`: ``(status, levels of the counterexample or None, seconds)``.

    ``status`` is ``"certified"`` (infeasible), ``"counterexample"`` (feasible) or
    ``"unknown"`` (the time limit ran out first); ``seconds`` is CP-SAT's wall time.
    """
    if encoding.decided is not None:
        return encoding.decided, None, 0.0
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    started = time.perf_counter()
    code = solver.Solve(encoding.model)
    seconds = time.perf_counter() - started
    if code == cp_model.MODEL_INVALID:
        raise RuntimeError("CP-SAT rejected the model as invalid: "
                           f"{encoding.model.Validate()}; this is a bug in tfbnn.verify.")
    status = STATUS[code]
    if status != "counterexample":
        return status, None, seconds
    levels = np.array([v if isinstance(v, int) else solver.Value(v) for v in encoding.pixels],
                      np.int64)
    return status, levels, seconds
