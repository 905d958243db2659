"""APGD (CE and DLR, L-inf and L2) and the Square attack (L-inf, gradient-free).

The contract of tests/test_attacks.py (finite outputs inside the eps-ball and the clip
range, eps = 0 returns x, success above a stated threshold on a trained model, targeted
attacks reach their targets), then the mechanisms each attack exists for: APGD's DLR
loss survives a softmax saturated in float32, where PGD with cross-entropy stalls;
Square needs no gradients at all; APGD and Square return each example's worst case.

Success rates quoted in comments were measured on 2026-11-25 on the ``trained_a``
fixture (84% clean accuracy on the 512 test images), 64 correctly classified images.
"""

import numpy as np
import pytest
import tensorflow as tf

from tfbnn import attacks
from tfbnn.attacks import apgd, core, square
from tfbnn.attacks.apgd import auto_projected_gradient_descent
from tfbnn.attacks.square import square_attack

from attack_contract import check_attack_contract, perturbation_size

EPS = {np.inf: 0.3, 2: 3.0}


@pytest.fixture(scope="module")
def batch(correct_a):
    return correct_a


def _apgd(loss):
    def attack(model_fn, x, eps, norm, y, targeted, **kwargs):
        return auto_projected_gradient_descent(model_fn, x, eps, nb_iter=30, norm=norm, loss=loss,
                                               clip_min=0.0, clip_max=1.0, y=y, targeted=targeted,
                                               seed=0, **kwargs)
    return attack


def _square(model_fn, x, eps, norm, y, targeted, loss="margin", **kwargs):
    assert norm == np.inf
    return square_attack(model_fn, x, eps, nb_iter=300, loss=loss, clip_min=0.0, clip_max=1.0,
                         y=y, targeted=targeted, seed=0, **kwargs)


def _square_ce(*args, **kwargs):
    return _square(*args, loss="ce", **kwargs)


# name -> (attack, norms, untargeted threshold, targeted threshold), at EPS[norm].
# Measured (fraction fooled / fraction at target): APGD-CE and APGD-DLR (30 iterations)
# L-inf 1.0 / 0.88, L2 0.94-0.97 / 0.75; Square (300 queries, margin or CE) 1.0 / 0.86.
ATTACKS = {
    "apgd_ce": (_apgd("ce"), (np.inf, 2), 0.8, 0.5),
    "apgd_dlr": (_apgd("dlr"), (np.inf, 2), 0.8, 0.5),
    "square": (_square, (np.inf,), 0.8, 0.5),
    "square_ce": (_square_ce, (np.inf,), 0.8, 0.5),
}
CASES = [(name, norm, targeted) for name, (_, norms, _, _) in ATTACKS.items() for norm in norms
         for targeted in (False, True)]


_size = perturbation_size


def _predict(model_fn, x_adv):
    return np.argmax(model_fn(tf.constant(x_adv)), -1)


# --------------------------------------------------------------------------------------
# Contract
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, norm, targeted", CASES)
def test_contract(name, norm, targeted, model_fn, batch):
    attack, _, untargeted_rate, targeted_rate = ATTACKS[name]
    x, y = batch
    check_attack_contract(attack, model_fn, x, y, EPS[norm], norm, targeted, untargeted_rate,
                          targeted_rate)


def test_per_example_eps(model_fn, batch):
    x, y = batch
    eps = np.where(np.arange(len(x)) % 2 == 0, 0.0, 0.3).astype(np.float32)
    for x_adv in (_apgd("dlr")(model_fn, x, eps, np.inf, y, False),
                  _square(model_fn, x, eps, np.inf, y, False)):
        size = _size(x_adv, x, np.inf)
        assert np.all(size[::2] == 0.0) and np.all(size[1::2] <= 0.3 + 1e-6)
        assert np.mean(_predict(model_fn, np.asarray(x_adv))[1::2] != y[1::2]) >= 0.8


# --------------------------------------------------------------------------------------
# APGD's mechanism: DLR survives a saturated softmax
# --------------------------------------------------------------------------------------


