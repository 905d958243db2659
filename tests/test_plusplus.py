"""FGSM++ and PGD++ (NJS and HNS): the attack contract, and the mechanism where its
outcome is certain: on a model whose logits are scaled until the softmax saturates in
float32, plain FGSM/PGD stall on vanishing gradients while the temperature-scaled
attacks go on.
"""

import numpy as np
import pytest
import tensorflow as tf

from tfbnn import attacks, temperature
from tfbnn.attacks import plusplus

EPS = {np.inf: 0.3, 2: 3.0}


def _fn(model, scale=1.0):
    return lambda t: scale * model(t, training=False)


@pytest.fixture(scope="module")
def batch(correct_a):
    x, y = correct_a
    return x[:48], y[:48]


def _fooled(model_fn, x_adv, y):
    return np.mean(np.argmax(model_fn(x_adv), -1) != y)


def _check_ball(x_adv, x, eps, norm):
    x_adv = np.asarray(x_adv)
    assert np.all(np.isfinite(x_adv)) and x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    delta = (x_adv - x).reshape(len(x), -1)
    size = np.abs(delta).max(1) if norm == np.inf else np.linalg.norm(delta, axis=1)
    assert np.all(size <= eps + 1e-5)


@pytest.mark.parametrize("variant", plusplus.VARIANTS)
@pytest.mark.parametrize("norm", [np.inf, 2])
def test_plusplus_contract(variant, norm, trained_a, batch):
    x, y = batch
    model_fn = _fn(trained_a)
    eps = EPS[norm]
    fgsm = attacks.fgsm_plus_plus(model_fn, x, eps, norm, 0.0, 1.0, y=y, variant=variant)
    pgd = attacks.pgd_plus_plus(model_fn, x, eps, eps / 8, 20, norm, 0.0, 1.0, y=y,
                                variant=variant, seed=0)
    for x_adv in (fgsm, pgd):
        _check_ball(x_adv, x, eps, norm)
    # measured on this model (2026-11-25, L-inf eps 0.3, 48 examples): FGSM++ and PGD++
    # both fool 0.98-1.0 of them; the thresholds leave a wide margin
    assert _fooled(model_fn, fgsm, y) >= 0.3
    assert _fooled(model_fn, pgd, y) >= 0.8
    targets = (y + 1) % 10
    hit = attacks.pgd_plus_plus(model_fn, x, eps, eps / 8, 20, norm, 0.0, 1.0, y=targets,
                                targeted=True, variant=variant, seed=0)
    assert np.mean(np.argmax(model_fn(hit), -1) == targets) >= 0.6
    zero = attacks.pgd_plus_plus(model_fn, x[:4], 0.0, 0.0, 3, norm, 0.0, 1.0, y=y[:4],
                                 variant=variant, seed=0)
    np.testing.assert_allclose(zero, x[:4], atol=1e-7)


@pytest.mark.parametrize("variant", plusplus.VARIANTS)
def test_saturated_softmax_stalls_plain_attacks_but_not_plusplus(variant, trained_a, batch):
    """Logits x1000: float32 cross-entropy gradients are exactly zero on most examples,
    so FGSM and PGD cannot move; FGSM++ and PGD++ rescale the logits and succeed."""
    x, y = batch
    saturated = _fn(trained_a, 1000.0)
    with tf.GradientTape() as tape:
        xt = tf.constant(x)
        tape.watch(xt)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=saturated(xt))
    grad = tape.gradient(loss, xt).numpy().reshape(len(x), -1)
    dead = np.mean(np.all(grad == 0, axis=1))
    assert dead >= 0.5  # the premise: most input gradients vanish
    eps, step = 0.3, 0.03
    plain_fgsm = attacks.fast_gradient_method(saturated, x, eps, np.inf, clip_min=0.0,
                                              clip_max=1.0, y=y)
    plain_pgd = attacks.projected_gradient_descent(saturated, x, eps, step, 20, np.inf,
                                                   clip_min=0.0, clip_max=1.0, y=y,
                                                   rand_init=False)
    fgsmpp = attacks.fgsm_plus_plus(saturated, x, eps, np.inf, 0.0, 1.0, y=y, variant=variant)
    pgdpp = attacks.pgd_plus_plus(saturated, x, eps, step, 20, np.inf, 0.0, 1.0, y=y,
                                  variant=variant, rand_init=False)
    stalled = {"fgsm": _fooled(saturated, plain_fgsm, y), "pgd": _fooled(saturated, plain_pgd, y)}
    revived = {"fgsm++": _fooled(saturated, fgsmpp, y), "pgd++": _fooled(saturated, pgdpp, y)}
    # A dead gradient leaves sign(0) = 0: the stalled examples do not move at all.
    assert stalled["pgd"] <= 1.0 - dead + 0.05
    assert revived["pgd++"] >= 0.8
    assert revived["fgsm++"] >= stalled["fgsm"] + 0.2
    assert revived["pgd++"] >= stalled["pgd"] + 0.3


