"""Confidence intervals for accuracies measured on a finite test set.

A robust accuracy of 0.004 on 500 examples is 2 examples: the report must say how sure
that is. `wilson_interval` is the Wilson score interval for a binomial proportion
(Wilson, 1927): unlike the normal approximation it stays inside [0, 1] and is not
degenerate at 0 or n successes, and its coverage is close to nominal at the N of
500-10,000 evaluations use. Written here (a dozen lines of closed form) rather than
taken from scipy/statsmodels, which tfbnn does not otherwise depend on; the tests check
it against ``scipy.stats.binomtest(...).proportion_ci(method="wilson")``.

For a stochastic model an example's score is the fraction of draws classified
correctly; the interval then treats ``mean * n`` as the success count, which ignores
the extra variance of the draws (stated in the report's notes).
"""

from __future__ import annotations

import math

__all__ = ["Z_95", "wilson_interval"]

Z_95 = 1.959963984540054
"""The standard normal quantile of a two-sided 95 % interval."""


def wilson_interval(successes: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval ``(low, high)`` for ``successes`` out of ``n`` trials.

    # Arguments
        successes: the count of successes (a float for mean scores), ``0 <= successes <= n``.
        n: the number of trials, ``>= 1``.
        z: the normal quantile (1.96 for 95 %).

    # Raises
        ValueError: ``n < 1`` or ``successes`` outside ``[0, n]``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}.")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, n={n}], got {successes!r}.")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high