def test_dlr_beats_saturated_cross_entropy(trained_a, batch):
    """Logits x 1000: the float32 softmax is one-hot, so the cross-entropy gradient is
    exactly zero for almost every example and PGD-CE never moves from its random start;
    DLR is scale invariant, so APGD-DLR attacks as it does on the plain model.
    Measured: APGD-DLR fools 1.0, PGD-CE 0.05 (its random start), every CE gradient
    at x is exactly zero."""
    x, y = batch
    scaled = lambda t: 1000.0 * trained_a(t, training=False)  # noqa: E731
    grad, _ = core.loss_gradient(scaled, core.default_loss, tf.constant(x), tf.constant(y), False)
    zero_gradient = np.all(grad.numpy().reshape(len(x), -1) == 0.0, axis=1)
    assert np.mean(zero_gradient) >= 0.8
    pgd = attacks.projected_gradient_descent(scaled, x, 0.3, 0.3 / 8, 30, clip_min=0.0,
                                             clip_max=1.0, y=y, seed=0)
    dlr = auto_projected_gradient_descent(scaled, x, 0.3, nb_iter=30, loss="dlr", clip_min=0.0,
                                          clip_max=1.0, y=y, seed=0)
    pgd_rate = np.mean(_predict(scaled, np.asarray(pgd)) != y)
    dlr_rate = np.mean(_predict(scaled, np.asarray(dlr)) != y)
    assert pgd_rate <= 0.3
    assert dlr_rate >= 0.8
    assert dlr_rate - pgd_rate >= 0.5
    # PGD-CE moved only the examples whose gradient is not zero (beyond its random start)
    assert np.mean(_predict(scaled, np.asarray(pgd))[zero_gradient] != y[zero_gradient]) <= 0.1


# --------------------------------------------------------------------------------------
# Square's mechanism: no gradients needed
# --------------------------------------------------------------------------------------


@tf.custom_gradient
def _zero_gradient(t):
    return tf.identity(t), lambda dy: tf.zeros_like(dy)


def test_square_needs_no_gradients(trained_a, model_fn, batch):
    """Same logits, gradient None (stop_gradient) or zero (custom gradient): Square's
    result is bit-for-bit the one on the plain model, while BIM cannot move at all.
    Measured: Square (300 queries) fools 1.0 at eps 0.3, BIM 0.0."""
    x, y = batch
    stopped = lambda t: tf.stop_gradient(trained_a(t, training=False))  # noqa: E731
    zeroed = lambda t: trained_a(_zero_gradient(t), training=False)  # noqa: E731
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        stopped_out, zeroed_out = stopped(xt), zeroed(xt)
    assert tape.gradient(stopped_out, xt) is None
    assert np.all(tape.gradient(zeroed_out, xt).numpy() == 0.0)

    reference = np.asarray(_square(model_fn, x, 0.3, np.inf, y, False))
    for wrapped in (stopped, zeroed):
        np.testing.assert_array_equal(np.asarray(_square(wrapped, x, 0.3, np.inf, y, False)),
                                      reference)
    assert np.mean(_predict(model_fn, reference) != y) >= 0.8
    bim = attacks.basic_iterative_method(zeroed, x, 0.3, 0.03, 10, clip_min=0.0, clip_max=1.0, y=y)
    np.testing.assert_array_equal(np.asarray(bim), x)


# --------------------------------------------------------------------------------------
# Worst case per example
# --------------------------------------------------------------------------------------


def _lower(value):
    """``value`` less a float32 re-evaluation tolerance."""
    return value - 1e-4 * (1 + np.abs(value))


def _objective(loss_fn, model_fn, points, y, targeted=False):
    value = np.asarray(loss_fn(tf.constant(y), model_fn(tf.constant(points))))
    return -value if targeted else value


@pytest.mark.parametrize("norm, eps, loss", [(np.inf, 0.1, "dlr"), (2, 1.5, "ce")])
def test_apgd_never_worse_than_its_first_iterate_or_first_restart(norm, eps, loss, model_fn, batch):
    """nb_iter=1 returns the better of x^(0), x^(1); with the same seed a longer run starts
    from the same two points, and a second restart repeats the first run. Per example,
    neither may end less adversarial. Measured: 0.61 (L-inf) / 0.67 (L2) fooled after 30
    iterations, 0.38 / 0.44 after one, so a third of the examples are compared on their
    loss."""
    x, y = batch
    loss_fn = apgd.dlr_loss if loss == "dlr" else core.default_loss

    def run(nb_iter, nb_restarts=1, rand_init=True):
        x_adv = auto_projected_gradient_descent(model_fn, x, eps, nb_iter=nb_iter, norm=norm,
                                                loss=loss, clip_min=0.0, clip_max=1.0, y=y, seed=3,
                                                nb_restarts=nb_restarts, rand_init=rand_init)
        x_adv = np.asarray(x_adv)
        return _predict(model_fn, x_adv) != y, _objective(loss_fn, model_fn, x_adv, y)

    first_fooled, first_value = run(1)
    fooled, value = run(30)
    twice_fooled, twice_value = run(30, nb_restarts=2)
    assert 0.1 <= np.mean(~fooled) <= 0.9  # both branches below are exercised
    for earlier, earlier_value, later, later_value in (
        (first_fooled, first_value, fooled, value),
        (fooled, value, twice_fooled, twice_value),
    ):
        assert np.all(later[earlier])
        still = ~later
        assert np.all(later_value[still] >= _lower(earlier_value[still]))
    assert np.mean(fooled) > np.mean(first_fooled)

    # Started at x (no random start), the loss can only go up from the clean loss.
    plain_fooled, plain_value = run(30, rand_init=False)
    clean_value = _objective(loss_fn, model_fn, x, y)
    still = ~plain_fooled
    assert np.all(plain_value[still] >= _lower(clean_value[still]))


