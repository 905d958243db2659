"""tfbnn.temperature against explicit references: Jacobians, singular values, psi,
the Proposition 1 bound, NJS's and HNS's betas, and the Hessian norm of eq. 8 checked
against a Hessian formed with nested gradient tapes on tiny networks.
"""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tfbnn import temperature as T

D, N = 4, 6  # classes, input values of the tiny networks


def _relu_net(seed=0, hidden=5):
    """A tiny piecewise-linear network R^N -> R^D and its weights."""
    rng = np.random.default_rng(seed)
    w1 = tf.constant(rng.normal(size=(N, hidden)), tf.float64)
    w2 = tf.constant(rng.normal(size=(hidden, D)), tf.float64)
    return lambda x: tf.nn.relu(tf.reshape(x, [-1, N]) @ w1 + 0.1) @ w2


def _sigmoid_net(seed=0, hidden=5):
    rng = np.random.default_rng(seed)
    w1 = tf.constant(rng.normal(size=(N, hidden)), tf.float64)
    w2 = tf.constant(rng.normal(size=(hidden, D)), tf.float64)
    return lambda x: tf.sigmoid(tf.reshape(x, [-1, N]) @ w1) @ w2


def _inputs(batch=3, seed=1, shape=(N,)):
    return tf.constant(np.random.default_rng(seed).normal(size=(batch, *shape)), tf.float64)


def _explicit_hessian_norm(model_fn, x, label, beta):
    """||d^2 CE(beta a(x), label) / dx^2||_F for one example, with nested tapes."""
    x = tf.reshape(x, [1, -1])
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=[label], logits=beta * model_fn(x))
        grad = inner.gradient(loss, x)[0]
    hessian = outer.jacobian(grad, x)[:, 0, :]
    return float(tf.norm(hessian))


def test_jacobian_matches_batch_jacobian():
    model_fn = _relu_net()
    x = _inputs(shape=(2, 3))  # non-flat inputs are flattened
    jac = T.input_logit_jacobian(model_fn, x).numpy()
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = model_fn(x)
    expected = tape.batch_jacobian(logits, x).numpy().reshape(3, D, N)
    assert jac.shape == (3, D, N)
    np.testing.assert_allclose(jac, expected, rtol=1e-10)


def test_singular_values_match_numpy_svd():
    jac = np.random.default_rng(0).normal(size=(5, D, 30))
    jac[1] = 0.0  # an all-zero Jacobian has zero singular values
    values = T.jacobian_singular_values(jac).numpy()
    expected = np.linalg.svd(jac, compute_uv=False)
    np.testing.assert_allclose(values, expected, rtol=1e-8, atol=1e-12)
    narrow = np.random.default_rng(1).normal(size=(2, D, 2))  # n < d: min(d, n) values
    np.testing.assert_allclose(T.jacobian_singular_values(narrow).numpy(),
                               np.linalg.svd(narrow, compute_uv=False), rtol=1e-8)


