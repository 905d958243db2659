import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
import larq as lq

from tfbnn import quantizers
from tfbnn.quantizers import PassThroughSign, StochasticSign, passthrough_sign, stochastic_sign

X = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0], dtype=np.float32)


def _grad(fn, x, dy):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x, output_gradients=tf.constant(dy)).numpy()


def test_passthrough_forward_matches_numpy_sign_with_zero_positive():
    expected = np.where(X >= 0, 1.0, -1.0)
    np.testing.assert_array_equal(passthrough_sign(tf.constant(X)).numpy(), expected)


@pytest.mark.parametrize("grad_clip", [1.0, 0.5, None])
def test_passthrough_gradient_is_clipped_upstream_everywhere(grad_clip):
    dy = np.array([5.0, -2.0, 0.3, 1.5, -0.7, 0.0, -4.0], dtype=np.float32)
    got = _grad(lambda t: passthrough_sign(t, grad_clip), X, dy)
    expected = dy if grad_clip is None else np.clip(dy, -grad_clip, grad_clip)
    np.testing.assert_allclose(got, expected)


def test_larq_ste_sign_differs_where_input_exceeds_one():
    dy = np.ones_like(X)
    larq_grad = _grad(lq.quantizers.ste_sign, X, dy)
    ours = _grad(passthrough_sign, X, dy)
    np.testing.assert_allclose(larq_grad, (np.abs(X) <= 1).astype(np.float32))
    np.testing.assert_allclose(ours, dy)


def test_hard_sigmoid_matches_numpy():
    np.testing.assert_allclose(quantizers.hard_sigmoid(tf.constant(X)).numpy(), np.clip((X + 1) / 2, 0, 1))


def test_stochastic_sign_outputs_are_plus_minus_one_and_saturate():
    w = tf.constant(np.repeat(X, 1000))
    out = stochastic_sign(w).numpy().reshape(len(X), 1000)
    assert set(np.unique(out)) <= {-1.0, 1.0}
    assert np.all(out[X <= -1] == -1.0)
    assert np.all(out[X >= 1] == 1.0)


@pytest.mark.parametrize("w", [-0.6, -0.2, 0.0, 0.3, 0.8])
def test_stochastic_sign_bernoulli_statistics(w):
    tf.random.set_seed(7)
    n = 40000
    out = stochastic_sign(tf.fill([n], w), seed=3).numpy()
    p = (w + 1) / 2
    freq = np.mean(out == 1.0)
    assert abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n)
    # the mean output is the expectation clip(w, -1, 1)
    assert abs(out.mean() - w) < 10 * np.sqrt(1 / n)


def test_stochastic_sign_is_seedable_and_fresh_per_call():
    w = tf.zeros([1000])
    tf.random.set_seed(11)
    a1, a2 = stochastic_sign(w, seed=5).numpy(), stochastic_sign(w, seed=5).numpy()
    tf.random.set_seed(11)
    b1, b2 = stochastic_sign(w, seed=5).numpy(), stochastic_sign(w, seed=5).numpy()
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert np.any(a1 != a2)


def test_stochastic_sign_gradient_is_straight_through_inside_unit_interval():
    dy = np.linspace(-2, 2, len(X)).astype(np.float32)
    got = _grad(stochastic_sign, X, dy)
    np.testing.assert_allclose(got, np.where(np.abs(X) <= 1, dy, 0.0))


@pytest.mark.parametrize(
    "quantizer", [PassThroughSign(), PassThroughSign(grad_clip=None), StochasticSign(seed=3)]
)
def test_quantizer_config_round_trip(quantizer):
    config = lq.quantizers.serialize(quantizer)
    restored = lq.quantizers.deserialize(config)
    assert type(restored) is type(quantizer)
    assert restored.get_config() == quantizer.get_config()
    assert restored.precision == 1


def test_string_aliases_resolve():
    assert isinstance(lq.quantizers.get("passthrough_sign"), PassThroughSign)
    assert isinstance(lq.quantizers.get("stochastic_sign"), StochasticSign)


def test_bad_arguments():
    with pytest.raises(ValueError, match="grad_clip"):
        PassThroughSign(grad_clip=0)
    with pytest.raises(TypeError, match="seed"):
        StochasticSign(seed=1.5)


def test_stochastic_layer_latent_weights_change_under_training():
    """The original code's Bernoulli sample cut the gradient; here W must move."""
    layer = lq.layers.QuantDense(
        4, kernel_quantizer=StochasticSign(), kernel_initializer=keras.initializers.RandomUniform(-0.5, 0.5)
    )
    x = tf.random.normal([64, 8])
    y = tf.random.normal([64, 4])
    layer.build(x.shape)
    before = layer.kernel.numpy().copy()
    optimizer = keras.optimizers.SGD(0.1)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((layer(x) - y) ** 2)
        grads = tape.gradient(loss, [layer.kernel])
        assert grads[0] is not None and np.any(grads[0].numpy() != 0)
        optimizer.apply_gradients(zip(grads, [layer.kernel]))
    assert np.any(layer.kernel.numpy() != before)
