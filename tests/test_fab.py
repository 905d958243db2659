"""FAB (untargeted and targeted, L-inf and L2) and AutoAttack's FAB-T (top-k targets).

The contract of tests/attack_contract.py (finite float32 outputs inside the eps-ball and
[0, 1], eps = 0 returns x, success above a stated threshold on a trained model, targeted
attacks reach their targets), then what FAB exists for: its perturbations are close to
minimal, far smaller than PGD's at the same success; its projection onto a hyperplane
and a box is exact; restarts never make an example worse; and a property test on random
inputs and boxes.

Success rates quoted in comments were measured on 2026-12-02 on the ``trained_a``
fixture, 64 correctly classified images, 10 iterations.
"""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tfbnn import attacks, models
from tfbnn.attacks.fab import fab_attack, fab_targeted_top_k, hyperplane_box_projection

from attack_contract import check_attack_contract, perturbation_size

EPS = {np.inf: 0.3, 2: 3.0}
NB_ITER = 10  # one iteration count everywhere, so the traced graphs are reused


@pytest.fixture(scope="module")
def batch(correct_a):
    return correct_a


def _fab(model_fn, x, eps, norm, y, targeted, **kwargs):
    return fab_attack(model_fn, x, eps, nb_iter=NB_ITER, norm=norm, y=y, targeted=targeted,
                      seed=0, **kwargs)


def _fab_t(model_fn, x, eps, norm, y, targeted, **kwargs):
    assert not targeted  # FAB-T is untargeted: targeted runs, success = misclassified
    return fab_targeted_top_k(model_fn, x, eps, nb_iter=NB_ITER, norm=norm, y=y, seed=0,
                              **kwargs)


# name -> (attack, untargeted threshold, targeted threshold or None), at EPS[norm].
# Measured (fraction fooled / fraction at the target (y + 1) % 10): FAB L-inf 1.0 / 0.77,
# L2 0.97 / 0.64; FAB-T (9 targets) L-inf 1.0, L2 0.97.
ATTACKS = {
    "fab": (_fab, 0.8, {np.inf: 0.55, 2: 0.45}),
    "fab_t": (_fab_t, 0.8, None),
}
CASES = [(name, norm, targeted) for name, (_, _, t) in ATTACKS.items() for norm in (np.inf, 2)
         for targeted in ([False, True] if t is not None else [False])]


def _predict(model_fn, x_adv):
    return np.argmax(model_fn(tf.constant(np.asarray(x_adv))), -1)


# --------------------------------------------------------------------------------------
# Contract
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, norm, targeted", CASES)
def test_contract(name, norm, targeted, model_fn, batch):
    attack, untargeted_rate, targeted_rates = ATTACKS[name]
    x, y = batch
    check_attack_contract(attack, model_fn, x, y, EPS[norm], norm, targeted, untargeted_rate,
                          targeted_rates[norm] if targeted else None)


@pytest.mark.parametrize("norm", [np.inf, 2])
def test_minimal_perturbations_and_details(norm, model_fn, batch):
    """FAB returns the closest adversarial point it finds: at the same eps and about the
    same success, its perturbations are far smaller than PGD's (measured mean size of
    the successful ones: L-inf 0.09 vs 0.30, L2 1.23 vs 2.99). The details agree with
    the points: success is "fooled within eps", norm is the returned perturbation."""
    x, y = batch
    eps = EPS[norm]
    x_adv, details = _fab(model_fn, x, eps, norm, y, False, return_details=True)
    success, size = details["success"].numpy(), details["norm"].numpy()
    fooled = _predict(model_fn, x_adv) != y
    np.testing.assert_array_equal(success, fooled)
    measured = perturbation_size(x_adv, x, norm)
    np.testing.assert_allclose(measured[success], size[success], rtol=1e-5, atol=1e-6)
    assert np.all(size[success] <= eps) and np.all(measured[~success] == 0.0)
    pgd = attacks.projected_gradient_descent(model_fn, x, eps, eps / 8, 20, norm, clip_min=0.0,
                                             clip_max=1.0, y=y, seed=0)
    pgd_fooled = _predict(model_fn, pgd) != y
    assert np.mean(fooled) >= np.mean(pgd_fooled) - 0.1
    pgd_size = perturbation_size(pgd, x, norm)[pgd_fooled].mean()
    assert measured[fooled].mean() <= 0.6 * pgd_size

    # Targeted: success means classified as the target, and only that.
    targets = (y + 1) % 10
    x_adv, details = _fab(model_fn, x, eps, norm, targets, True, return_details=True)
    np.testing.assert_array_equal(details["success"].numpy(),
                                  _predict(model_fn, x_adv) == targets)


