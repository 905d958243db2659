"""The attack core, the checks, batching and atomic I/O that every attack stands on."""

import gc
import weakref

import numpy as np
import pytest

import tfbnn  # noqa: F401
import tensorflow as tf

from tfbnn import batching, checks, io
from tfbnn.attacks import core


def _linear(dims=6, classes=3, seed=0):
    weights = tf.constant(np.random.default_rng(seed).normal(size=(dims, classes)), tf.float32)
    return lambda t: tf.reshape(t, [-1, dims]) @ weights


@pytest.mark.parametrize("norm, name", [(np.inf, "linf"), ("linf", "linf"), (2, "l2")])
def test_ball_by_norm(norm, name):
    assert core.ball(norm).name == name
    with pytest.raises(ValueError, match="norm"):
        core.ball(1)


@pytest.mark.parametrize("norm", [np.inf, 2])
def test_ball_start_step_project(norm):
    ball = core.ball(norm)
    x = tf.zeros((64, 4, 4, 1))
    eps = 0.5

    def size(v):
        flat = np.asarray(v).reshape(len(v), -1)
        return np.abs(flat).max(1) if norm == np.inf else np.linalg.norm(flat, axis=1)

    start = ball.start(x, eps, seed=3)
    assert np.all(size(start) <= eps * (1 + 1e-6))
    np.testing.assert_array_equal(start, ball.start(x, eps, seed=3))  # stateless
    assert not np.array_equal(start, ball.start(x, eps, seed=4))
    # uniform in the ball: most of the volume is near the boundary in 16 dimensions
    assert np.median(size(start)) > 0.8 * eps
    grad = tf.random.stateless_normal(x.shape, [0, 0])
    step = ball.step(grad, 0.1)
    np.testing.assert_allclose(size(step), 0.1, rtol=1e-5)  # a step has the given length
    # ... and is the steepest: no other step of that length gains more along grad
    assert np.all(np.sum(np.asarray(step) * grad, axis=(1, 2, 3))
                  >= np.sum(np.asarray(ball.start(x, 0.1, seed=5)) * grad, axis=(1, 2, 3)) - 1e-6)
    far = 10.0 * grad
    projected = ball.project(far, eps)
    np.testing.assert_allclose(size(projected), eps, rtol=1e-5)
    inside = ball.project(start, eps)
    np.testing.assert_allclose(inside, start, atol=1e-7)  # points inside stay


def test_keep_worst_first_success_then_highest_objective():
    x_best = tf.zeros((4, 2))
    x_new = tf.ones((4, 2))
    best = core.Candidate(x_best, tf.constant([True, False, False, False]),
                          tf.constant([0.0, 1.0, 3.0, 1.0]))
    new = core.Candidate(x_new, tf.constant([True, True, False, False]),
                         tf.constant([9.0, 0.0, 2.0, 2.0]))
    worst = core.keep_worst(best, new)
    # 0: best already adversarial, kept; 1: new is adversarial; 2: best higher; 3: new higher
    np.testing.assert_array_equal(np.asarray(worst.x)[:, 0], [0, 1, 0, 1])
    np.testing.assert_array_equal(worst.success, [True, True, False, False])
    np.testing.assert_array_equal(worst.objective, [0.0, 0.0, 3.0, 2.0])


def test_margin_and_logits():
    logits = tf.constant([[1.0, 5.0, 2.0], [4.0, -1.0, 0.0]])
    labels = tf.constant([1, 2])
    np.testing.assert_array_equal(core.true_logit(logits, labels), [5.0, 0.0])
    np.testing.assert_array_equal(core.max_other_logit(logits, labels), [2.0, 4.0])
    margin = np.asarray(core.margin(labels, logits))
    np.testing.assert_array_equal(margin, [-3.0, 4.0])
    assert (margin > 0).tolist() == np.asarray(core.is_adversarial(logits, labels, False)).tolist()