def test_square_keeps_the_best_point_and_counts_queries(model_fn, batch):
    """Square only accepts improvements: each unfooled example ends at least as high as
    its stripes start (nb_iter=1, same seed). Queries: 0 for examples already
    misclassified at x, the full budget for those never fooled, fewer for the rest.
    Measured at eps 0.1: 0.30 of the correctly labelled fooled with 100 queries,
    0.32 with two restarts, 0.02 by the stripes alone."""
    x, y = batch
    labels = y.copy()
    labels[:4] = (y[:4] + 3) % 10  # wrong labels: "misclassified" from the start
    kwargs = dict(clip_min=0.0, clip_max=1.0, y=labels, seed=5, return_details=True)
    start, start_details = square_attack(model_fn, x, 0.1, nb_iter=1, **kwargs)
    end, details = square_attack(model_fn, x, 0.1, nb_iter=100, **kwargs)
    twice, twice_details = square_attack(model_fn, x, 0.1, nb_iter=100, nb_restarts=2, **kwargs)
    start, end, twice = np.asarray(start), np.asarray(end), np.asarray(twice)

    for points, info, budget in ((start, start_details, 1), (end, details, 100),
                                 (twice, twice_details, 200)):
        success = info["success"].numpy()
        queries = info["queries"].numpy()
        np.testing.assert_array_equal(success, _predict(model_fn, points) != labels)
        np.testing.assert_array_equal(points[:4], x[:4])
        assert np.all(queries[:4] == 0) and np.all(success[:4])
        assert np.all(queries[~success] == budget)
        assert np.all((queries[4:][success[4:]] >= 1) & (queries[4:][success[4:]] <= budget))
        margin = _objective(square.margin_loss, model_fn, points, labels)
        np.testing.assert_allclose(info["objective"].numpy()[~success], margin[~success],
                                   rtol=1e-5, atol=1e-5)

    success, twice_success = details["success"].numpy(), twice_details["success"].numpy()
    assert 0.1 <= np.mean(~success[4:])  # some examples are compared on their objective
    start_value = start_details["objective"].numpy()
    still = ~success
    assert np.all(details["objective"].numpy()[still] >= start_value[still])
    assert np.all(twice_success[success])  # restart 0 repeats the single run
    assert np.all(twice_details["queries"].numpy()[success] == details["queries"].numpy()[success])
    assert np.mean(twice_success) >= np.mean(success)

    # Every coordinate sits on a vertex of the eps-box (or on the clip range's edge),
    # and the stripes start is constant down each column.
    for points in (start, end, twice):
        points = points[4:]
        delta = points - x[4:]
        on_vertex = np.isclose(np.abs(delta), 0.1, atol=1e-6) | (points == 0.0) | (points == 1.0)
        assert np.all(on_vertex)
    stripes = np.sign(np.round((start - x)[4:], 6))
    for column_signs in stripes.transpose(0, 2, 3, 1).reshape(-1, x.shape[1]):
        assert len(set(column_signs[column_signs != 0])) <= 1


# --------------------------------------------------------------------------------------
# Losses and schedules against the papers
# --------------------------------------------------------------------------------------


def _numpy_dlr(logits, labels):
    order = np.sort(logits, axis=1)[:, ::-1]
    true = logits[np.arange(len(labels)), labels]
    other = np.where(np.eye(logits.shape[1], dtype=bool)[labels], -np.inf, logits).max(1)
    return -(true - other) / (order[:, 0] - order[:, 2] + 1e-12)


def _numpy_targeted_dlr(logits, targets):
    order = np.sort(logits, axis=1)[:, ::-1]
    target = logits[np.arange(len(targets)), targets]
    other = np.where(np.eye(logits.shape[1], dtype=bool)[targets], -np.inf, logits).max(1)
    return (other - target) / (order[:, 0] - 0.5 * (order[:, 2] + order[:, 3]) + 1e-12)


