"""FGSM and PGD as used by adversarial training and the demo (issue 4 extends these)."""

import numpy as np
import pytest
import tensorflow as tf

from tfbnn.attacks import fast_gradient_method, projected_gradient_descent


def _fn(model):
    return lambda t: model(t, training=False)


@pytest.mark.parametrize("norm, eps", [(np.inf, 0.1), (np.inf, 0.3), (2, 2.0)])
@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_inside_ball_and_range_and_effective(trained_a, mnist_small, norm, eps, attack):
    _, (x, y) = mnist_small
    x, y = x[:128], y[:128]
    if attack == "fgsm":
        x_adv = fast_gradient_method(_fn(trained_a), x, eps, norm, clip_min=0.0, clip_max=1.0, y=y)
    else:
        x_adv = projected_gradient_descent(_fn(trained_a), x, eps, eps / 4, 10, norm,
                                           clip_min=0.0, clip_max=1.0, y=y, seed=0)
    x_adv = x_adv.numpy()
    assert np.all(np.isfinite(x_adv))
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    delta = (x_adv - x).reshape(len(x), -1)
    size = np.abs(delta).max(1) if norm == np.inf else np.linalg.norm(delta, axis=1)
    assert np.all(size <= eps + 1e-5)
    clean = np.mean(np.argmax(trained_a(x), -1) == y)
    attacked = np.mean(np.argmax(trained_a(x_adv), -1) == y)
    assert attacked < clean - 0.2


def test_eps_zero_returns_x(trained_a, mnist_small):
    _, (x, _) = mnist_small
    np.testing.assert_array_equal(fast_gradient_method(_fn(trained_a), x[:8], 0.0).numpy(), x[:8])
    x_pgd = projected_gradient_descent(_fn(trained_a), x[:8], 0.0, 0.0, 5, clip_min=0.0, clip_max=1.0)
    np.testing.assert_array_equal(x_pgd.numpy(), x[:8])


def test_pgd_is_stronger_than_fgsm(trained_a, mnist_small):
    _, (x, y) = mnist_small
    fgsm = fast_gradient_method(_fn(trained_a), x, 0.1, clip_min=0.0, clip_max=1.0, y=y)
    pgd = projected_gradient_descent(_fn(trained_a), x, 0.1, 0.01, 40, clip_min=0.0, clip_max=1.0, y=y)
    acc = lambda z: np.mean(np.argmax(trained_a(z), -1) == y)  # noqa: E731
    assert acc(pgd) <= acc(fgsm)


def test_targeted_pgd_reaches_targets(trained_a, mnist_small):
    _, (x, y) = mnist_small
    target = (y[:64] + 1) % 10
    x_adv = projected_gradient_descent(_fn(trained_a), x[:64], 0.3, 0.02, 40, clip_min=0.0, clip_max=1.0,
                                       y=target, targeted=True)
    assert np.mean(np.argmax(trained_a(x_adv), -1) == target) > 0.8


def test_works_inside_tf_function(trained_a, mnist_small):
    _, (x, y) = mnist_small
    attack = tf.function(lambda t: projected_gradient_descent(_fn(trained_a), t, 0.1, 0.01, 5,
                                                              clip_min=0.0, clip_max=1.0, seed=1))
    assert attack(x[:16]).shape == x[:16].shape


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eps": -0.1}, "eps"),
        ({"norm": 3}, "norm"),
        ({"clip_min": 1.0, "clip_max": 0.0}, "clip_min"),
        ({"clip_min": 0.0}, "clip_max"),
        ({"targeted": True}, "target"),
    ],
)
def test_bad_arguments(trained_a, kwargs, match):
    x = np.zeros((2, 28, 28, 1), np.float32)
    call = {"eps": 0.1, **kwargs}
    with pytest.raises(ValueError, match=match):
        fast_gradient_method(_fn(trained_a), x, **call)
    with pytest.raises(ValueError, match=match):
        projected_gradient_descent(_fn(trained_a), x, eps_iter=0.01, nb_iter=2, **call)


def test_bad_inputs(trained_a):
    x = np.full((2, 28, 28, 1), 0.5, np.float32)
    with pytest.raises(ValueError, match="outside clip_min"):
        fast_gradient_method(_fn(trained_a), x + 1.0, 0.1, clip_min=0.0, clip_max=1.0)
    x_nan = x.copy()
    x_nan[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fast_gradient_method(_fn(trained_a), x_nan, 0.1)
    with pytest.raises(ValueError, match="nb_iter"):
        projected_gradient_descent(_fn(trained_a), x, 0.1, 0.01, -1)


def test_bad_labels(trained_a):
    x = np.full((4, 28, 28, 1), 0.5, np.float32)
    with pytest.raises(ValueError, match="4 inputs"):
        fast_gradient_method(_fn(trained_a), x, 0.1, y=np.array([1, 2]))
    with pytest.raises(ValueError, match="shape"):
        projected_gradient_descent(_fn(trained_a), x, 0.1, 0.01, 2, y=np.zeros((4, 10)))
