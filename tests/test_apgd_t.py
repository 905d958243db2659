"""APGD-T as the evaluation runs it: targeted DLR against each of the top other classes."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from attack_contract import check_attack_contract, perturbation_size
from tfbnn.evaluation import catalog

BOX = {"clip_min": 0.0, "clip_max": 1.0}
APGD_T = catalog.ATTACKS["apgd_t"]


@pytest.fixture(scope="module")
def batch(correct_a):
    x, y = correct_a
    return x[:32], y[:32]


def _apgd_t(model_fn, x, eps, norm, labels, targeted, seed=0, targets=9, nb_iter=10):
    assert not targeted  # APGD-T aims at misclassification; its targets are internal
    name = "linf" if norm == np.inf else "l2"
    return APGD_T.run(model_fn, np.asarray(x), np.asarray(labels), eps, name, nb_iter, seed, BOX,
                      targets=targets)


@pytest.mark.parametrize("norm, eps", [(np.inf, 0.3), (2, 3.0)])
def test_contract(norm, eps, model_fn, batch):
    x, y = batch
    check_attack_contract(_apgd_t, model_fn, x, y, eps, norm, False, 0.8, None)


def test_top_other_classes_are_sorted_and_exclude_the_label(model_fn, batch):
    x, y = batch
    order = catalog.top_other_classes(model_fn, x, y, 3)
    logits = np.asarray(model_fn(tf.constant(x)))
    assert order.shape == (len(x), 3) and not np.any(order == y[:, None])
    picked = np.take_along_axis(logits, order, 1)
    assert np.all(np.diff(picked, axis=1) <= 0)  # best first
    others = np.where(np.arange(10)[None] == y[:, None], -np.inf, logits)
    assert np.array_equal(picked[:, 0], others.max(1))
    assert catalog.top_other_classes(model_fn, x, y, None).shape == (len(x), 9)


def test_sweep_tries_targets_in_order_on_what_is_left():
    """A fake attack that succeeds only against the second target: the first target runs on
    every example, the second only on those the first left; failures come back clean."""
    weights = np.eye(4, dtype=np.float32) * 3.0

    def model_fn(t):
        return tf.reshape(t, [-1, 4]) @ weights

    x = np.array([[1.0, 0.5, 0.2, 0.0], [1.0, 0.2, 0.5, 0.0], [1.0, 0.3, 0.0, 0.2]],
                 np.float32)
    y = np.zeros(3, np.int64)
    calls = []

    def attack(xs, target, seed):
        calls.append((len(xs), target.tolist(), seed))
        out = xs.copy()
        hit = target == 2
        out[hit, 2] = 2.0  # class 2 now wins
        return out

    best = catalog.targeted_sweep(attack, model_fn, x, y, 2, seed=5)
    assert calls[0] == (3, [1, 2, 1], 5)  # the top other class first
    assert calls[1] == (2, [2, 3], 5 + 7919)  # example 1 was fooled by its first target
    assert len(calls) == 2  # two targets
    np.testing.assert_allclose(best[:2], [[1.0, 0.5, 2.0, 0.0], [1.0, 0.2, 2.0, 0.0]])
    assert np.array_equal(best[2], x[2])  # never fooled: the clean input


def test_more_targets_never_fool_fewer(model_fn, batch):
    x, y = batch
    eps = 0.08
    fooled = []
    for targets in (1, 3):
        adv = _apgd_t(model_fn, x, eps, np.inf, y, False, targets=targets)
        fooled.append(int(np.sum(np.argmax(model_fn(tf.constant(adv)), -1) != y)))
    assert fooled[1] >= fooled[0] > 0


def test_seeds(model_fn, batch):
    x, y = batch
    a = _apgd_t(model_fn, x, 0.1, np.inf, y, False, seed=3, targets=2)
    b = _apgd_t(model_fn, x, 0.1, np.inf, y, False, seed=3, targets=2)
    np.testing.assert_array_equal(a, b)


_WEIGHTS = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)


def _linear(t):
    return tf.nn.relu(tf.reshape(t, [-1, 12])) @ _WEIGHTS


@settings(max_examples=8, deadline=None)
@given(batch_size=st.integers(1, 5), eps=st.floats(0.0, 2.0), low=st.floats(-2.0, 0.5),
       width=st.floats(0.1, 3.0), norm=st.sampled_from(["linf", "l2"]),
       seed=st.integers(0, 1000), targets=st.integers(1, 4))
def test_property_ball_and_range(batch_size, eps, low, width, norm, seed, targets):
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, low + width, size=(batch_size, 12)).astype(np.float32)
    y = rng.integers(0, 5, batch_size)
    box = {"clip_min": low, "clip_max": low + width}
    x_adv = np.asarray(APGD_T.run(_linear, x, y, eps, norm, 3, seed, box, targets=targets))
    assert x_adv.dtype == np.float32 and x_adv.shape == x.shape and np.all(np.isfinite(x_adv))
    assert x_adv.min() >= low - 1e-6 and x_adv.max() <= low + width + 1e-6
    size = perturbation_size(x_adv, x, np.inf if norm == "linf" else 2)
    assert np.all(size <= eps * (1 + 1e-5) + 1e-6)