def test_dlr_losses_match_numpy_and_are_shift_and_scale_invariant():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(200, 10)).astype(np.float64)
    labels = rng.integers(0, 10, size=200)
    labels[:50] = logits[:50].argmax(1)  # some correctly classified rows
    for loss, reference in ((apgd.dlr_loss, _numpy_dlr),
                            (apgd.targeted_dlr_loss, _numpy_targeted_dlr)):
        value = loss(tf.constant(labels), tf.constant(logits)).numpy()
        np.testing.assert_allclose(value, reference(logits, labels), rtol=1e-10)
        for scale, shift in ((1000.0, 0.0), (0.01, -5.0), (7.0, 123.0)):
            moved = loss(tf.constant(labels), tf.constant(scale * logits + shift)).numpy()
            np.testing.assert_allclose(moved, value, rtol=1e-8, atol=1e-10)
        # a negative scale is not an invariance: it must change the loss
        assert not np.allclose(loss(tf.constant(labels), tf.constant(-logits)).numpy(), value)
    misclassified = logits.argmax(1) != labels
    np.testing.assert_array_equal(apgd.dlr_loss(labels, logits).numpy() > 0, misclassified)
    np.testing.assert_array_equal(apgd.targeted_dlr_loss(labels, logits).numpy() < 0,
                                  ~misclassified)
    margin = square.margin_loss(tf.constant(labels), tf.constant(logits)).numpy()
    other = np.where(np.eye(10, dtype=bool)[labels], -np.inf, logits).max(1)
    np.testing.assert_allclose(margin, other - logits[np.arange(200), labels], rtol=1e-12)
    np.testing.assert_array_equal(margin > 0, misclassified)


def _paper_checkpoints(nb_iter):
    """Croce & Hein, section 3.2: p_0 = 0, p_1 = 0.22,
    p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06), w_j = ceil(p_j * nb_iter)."""
    p = [0.0, 0.22]
    while p[-1] + max(p[-1] - p[-2] - 0.03, 0.06) <= 1.0 + 1e-9:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    points = sorted({int(np.ceil(round(q * nb_iter, 6))) for q in p[1:]})
    return [w for w in points if 1 <= w <= nb_iter - 1]


def test_checkpoints_follow_the_paper():
    assert apgd.checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert apgd.checkpoints(1000) == [220, 410, 570, 700, 800, 870, 930, 990]
    assert apgd.checkpoints(10) == [3, 5, 6, 7, 8, 9]
    assert apgd.checkpoints(1) == []
    for nb_iter in (2, 5, 17, 30, 64, 250, 333, 5000):
        assert apgd.checkpoints(nb_iter) == _paper_checkpoints(nb_iter)


def test_square_schedule_follows_the_reference():
    p = square.fraction_schedule(0.8, 10000)
    assert len(p) == 9999
    expected = {0: 0.8, 10: 0.8, 11: 0.4, 50: 0.4, 51: 0.2, 200: 0.2, 201: 0.1, 500: 0.1,
                501: 0.05, 1001: 0.025, 2001: 0.0125, 4001: 0.00625, 6001: 0.003125,
                8000: 0.003125, 8001: 0.0015625, 9998: 0.0015625}
    for i, value in expected.items():
        assert p[i] == pytest.approx(value), i
    # rescaled to the budget: proposal i of 1000 is proposal 10 * i of 10,000
    np.testing.assert_allclose(square.fraction_schedule(0.8, 1000), p[::10][:999])
    sides = square.window_sides(0.8, 5000, 28, 28)
    assert sides[0] == 25 and sides[-1] == 1  # round(sqrt(0.8 * 784)), then down to 1 pixel
    assert np.all(np.diff(sides) <= 0)
    assert square.window_sides(1.0, 10, 4, 6)[0] == 4  # never wider than the image
    assert len(square.fraction_schedule(0.8, 1)) == 0


# --------------------------------------------------------------------------------------
# Determinism and argument checks
# --------------------------------------------------------------------------------------


def test_seed_determinism(model_fn, batch):
    x, y = batch
    x, y = x[:16], y[:16]

    def run_apgd(seed):
        return np.asarray(auto_projected_gradient_descent(
            model_fn, x, 0.1, nb_iter=5, loss="dlr", clip_min=0.0, clip_max=1.0, y=y, seed=seed))

    def run_square(seed):
        return np.asarray(square_attack(model_fn, x, 0.1, nb_iter=20, clip_min=0.0, clip_max=1.0,
                                        y=y, seed=seed))

    for run in (run_apgd, run_square):
        np.testing.assert_array_equal(run(7), run(7))
        assert not np.array_equal(run(7), run(8))