def test_per_example_eps_and_already_adversarial(model_fn, batch):
    """eps = 0 examples stay at x; examples already misclassified (wrong labels given)
    or already at their target are returned unchanged, with norm 0."""
    x, y = batch
    eps = np.where(np.arange(len(x)) % 2 == 0, 0.0, 0.3).astype(np.float32)
    x_adv = _fab(model_fn, x, eps, np.inf, y, False)
    size = perturbation_size(x_adv, x, np.inf)
    assert np.all(size[::2] == 0.0) and np.all(size[1::2] <= 0.3 + 1e-6)
    assert np.mean(_predict(model_fn, x_adv)[1::2] != y[1::2]) >= 0.8

    labels = y.copy()
    labels[:4] = (y[:4] + 3) % 10
    x_adv, details = _fab(model_fn, x, 0.3, np.inf, labels, False, return_details=True)
    np.testing.assert_array_equal(np.asarray(x_adv)[:4], x[:4])
    assert np.all(details["success"].numpy()[:4]) and np.all(details["norm"].numpy()[:4] == 0)
    x_adv = _fab(model_fn, x, 0.3, np.inf, y, True)  # the target is the clean prediction
    np.testing.assert_array_equal(np.asarray(x_adv), x)


# --------------------------------------------------------------------------------------
# Restarts and seeds
# --------------------------------------------------------------------------------------


def test_restarts_and_seeds(model_fn, batch):
    """Restart 0 starts at x, so one restart ignores the seed; a second restart (random
    start, stateless seed) reruns only the examples not fooled within eps, can only add
    successes and only shrink each example's smallest adversarial norm. Same seed, same
    result; another seed, another result. Measured at eps 0.1: 0.59 of 32 fooled with
    one restart, 0.62 with two."""
    x, y = batch
    x, y = x[:32], y[:32]

    def run(seed, nb_restarts):
        x_adv, details = fab_attack(model_fn, x, 0.1, nb_iter=NB_ITER, y=y, seed=seed,
                                    nb_restarts=nb_restarts, return_details=True)
        return np.asarray(x_adv), details["success"].numpy(), details["norm"].numpy()

    once, once_success, once_norm = run(1, 1)
    np.testing.assert_array_equal(run(2, 1)[0], once)
    assert 0.1 <= np.mean(once_success) <= 0.9
    twice, twice_success, twice_norm = run(1, 2)
    again, _, again_norm = run(1, 2)
    np.testing.assert_array_equal(again, twice)
    np.testing.assert_array_equal(again_norm, twice_norm)
    assert np.all(twice_success[once_success])
    np.testing.assert_array_equal(twice[once_success], once[once_success])
    assert np.all(twice_norm <= once_norm)
    assert not np.array_equal(run(9, 2)[2], twice_norm)


# --------------------------------------------------------------------------------------
# The projection onto a hyperplane and a box (paper, section 3.1)
# --------------------------------------------------------------------------------------


def _reference_projection(t, w, b, norm, low, high):
    """Bisection on the step's scale: each coordinate moves by min(lam * rate, room)
    towards the hyperplane (rate 1 for L-inf, |w| for L2); the change reached grows with
    lam. None where the hyperplane misses the box."""
    residual = w @ t - b
    direction = -np.sign(residual) * np.sign(w)
    room = np.where(direction > 0, high - t, t - low) * (w != 0)
    rate = np.ones_like(w) if norm == np.inf else np.abs(w)

    def step(lam):
        return direction * np.minimum(lam * rate, room)

    if abs(w @ step(1e12)) < abs(residual) - 1e-9:
        return None
    lo, hi = 0.0, 1e12
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if abs(w @ step(mid)) < abs(residual) else (lo, mid)
    return step(hi)


