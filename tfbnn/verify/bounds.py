"""Interval bounds of every neuron over the ball, and the neurons they decide.

Over a box of integer inputs ``lo <= a <= hi`` a binary layer's pre-activation
``s_j = sum_k w_jk a_k`` lies in ``[sum_k min(w_jk lo_k, w_jk hi_k), sum_k max(...)]``.
A hidden neuron whose threshold test ``direction * s >= threshold`` has the same answer
at both ends is decided over the whole ball: it is a constant +-1, the next layer's box
shrinks, and the exact encoding leaves it out of the search (as the MILP and SAT
verifiers of Khalil et al. and Jia & Rinard do). These bounds are sound, not tight:
a neuron they leave undecided may still be constant over the ball.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tfbnn.verify.network import IntegerNetwork

__all__ = ["LayerBounds", "interval_bounds"]


@dataclass(frozen=True)
class LayerBounds:
    """Bounds of one layer over a box: its pre-activations ``s_lo <= s <= s_hi`` and, for
    a hidden layer, its outputs ``a_lo <= a <= a_hi`` in {-1, +1} (equal: decided)."""

    s_lo: np.ndarray
    s_hi: np.ndarray
    a_lo: np.ndarray | None = None
    a_hi: np.ndarray | None = None

    @property
    def decided(self) -> np.ndarray:
        return self.a_lo == self.a_hi


def interval_bounds(network: IntegerNetwork, lo: np.ndarray, hi: np.ndarray) -> list[LayerBounds]:
    """Per layer, interval bounds over the integer input box ``lo <= levels <= hi`` (flat
    vectors of one example)."""
    a_lo, a_hi = np.asarray(lo, np.int64).ravel(), np.asarray(hi, np.int64).ravel()
    out = []
    for layer in network.layers:
        s_lo, s_hi = layer.bounds(a_lo, a_hi)
        if layer.is_output:
            out.append(LayerBounds(s_lo, s_hi))
            break
        d, t = layer.direction.astype(np.int64), layer.threshold
        worst, best = np.minimum(d * s_lo, d * s_hi), np.maximum(d * s_lo, d * s_hi)
        a_lo = np.where(worst >= t, 1, -1)
        a_hi = np.where(best >= t, 1, -1)
        out.append(LayerBounds(s_lo, s_hi, a_lo, a_hi))
    return out