class _Counting:
    """A model that counts its forward passes (as a stochastic model spends its draws)."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, x):
        self.calls.append(int(x.shape[0]))
        return self.fn(x)


@pytest.mark.parametrize("kwargs, y, calls", [
    ({}, None, [8, 20]),                                  # probability check, then labels
    ({}, np.zeros(20, np.int64), [8]),
    ({"warn": False}, None, [20]),
    ({"count_classes": True}, np.zeros(20, np.int64), [1, 8]),
    ({"predict": False, "warn": False}, None, []),
])
def test_prepare_spends_exactly_the_documented_forward_passes(kwargs, y, calls):
    model = _Counting(_linear())
    x = np.random.default_rng(0).uniform(size=(20, 6)).astype(np.float32)
    batch = core.prepare(model, x, y, False, 0.0, 1.0, **kwargs)
    assert model.calls == calls
    assert batch.x.dtype == tf.float32
    if y is None and kwargs.get("predict", True):
        np.testing.assert_array_equal(batch.y, np.argmax(model.fn(x), -1))


def test_prepare_checks():
    model = _linear()
    x = np.zeros((4, 6), np.float32)
    with pytest.raises(TypeError, match="callable"):
        core.prepare("not a model", x, None, False)
    with pytest.raises(ValueError, match="targeted attack needs"):
        core.prepare(model, x, None, True)
    with pytest.raises(ValueError, match="outside clip_min"):
        core.prepare(model, x + 2.0, None, False, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"outside \[0, 2\]"):
        core.prepare(model, x, np.array([0, 1, 2, 3]), False, count_classes=True)
    with pytest.warns(UserWarning, match="probabilities"):
        core.prepare(lambda t: tf.nn.softmax(model(t)), x, None, False)


def test_compiled_cache_does_not_keep_models_alive():
    def build(model_fn, config):
        return lambda x: model_fn(x) * config

    model = _linear()
    function = core.compiled(build, model, 2.0)
    assert core.compiled(build, model, 2.0) is function  # cached per model and config
    assert core.compiled(build, model, 3.0) is not function
    np.testing.assert_allclose(function(tf.ones((1, 6)), ()), 2.0 * model(tf.ones((1, 6))))
    ref = weakref.ref(model)
    del model, function
    gc.collect()
    assert ref() is None  # the cache (and the traced functions) let the model go


def test_map_batches_and_slices():
    x = np.arange(10)
    assert [s.start for s in batching.batch_slices(10, 4)] == [0, 4, 8]
    np.testing.assert_array_equal(batching.map_batches(lambda a: a * 2, x, batch_size=3), 2 * x)
    out = batching.map_batches(lambda a, b: a + b, x, x[::-1], batch_size=4)
    np.testing.assert_array_equal(out, np.full(10, 9))
    assert batching.map_batches(lambda a: a, x[:0], batch_size=4).shape == (0,)
    with pytest.raises(ValueError, match="batch_size"):
        list(batching.batch_slices(10, 0))
    with pytest.raises(ValueError, match="one length"):
        batching.map_batches(lambda a, b: a, x, x[:3], batch_size=4)


def test_atomic_writes_leave_old_or_new(tmp_path):
    path = tmp_path / "out.txt"
    io.atomic_write_text(path, "old")
    with pytest.raises(RuntimeError):
        with io.atomic_path(path) as tmp:
            open(tmp, "w").write("half")
            raise RuntimeError("killed")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    with io.atomic_path(path) as tmp:
        open(tmp, "w").write("new")
    assert path.read_text() == "new"


@pytest.mark.parametrize("call, message", [
    (lambda: checks.check_number("lr", float("nan"), positive=True),
     "lr must be a finite number > 0"),
    (lambda: checks.check_number("c", -1.0, minimum=0), "c must be a finite number >= 0"),
    (lambda: checks.check_fraction("p", 0.0, open_low=True), r"p must be a number in \(0, 1\]"),
    (lambda: checks.check_int("n", 0, 1, hint=" Use 1."), "n must be an int >= 1, got 0. Use 1."),
    (lambda: checks.check_box(0.0, 0.0, "cw"), "cw needs a box"),
    (lambda: checks.check_rho("rho", 0.95, 10), r"rho must lie in \(0, \(d - 1\) / d"),
    (lambda: checks.check_choices("variants", ["REF", "WQ"], ["REF", "WAQ"], hint=" (x)"),
     r"variants=\['REF', 'WQ'\]: \['WQ'\] unknown; choose from \['REF', 'WAQ'\]\. \(x\)"),
    (lambda: checks.check_choices("variants", [], ["REF"]), r"variants=\[\]: none given"),
    (lambda: checks.check_choices("variants", "REF", ["REF"]), "give a list of items"),
    (lambda: checks.check_choice("ensemble", "fast", ["quick", "standard"], allow_none=True),
     r"ensemble='fast': choose one of \['quick', 'standard'\] or None\."),
    (lambda: checks.check_int_list("seeds", [], 0, example="--seeds 1234"),
     r"seeds=\[\]: give a list of at least one int >= 0, e\.g\. --seeds 1234\."),
    (lambda: checks.check_int_list("seeds", [1, -1], 0), "seeds must be an int >= 0, got -1"),
])
def test_checks_name_the_argument_and_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_choice_checks_return_what_they_accept():
    assert checks.check_choices("v", ("REF",), {"REF": 1}) == ["REF"]
    assert checks.check_choices("v", [], ["REF"], allow_empty=True) == []
    assert checks.check_choice("e", None, ["quick"], allow_none=True) is None
    assert checks.check_int_list("seeds", (1234, np.int64(5)), 0) == [1234, 5]
    assert checks.check_int_list("seeds", (s for s in (1, 2)), 0) == [1, 2]  # read once


def test_probability_and_stochastic_detection():
    assert checks.looks_like_probabilities(np.array([[0.2, 0.8], [0.5, 0.5]]))
    assert not checks.looks_like_probabilities(np.array([[2.0, -1.0]]))
    x = tf.ones((2, 3))
    assert not checks.is_stochastic(lambda t: t * 2.0, x, trials=3)
    assert checks.is_stochastic(lambda t: t + tf.random.uniform(tf.shape(t)), x)


def test_compatibility_names_are_the_core_and_checks_objects():
    from tfbnn.attacks import utils

    assert utils.loss_gradient is core.loss_gradient and utils.check_eps is checks.check_eps
    assert utils.ParametrizedLoss is core.ParametrizedLoss


def test_a_compiled_attack_is_traced_once_whatever_the_batch_sizes(trained_a, mnist_small):
    """A cascade attacks a different number of examples at every stage and batch."""
    from tfbnn import attacks
    from tfbnn.attacks import core as attack_core

    _, (x, y) = mnist_small
    model_fn = lambda t: trained_a(t, training=False)  # noqa: E731  (a fresh cache entry)
    for n in (5, 17, 3, 40):
        attacks.projected_gradient_descent(model_fn, x[:n], 0.1, 0.02, 3, np.inf, y=y[:n],
                                           clip_min=0.0, clip_max=1.0, seed=n)
        attacks.auto_projected_gradient_descent(model_fn, x[:n], 0.1, 3, np.inf, "dlr",
                                                y=y[:n], seed=n, clip_min=0.0, clip_max=1.0)
    mine = [f for (build, identity, *_), f in attack_core._COMPILED.items()
            if identity == attack_core._identity(model_fn)[0]]
    assert len(mine) == 2
    assert [f.function.experimental_get_tracing_count() for f in mine] == [1, 1]


def test_no_retracing_warning_in_a_cascade(trained_a, mnist_small, caplog):
    import logging

    from tfbnn import evaluation

    _, (x, y) = mnist_small
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        evaluation.evaluate(lambda t: trained_a(t, training=False), x[:120], y[:120], eps=0.05,
                            attacks=["apgd_ce", "pgdpp_hns", "apgd_dlr", "square"], nb_iter=5,
                            batch_size=30, run_diagnostics=False, progress=False)
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