@pytest.mark.parametrize("norm", [np.inf, 2])
def test_projection_is_exact(norm):
    rng = np.random.default_rng(0)
    m, d = 64, 9
    t = rng.uniform(0.0, 1.0, (m, d))
    w = rng.normal(size=(m, d)) * (rng.uniform(size=(m, d)) > 0.2)  # some w_i = 0
    b = (w * t).sum(1) + rng.normal(size=m) * rng.choice([0.1, 1.0, 4.0], size=m)
    steps = hyperplane_box_projection(t, w, b, norm, 0.0, 1.0).numpy()
    missed = 0
    for i in range(m):
        reference = _reference_projection(t[i], w[i], b[i], norm, 0.0, 1.0)
        z = t[i] + steps[i]
        assert np.all(z >= -1e-6) and np.all(z <= 1 + 1e-6)
        if reference is None:  # the closest box corner: every useful coordinate on a face
            missed += 1
            moved = w[i] != 0
            assert np.all(np.isclose(z[moved], 0.0, atol=1e-6) | np.isclose(z[moved], 1.0,
                                                                            atol=1e-6))
            continue
        assert abs(w[i] @ z - b[i]) <= 1e-4 * (1 + abs(b[i]))
        np.testing.assert_allclose(steps[i], reference, atol=1e-5)
    assert 0 < missed < m // 2
    # no box: the plain projection onto the hyperplane
    steps = hyperplane_box_projection(t, w, b, norm, None, None).numpy()
    np.testing.assert_allclose(((t + steps) * w).sum(1), b, atol=1e-4)
    if norm == 2:
        expected = -(((w * t).sum(1) - b) / (w * w).sum(1))[:, None] * w
        np.testing.assert_allclose(steps, expected, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------------
# Properties on random inputs, other shapes, graph mode
# --------------------------------------------------------------------------------------


_DIMS, _CLASSES = 12, 4
_WEIGHTS = tf.constant(np.random.default_rng(5).normal(size=(_DIMS, _CLASSES)).astype(np.float32))


def _linear(t):
    return tf.nn.relu(tf.reshape(t, [-1, _DIMS])) @ _WEIGHTS


@settings(max_examples=10, deadline=None)
@given(
    batch_size=st.integers(1, 5),
    shape=st.sampled_from([(12,), (2, 3, 2)]),
    eps=st.floats(0.0, 2.0),
    low=st.floats(-2.0, 0.5),
    width=st.floats(0.1, 3.0),
    norm=st.sampled_from([np.inf, 2]),
    seed=st.integers(0, 1000),
)
def test_property_ball_and_range(batch_size, shape, eps, low, width, norm, seed):
    """FAB and FAB-T stay inside the ball and the box, finite and float32, whatever the
    inputs, box, radius and norm."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, low + width, size=(batch_size, *shape)).astype(np.float32)
    box = dict(clip_min=low, clip_max=low + width)
    outputs = [
        fab_attack(_linear, x, eps, nb_iter=3, norm=norm, seed=seed, nb_restarts=2, **box),
        fab_targeted_top_k(_linear, x, eps, nb_iter=2, norm=norm, seed=seed,
                           nb_target_classes=2, **box),
    ]
    for x_adv in outputs:
        x_adv = np.asarray(x_adv)
        assert x_adv.dtype == np.float32 and x_adv.shape == x.shape
        assert np.all(np.isfinite(x_adv))
        assert x_adv.min() >= low - 1e-6 and x_adv.max() <= low + width + 1e-6
        assert np.all(perturbation_size(x_adv, x, norm) <= eps * (1 + 1e-5) + 1e-6)


def test_cifar_shaped_binarized_model():
    """A tiny weight-binarized ResNet on 32x32x3 inputs: FAB and FAB-T run and respect
    the 8/255 ball (no success threshold: the model is untrained)."""
    model = models.resnet18("wq", "md_tanh_s", width=0.0625, blocks=(1, 1, 1, 1))
    model_fn = lambda t: model(t, training=False)  # noqa: E731
    x = np.random.default_rng(0).uniform(size=(4, 32, 32, 3)).astype(np.float32)
    eps = 8 / 255
    for x_adv in (fab_attack(model_fn, x, eps, nb_iter=3, seed=0),
                  fab_targeted_top_k(model_fn, x, eps, nb_iter=2, nb_target_classes=2, seed=0)):
        x_adv = np.asarray(x_adv)
        assert x_adv.dtype == np.float32 and np.all(np.isfinite(x_adv))
        assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
        assert np.all(perturbation_size(x_adv, x, np.inf) <= eps + 1e-6)


def test_inside_a_tf_function(model_fn, batch):
    """FAB also runs inside a user's tf.function, with the eager result."""
    x, y = batch
    x, targets = tf.constant(x[:8]), tf.constant((y[:8] + 1) % 10)

    @tf.function
    def graph(x, y):
        return fab_attack(model_fn, x, 0.3, nb_iter=3, y=y, targeted=True, seed=0)

    eager = fab_attack(model_fn, x, 0.3, nb_iter=3, y=targets, targeted=True, seed=0)
    np.testing.assert_allclose(graph(x, targets).numpy(), eager.numpy(), atol=1e-6)
    assert np.abs(eager.numpy() - x.numpy()).max() > 0.0


# --------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------


class _Recorder:
    """A model_fn that counts its calls: argument checks must come before any."""

    def __init__(self, model_fn):
        self.model_fn, self.calls = model_fn, 0

    def __call__(self, t):
        self.calls += 1
        return self.model_fn(t)


X_BAD = np.zeros((2, 28, 28, 1), np.float32)


@pytest.mark.parametrize("attack", [fab_attack, fab_targeted_top_k])
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eps": -0.1}, "eps"),
        ({"nb_iter": 0}, "nb_iter"),
        ({"norm": 1}, "norm"),
        ({"eta": 0.9}, "eta"),
        ({"beta": 0.0}, "beta"),
        ({"beta": 1.0}, "beta"),
        ({"alpha_max": 1.5}, "alpha_max"),
        ({"alpha_max": -0.1}, "alpha_max"),
        ({"nb_restarts": 0}, "nb_restarts"),
        ({"rand_init": "uniform"}, "rand_init"),
        ({"return_details": 1}, "return_details"),
        ({"seed": -1}, "seed"),
        ({"clip_min": 0.0, "clip_max": None}, "clip_max"),
    ],
)
def test_bad_arguments(attack, kwargs, match, model_fn):
    recorder = _Recorder(model_fn)
    arguments = {"eps": 0.1, **kwargs}
    with pytest.raises(ValueError, match=match):
        attack(recorder, X_BAD, **arguments)
    assert recorder.calls == 0


def test_bad_targets_and_data(model_fn):
    with pytest.raises(ValueError, match="target labels y"):
        fab_attack(model_fn, X_BAD, 0.1, targeted=True)
    with pytest.raises(ValueError, match="nb_target_classes"):
        fab_targeted_top_k(model_fn, X_BAD, 0.1, nb_target_classes=0)
    with pytest.raises(ValueError, match="nb_target_classes must be at most classes - 1 = 9"):
        fab_targeted_top_k(model_fn, X_BAD, 0.1, nb_iter=1, nb_target_classes=10)
    with pytest.raises(TypeError, match="model_fn"):
        fab_attack(None, X_BAD, 0.1)
    with pytest.raises(ValueError, match="outside clip_min"):
        fab_attack(model_fn, X_BAD + 2.0, 0.1)
    with pytest.raises(ValueError, match=r"y holds labels in \[0, 10\]"):
        fab_attack(model_fn, X_BAD, 0.1, y=np.array([0, 10]))