def test_temperature_does_not_change_what_counts_as_success(trained_a, batch):
    """Predictions of the scaled logits equal the model's, so a PGD++ example that fools
    the scaled model fools the model."""
    x, y = batch
    model_fn = _fn(trained_a)
    beta = temperature.hns_beta(model_fn, x, y)
    logits = model_fn(x)
    np.testing.assert_array_equal(np.argmax(logits, -1), np.argmax(beta[:, None] * logits, -1))


def test_hns_beta_is_searched_once_at_the_clean_input(trained_a, batch, monkeypatch):
    x, y = batch
    calls = []
    original = temperature.hns_from_jacobian

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(temperature, "hns_from_jacobian", counting)
    attacks.pgd_plus_plus(_fn(trained_a), x[:8], 0.3, 0.03, 5, np.inf, 0.0, 1.0, y=y[:8],
                          variant="hns", seed=0, nb_restarts=2)
    assert len(calls) == 1


def test_njs_uses_the_given_samples_for_beta1(trained_a, batch):
    x, y = batch
    model_fn = _fn(trained_a)
    beta1 = float(temperature.njs_beta1(model_fn, x[:10], M=10))
    expected = temperature.njs_loss(beta1)(tf.constant(y[:8]), model_fn(x[:8])).numpy()
    # the loss PGD++ builds, evaluated at the clean inputs, equals NJS's loss with beta1
    loss_fn = plusplus.temperature_loss(model_fn, tf.constant(x[:8]), tf.constant(y[:8]), False,
                                        "njs", 0.01, x[:10], 10, 100, "linear",
                                        temperature.HNS_RHO_LOW, None)
    np.testing.assert_allclose(loss_fn(tf.constant(y[:8]), model_fn(x[:8])).numpy(), expected,
                               rtol=1e-5)


def test_precomputed_njs_beta1_gives_the_same_attack(trained_a, batch):
    x, y = batch
    model_fn = _fn(trained_a)
    beta1 = temperature.njs_beta1(model_fn, x[:10], M=10)
    kwargs = dict(eps=0.3, eps_iter=0.03, nb_iter=5, clip_min=0.0, clip_max=1.0, y=y[:16],
                  variant="njs", seed=0)
    from_samples = attacks.pgd_plus_plus(model_fn, x[:16], njs_samples=x[:10], njs_max_samples=10,
                                         **kwargs)
    given = attacks.pgd_plus_plus(model_fn, x[:16], njs_beta1=beta1, **kwargs)
    np.testing.assert_allclose(given, from_samples, atol=1e-6)
    with pytest.raises(ValueError, match="beta"):
        attacks.pgd_plus_plus(model_fn, x[:2], njs_beta1=-1.0, **{**kwargs, "y": y[:2]})


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"variant": "xyz"}, ValueError, "variant"),
        ({"rho": 0.0}, ValueError, "rho"),
        ({"hns_grid": 1}, ValueError, "grid"),
        ({"hns_spacing": "cubic"}, ValueError, "spacing"),
        ({"loss_fn": lambda a, b: a}, TypeError, "loss_fn"),
        ({"nb_restart": 2}, TypeError, "nb_restart"),
        ({"nb_restarts": 0}, ValueError, "nb_restarts"),
        ({"rand_init": "corners"}, ValueError, "rand_init"),
        ({"targeted": True}, ValueError, "target"),
    ],
)
def test_pgdpp_bad_arguments(kwargs, error, match, trained_a):
    x = np.zeros((2, 28, 28, 1), np.float32)
    with pytest.raises(error, match=match):
        attacks.pgd_plus_plus(_fn(trained_a), x, 0.1, 0.01, 2, np.inf, 0.0, 1.0, **kwargs)


def test_fgsmpp_bad_arguments(trained_a):
    x = np.zeros((2, 28, 28, 1), np.float32)
    with pytest.raises(ValueError, match="eps"):
        attacks.fgsm_plus_plus(_fn(trained_a), x, -0.1)
    with pytest.raises(ValueError, match="clip"):
        attacks.fgsm_plus_plus(_fn(trained_a), x, 0.1, np.inf, 1.0, 0.0)
    with pytest.raises(TypeError, match="model_fn"):
        attacks.fgsm_plus_plus("model", x, 0.1)
