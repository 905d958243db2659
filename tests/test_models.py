import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
import larq as lq

from tfbnn import models, training
from tfbnn.quantizers import PassThroughSign, StochasticSign


def _expected_params(variant, k1, channels=1, classes=10):
    k2 = 2 * k1
    conv = 8 * 8 * channels * k1 + k1 + 6 * 6 * k1 * k2 + k2 + 5 * 5 * k2 * k2 + k2
    dense = k2 * classes + classes  # 28x28 input -> 1x1 spatial after conv3
    bn = 0 if variant == "A" else 4 * k1 + 4 * k2
    scales = 2 if variant in ("C", "S") else 0
    return conv + dense + bn + scales


@pytest.mark.parametrize("variant", models.VARIANTS)
@pytest.mark.parametrize("k1", [4, 64])
def test_shapes_and_parameter_counts(variant, k1):
    model = models.cleverhans_cnn(variant, k1=k1)
    assert model.input_shape == (None, 28, 28, 1)
    assert model.output_shape == (None, 10)
    assert model.count_params() == _expected_params(variant, k1)
    assert model.get_layer("conv1").filters == k1
    assert model.get_layer("conv3").filters == 2 * k1


def test_paper_k1_64_parameter_count():
    # CleverHans tutorial CNN with 64 first-layer kernels: 710,218 parameters.
    assert models.cleverhans_cnn("A", k1=64).count_params() == 710218


def test_variant_layers():
    b = models.cleverhans_cnn("B", k1=4)
    assert isinstance(b.get_layer("conv2").kernel_quantizer, PassThroughSign)
    assert isinstance(b.get_layer("conv2").input_quantizer, PassThroughSign)
    assert not isinstance(b.get_layer("conv1"), lq.layers.QuantConv2D)
    assert not any(isinstance(layer, models.LearnedScale) for layer in b.layers)
    c = models.cleverhans_cnn("C", k1=4)
    assert [layer.name for layer in c.layers if isinstance(layer, models.LearnedScale)] == ["scale2", "scale3"]
    s = models.cleverhans_cnn("S", k1=4)
    assert isinstance(s.get_layer("conv3").kernel_quantizer, StochasticSign)
    assert isinstance(s.get_layer("conv2").kernel_quantizer, PassThroughSign)
    w = models.cleverhans_cnn("W", k1=4)
    assert isinstance(w.get_layer("conv2").kernel_quantizer, PassThroughSign)
    assert w.get_layer("conv2").input_quantizer is None
    assert w.count_params() == models.cleverhans_cnn("B", k1=4).count_params()
    ste = models.cleverhans_cnn("B", k1=4, estimator="ste_sign")
    assert isinstance(ste.get_layer("conv2").kernel_quantizer, lq.quantizers.SteSign)


def test_binary_layers_compute_with_plus_minus_one():
    model = models.cleverhans_cnn("B", k1=4)
    layer = model.get_layer("conv3")
    q = layer.kernel_quantizer(layer.kernel).numpy()
    assert set(np.unique(q)) <= {-1.0, 1.0}