def test_error_signal_is_softmax_minus_onehot():
    logits = np.array([[1.0, 2.0, -1.0, 0.5], [3.0, 0.0, 0.0, -2.0]])
    labels = np.array([2, 0])
    beta = np.array([0.5, 3.0])
    psi = T.error_signal(logits, labels, beta).numpy()
    scaled = beta[:, None] * logits
    p = np.exp(scaled - scaled.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(psi, p - np.eye(D)[labels], rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    logits=st.lists(st.floats(-20, 20), min_size=2, max_size=10).filter(
        lambda v: max(v) - min(v) > 1e-3),
    rho=st.floats(1e-30, 0.4),
    fraction=st.floats(0.01, 0.999),
)
def test_proposition1_bound_keeps_softmax_unsaturated(logits, rho, fraction):
    """For any beta below the bound, 1 - softmax(beta a)_1 > rho (Proposition 1)."""
    a = np.array(logits, np.float64)
    d = len(a)
    if not rho < (d - 1) / d:
        return
    bound = float(T.beta_upper_bound(a.max() - a.min(), rho, d))
    scaled = fraction * bound * a
    p = np.exp(scaled - scaled.max())
    p /= p.sum()
    one_minus_top = np.sort(p)[:-1].sum()  # 1 - p_1 without cancellation
    assert one_minus_top > rho * (1 - 1e-9)


def test_bound_with_tiny_rho_is_finite_and_exact():
    gamma = np.array([2.0, 0.0])
    bound = T.beta_upper_bound(gamma, 1e-72, 10).numpy()
    expected = -(np.log(1e-72) - np.log(9) - np.log1p(-1e-72)) / 2.0
    assert bound[0] == pytest.approx(expected, rel=1e-12)
    assert np.isinf(bound[1])


def test_njs_beta1_normalises_mean_singular_value():
    model_fn = _relu_net()
    x = _inputs(batch=8)
    beta1 = float(T.njs_beta1(model_fn, x, M=8))
    values = T.jacobian_singular_values(T.input_logit_jacobian(model_fn, x)).numpy()
    assert np.mean(beta1 * values) == pytest.approx(1.0, rel=1e-8)
    assert float(T.njs_beta1(lambda t: 0.0 * t[:, :D], x)) == 1.0  # all-zero Jacobian


def test_njs_beta2_desaturates_only_saturated_examples():
    logits = tf.constant([[40.0, 0.0, -5.0, 1.0], [0.3, 0.1, 0.0, 0.2]], tf.float64)
    labels = tf.constant([0, 0])
    beta2 = T.njs_beta2(logits, labels, rho=0.01, beta1=2.0).numpy()
    assert beta2[1] == 1.0  # not saturated: unchanged
    assert 0.0 < beta2[0] < 1.0
    p = tf.nn.softmax(beta2[0] * 2.0 * logits[0]).numpy()
    assert 1.0 - p[0] > 0.01 - 1e-9


def test_njs_loss_recomputes_beta2_from_the_logits_it_gets():
    loss_fn = T.njs_loss(1.0, rho=0.01)
    logits = tf.constant([[60.0, 0.0, 0.0, 0.0]], tf.float64)
    labels = tf.constant([0])
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = loss_fn(labels, logits)
    grad = tape.gradient(loss, logits).numpy()
    plain = tf.GradientTape()
    with plain:
        plain.watch(logits)
        plain_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    assert np.abs(plain.gradient(plain_loss, logits).numpy()).max() < 1e-20  # saturated
    assert np.abs(grad).max() > 1e-4  # NJS revives the gradient


@pytest.mark.parametrize("beta", [0.3, 1.0, 4.0])
def test_hessian_norm_is_exact_for_piecewise_linear_nets(beta):
    model_fn = _relu_net()
    x = _inputs()
    labels = [0, 1, 3]
    jac, logits = T.jacobian_and_logits(model_fn, x)
    ours = T.hessian_frobenius_norm(logits, jac, beta).numpy()
    for i, label in enumerate(labels):
        # the Gauss-Newton term does not depend on the label for piecewise-linear nets
        assert ours[i] == pytest.approx(_explicit_hessian_norm(model_fn, x[i], label, beta),
                                        rel=1e-8)


def test_hessian_norm_is_the_gauss_newton_part_for_smooth_nets():
    """For sigmoid nets the dropped psi dJ/dx term is real: ours equals ||b^2 J^T A J||_F
    computed explicitly, and differs from the full Hessian norm."""
    model_fn = _sigmoid_net()
    x = _inputs(batch=2)
    beta = 2.0
    jac, logits = T.jacobian_and_logits(model_fn, x)
    ours = T.hessian_frobenius_norm(logits, jac, beta).numpy()
    for i in range(2):
        p = tf.nn.softmax(beta * logits[i]).numpy()
        a = np.diag(p) - np.outer(p, p)
        j = jac[i].numpy()
        assert ours[i] == pytest.approx(np.linalg.norm(beta**2 * j.T @ a @ j), rel=1e-8)
        full = _explicit_hessian_norm(model_fn, x[i], 0, beta)
        assert abs(full - ours[i]) > 1e-6 * full


@pytest.mark.parametrize("spacing", ["linear", "log"])
def test_hns_grid_runs_between_the_bounds(spacing):
    logits = tf.constant([[3.0, 1.0, 0.0, -2.0], [0.5, 0.4, 0.0, 0.0]], tf.float64)
    grid = T.hns_beta_grid(logits, grid=7, spacing=spacing).numpy()
    assert grid.shape == (2, 7) and np.all(np.diff(grid, axis=1) > 0)
    gap = np.array([2.0, 0.1])
    low = T.beta_upper_bound(gap, 1 - 1 / D - 1e-2, D).numpy()
    high = T.beta_upper_bound(gap, 1e-72, D).numpy()
    np.testing.assert_allclose(grid[:, 0], low, rtol=1e-10)
    np.testing.assert_allclose(grid[:, -1], high, rtol=1e-10)
    middle = grid[:, 3]
    expected = (low + high) / 2 if spacing == "linear" else np.sqrt(low * high)
    np.testing.assert_allclose(middle, expected, rtol=1e-10)


def test_hns_beta_maximises_the_hessian_norm_over_the_grid():
    model_fn = _relu_net(seed=3)
    x = _inputs(batch=4, seed=5)
    logits = model_fn(x)
    predicted = tf.argmax(logits, -1)
    labels = predicted.numpy().copy()
    labels[3] = (labels[3] + 1) % D  # misclassified: keeps beta = 1
    beta = T.hns_beta(model_fn, x, labels, grid=25).numpy()
    assert beta[3] == 1.0
    jac, _ = T.jacobian_and_logits(model_fn, x)
    grid = T.hns_beta_grid(logits, grid=25).numpy()
    for i in range(3):
        norms = [T.hessian_frobenius_norm(logits[i:i + 1], jac[i:i + 1], b).numpy()[0]
                 for b in grid[i]]
        assert beta[i] == pytest.approx(grid[i][int(np.argmax(norms))], rel=1e-10)
        assert beta[i] in grid[i]


def test_temperature_never_changes_a_prediction():
    logits = tf.constant(np.random.default_rng(0).normal(size=(64, 10)) * 30, tf.float32)
    beta = tf.constant(np.random.default_rng(1).uniform(1e-3, 1e3, size=64), tf.float32)
    np.testing.assert_array_equal(tf.argmax(logits, -1), tf.argmax(beta[:, None] * logits, -1))


def test_signal_propagation_stats_match_a_direct_gradient():
    model_fn = _relu_net()
    x = _inputs(batch=5)
    labels = tf.argmax(model_fn(x), -1)
    beta = 0.7
    stats = T.signal_propagation_stats(model_fn, x, labels, beta)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = T.temperature_scaled_loss(beta)(labels, model_fn(x))
    grad = tape.gradient(loss, x).numpy()
    assert stats["grad_norm"] == pytest.approx(np.mean(np.linalg.norm(grad, axis=1)), rel=1e-8)
    assert stats["sign_grad_norm"] == pytest.approx(
        np.mean(np.sqrt(np.count_nonzero(grad, axis=1))), rel=1e-8)
    values = T.jacobian_singular_values(T.input_logit_jacobian(model_fn, x)).numpy() * beta
    assert stats["jsv_mean"] == pytest.approx(values.mean(), rel=1e-8)
    assert stats["jsv_std"] == pytest.approx(values.std(), rel=1e-8)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: T.beta_upper_bound(1.0, 0.0, 10), ValueError, "rho"),
        (lambda: T.beta_upper_bound(1.0, 0.95, 10), ValueError, "rho"),
        (lambda: T.beta_upper_bound(1.0, "small", 10), TypeError, "rho"),
        (lambda: T.beta_upper_bound(1.0, 0.01, 1), ValueError, "d "),
        (lambda: T.njs_beta1(_relu_net(), _inputs(), M=0), ValueError, "M"),
        (lambda: T.njs_beta1("model", _inputs()), TypeError, "model_fn"),
        (lambda: T.temperature_scaled_loss(-1.0), ValueError, "beta"),
        (lambda: T.temperature_scaled_loss(np.ones((2, 2))), ValueError, "beta"),
        (lambda: T.hns_beta_grid(tf.ones((1, 4)), grid=1), ValueError, "grid"),
        (lambda: T.hns_beta_grid(tf.ones((1, 4)), spacing="cubic"), ValueError, "spacing"),
        (lambda: T.hns_beta_grid(tf.ones((1, 4)), rho_low=0.5, rho_high=0.1), ValueError,
         "rho_low"),
        (lambda: T.jacobian_singular_values(np.ones((3, 4))), ValueError, "jac"),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