def test_inside_a_tf_function(model_fn, batch):
    """Both attacks also run inside a user's tf.function, with the eager result."""
    x, y = batch
    x, y = tf.constant(x[:16]), tf.constant(y[:16])
    kwargs = dict(clip_min=0.0, clip_max=1.0, seed=3)

    @tf.function
    def graph(x, y):
        return (auto_projected_gradient_descent(model_fn, x, 0.1, nb_iter=5, y=y, **kwargs),
                square_attack(model_fn, x, 0.1, nb_iter=20, y=y, **kwargs))

    in_graph = graph(x, y)
    eager = (auto_projected_gradient_descent(model_fn, x, 0.1, nb_iter=5, y=y, **kwargs),
             square_attack(model_fn, x, 0.1, nb_iter=20, y=y, **kwargs))
    for ours, theirs in zip(in_graph, eager):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-6)
        assert np.abs(ours.numpy() - x.numpy()).max() > 0.0


class _Recorder:
    """A model_fn that counts its calls: argument checks must come before any."""

    def __init__(self, model_fn):
        self.model_fn, self.calls = model_fn, 0

    def __call__(self, t):
        self.calls += 1
        return self.model_fn(t)


X_BAD = np.zeros((2, 28, 28, 1), np.float32)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"eps": -0.1}, ValueError, "eps"),
        ({"nb_iter": 0}, ValueError, "nb_iter"),
        ({"norm": 1}, ValueError, "norm"),
        ({"loss": "hinge"}, ValueError, "loss"),
        ({"success_fraction": 1.5}, ValueError, "success_fraction"),
        ({"alpha": -0.1}, ValueError, "alpha"),
        ({"nb_restarts": 0}, ValueError, "nb_restarts"),
        ({"nb_restarts": 2, "rand_init": False}, ValueError, "random start"),
        ({"rand_init": "uniform"}, ValueError, "rand_init"),
        ({"seed": -1}, ValueError, "seed"),
        ({"clip_min": 0.0}, ValueError, "clip_max"),
        ({"targeted": True}, ValueError, "target labels y"),
    ],
)
def test_apgd_bad_arguments(kwargs, error, match, model_fn):
    recorder = _Recorder(model_fn)
    arguments = {"eps": 0.1, **kwargs}
    with pytest.raises(error, match=match):
        auto_projected_gradient_descent(recorder, X_BAD, **arguments)
    assert recorder.calls == 0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"eps": -0.1}, ValueError, "eps"),
        ({"eps": float("nan")}, ValueError, "eps"),
        ({"nb_iter": 0}, ValueError, "nb_iter"),
        ({"p_init": 0.0}, ValueError, "p_init"),
        ({"p_init": 1.5}, ValueError, "p_init"),
        ({"loss": "dlr"}, ValueError, "loss"),
        ({"nb_restarts": 0}, ValueError, "nb_restarts"),
        ({"seed": 1.5}, ValueError, "seed"),
        ({"clip_max": 1.0}, ValueError, "clip_min"),
        ({"targeted": True}, ValueError, "target labels y"),
        ({"return_details": "yes"}, ValueError, "return_details"),
        ({"x": np.zeros((2, 784), np.float32)}, ValueError, "batch of images"),
    ],
)
def test_square_bad_arguments(kwargs, error, match, model_fn):
    recorder = _Recorder(model_fn)
    arguments = {"x": X_BAD, "eps": 0.1, **kwargs}
    with pytest.raises(error, match=match):
        square_attack(recorder, **arguments)
    assert recorder.calls == 0


@pytest.mark.parametrize("attack", [auto_projected_gradient_descent, square_attack])
def test_bad_data_is_named(attack, model_fn):
    with pytest.raises(TypeError, match="model_fn"):
        attack(None, X_BAD, 0.1)
    with pytest.raises(ValueError, match="outside clip_min"):
        attack(model_fn, X_BAD + 2.0, 0.1, clip_min=0.0, clip_max=1.0)
    with pytest.raises(ValueError, match=r"y holds labels in \[0, 10\]"):
        attack(model_fn, X_BAD, 0.1, y=np.array([0, 10]))
    with pytest.raises(ValueError, match="3 labels for a batch of 2"):
        attack(model_fn, X_BAD, 0.1, y=np.array([0, 1, 2]))