def test_cifar_shape():
    model = models.cleverhans_cnn("C", k1=4, input_shape=(32, 32, 3))
    assert model.output_shape == (None, 10)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"variant": "D"}, "variant"),
        ({"variant": "a"}, "variant"),
        ({"k1": 0}, "k1"),
        ({"k1": -3}, "k1"),
        ({"k1": 2.5}, "k1"),
        ({"input_shape": (28, 28)}, "input_shape"),
        ({"input_shape": (8, 8, 1)}, "too small"),
        ({"estimator": "sgn"}, "estimator"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.cleverhans_cnn(**kwargs)


def test_registry():
    assert models.build_model("C", k1=4).name == "cnn_C4"
    assert models.build_model("substitute_mlp").count_params() == 784 * 200 + 200 + 200 * 200 + 200 + 2010
    with pytest.raises(ValueError, match="Unknown model"):
        models.build_model("Z")


@pytest.mark.parametrize("quantized", [False, True])
@pytest.mark.parametrize("units", [2, 4])
def test_and_mlp(quantized, units):
    model = models.and_mlp(units, quantized=quantized)
    assert model.output_shape == (None, 1)
    assert isinstance(model.get_layer("hidden2"), lq.layers.QuantDense) == quantized


def test_stochastic_detection():
    x = tf.random.uniform([4, 28, 28, 1])
    s = models.cleverhans_cnn("S", k1=4)
    b = models.cleverhans_cnn("B", k1=4)
    assert models.is_stochastic(lambda t: s(t, training=False), x)
    assert not models.is_stochastic(lambda t: b(t, training=False), x)


@pytest.mark.parametrize("variant", ["A", "B", "C", "S"])
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_save_reload_equality(tmp_path, variant, suffix):
    model = models.cleverhans_cnn(variant, k1=4)
    training.compile_model(model)
    x = tf.random.uniform([8, 28, 28, 1], seed=1)
    model.fit(x, tf.constant([0, 1, 2, 3, 4, 5, 6, 7]), epochs=1, verbose=0)
    path = tmp_path / f"m{suffix}"
    model.save(path)
    restored = keras.models.load_model(path, custom_objects=models.custom_objects())
    for a, b in zip(model.weights, restored.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    if variant == "S":
        assert isinstance(restored.get_layer("conv3").kernel_quantizer, StochasticSign)
    else:
        np.testing.assert_array_equal(model(x).numpy(), restored(x).numpy())


@pytest.mark.parametrize("variant", models.VARIANTS)
def test_a_few_training_steps_reduce_the_loss(variant, mnist_small):
    (x, y), _ = mnist_small
    model = models.cleverhans_cnn(variant, k1=16)
    training.compile_model(model)
    before = model.evaluate(x[:512], y[:512], verbose=0)[0]
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    after = model.evaluate(x[:512], y[:512], verbose=0)[0]
    assert after < before


@pytest.mark.parametrize(
    "build, shape",
    [
        (lambda: models.and_mlp(2, quantized=True), (5, 2)),
        (lambda: models.and_mlp(4, quantized=False), (5, 2)),
        (lambda: models.substitute_mlp(), (5, 28, 28, 1)),
    ],
)
@pytest.mark.parametrize("suffix", [".keras", ".h5", "savedmodel"])
def test_mlps_round_trip(tmp_path, build, shape, suffix):
    from tfbnn import export

    model = build()
    x = tf.random.uniform(shape, seed=2)
    if suffix == "savedmodel":
        model_fn, _ = export.load_saved_model(export.export_saved_model(model, tmp_path / "sm"))
        # Grappler may fuse MatMul+BiasAdd+Sigmoid in the exported graph: equal to
        # float32 rounding here (the CNNs are bit-identical, see test_export.py).
        np.testing.assert_allclose(model_fn(x).numpy(), model(x, training=False).numpy(), rtol=1e-6)
        return
    model.save(tmp_path / f"m{suffix}")
    restored = keras.models.load_model(tmp_path / f"m{suffix}", custom_objects=models.custom_objects())
    np.testing.assert_array_equal(model(x).numpy(), restored(x).numpy())


def _fit_and(units, seed):
    keras.utils.set_random_seed(seed)
    x = np.random.default_rng(0).uniform(0, 1, (1000, 2)).astype("float32")
    y = (np.round(x[:, 0]) * np.round(x[:, 1])).astype("float32")
    model = models.and_mlp(units, quantized=True)
    model.compile(keras.optimizers.Adam(0.1), keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x, y, epochs=200, batch_size=1000, verbose=0)
    logits = model.predict(x, verbose=0)[:, 0]
    return float(np.mean((logits > 0) == (y > 0.5))), len(np.unique(np.round(logits, 5)))


def test_quantized_and_mlp_learns_and_is_not_constant():
    """Appendix B: the quantized middle layer thresholds its weights and activations; the
    network must still learn AND (binarizing its positive sigmoid inputs made it constant).
    Measured (200 full-batch epochs): 4 units learn for every seed tried (0.90-0.99); 2
    units for 4 of 6 seeds, the other two collapse to a constant output."""
    model = models.and_mlp(2, quantized=True)
    signs = model.get_layer("hidden2_sign")(tf.constant([[-0.5, 0.0, 2.0]])).numpy()
    assert set(np.unique(signs)) <= {-1.0, 1.0}
    for seed in (0, 1):
        accuracy, distinct = _fit_and(4, seed)
        assert accuracy >= 0.85 and distinct >= 2
    assert max(_fit_and(2, seed)[0] for seed in (1, 2)) >= 0.85
