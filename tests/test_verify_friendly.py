"""Verification-friendly training: ternary weights read exactly by the verifier (against
brute force), the margin penalty trained with ``fit``, and the stability measure.

The brute-force cases reuse the tiny networks of test_verify.py with ternary weights
(Larq's SteTern at a threshold that zeroes a fifth to a half of every layer's weights).
"""

import numpy as np
import pytest

import tfbnn  # noqa: F401  (Keras 2 first)
import tf_keras as keras

from tfbnn import models, training

pytest.importorskip("ortools", reason="tfbnn.verify needs OR-Tools: pip install -e '.[verify]'")

from tfbnn import verify  # noqa: E402
from tfbnn.verify import encoding, friendly  # noqa: E402
from test_verify import _calibrate, _examples, _statuses, brute_force  # noqa: E402


def ternary_mlp(seed, hidden=(6, 4), n_in=5):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = models.binary_mlp(hidden, input_shape=(n_in,), num_classes=3, weights="ternary",
                              ternary_threshold=0.3)
    center = rng.integers(30, 226, n_in)
    _calibrate(model, center, rng, spread=2, ties=False)
    return model, center


def ternary_conv(seed):
    """test_verify's tiny conv net (3x3 input, conv 2x2 -> dense 3) with ternary kernels."""
    import larq as lq

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inputs = keras.Input((3, 3, 1))
    x = models.InputQuantizer()(inputs)
    x = lq.layers.QuantConv2D(2, 2, kernel_quantizer=lq.quantizers.SteTern(0.3),
                              kernel_constraint="weight_clip", use_bias=False, name="conv1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.Flatten()(x)
    x = lq.layers.QuantDense(3, input_quantizer="ste_sign",
                             kernel_quantizer=lq.quantizers.SteTern(0.3),
                             kernel_constraint="weight_clip", use_bias=False, name="out")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    model = keras.Model(inputs, x)
    center = rng.integers(100, 150) + rng.integers(-3, 4, 9)
    _calibrate(model, center, rng, spread=0.5, ties=False)
    return model, center


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_ternary_verifier_agrees_with_brute_force(seed):
    model, center = ternary_mlp(seed)
    zeros = friendly.sparsity(model)
    assert all(0.2 < z < 0.7 for z in zeros.values()), zeros  # really ternary
    rng = np.random.default_rng(100 + seed)
    x, y = _examples(model, center, rng, 2, 8, (5,))
    truth = brute_force(model, x, y, 2)
    network = verify.extract(model, check_inputs=x)
    assert any(np.any(layer.fan_weight == 0) for layer in network.layers)
    for fixing in (True, False):
        report = verify.verify(network, x, y, 2 / 255, time_limit=30, attack=False,
                               fixing=fixing)
        status = _statuses(report)
        assert "unknown" not in status
        np.testing.assert_array_equal(status == "counterexample", truth)
        for r in report.results:
            if r.counterexample is not None:
                assert np.abs(r.counterexample - x[r.index]).max() <= 2 / 255 + 1e-7
                assert int(np.argmax(model(r.counterexample[None]))) == r.predicted != y[r.index]
    assert truth.any() and not truth.all()


@pytest.mark.parametrize("seed", [40, 43])
def test_ternary_conv_agrees_with_brute_force(seed):
    model, center = ternary_conv(seed)
    assert min(friendly.sparsity(model).values()) > 0.05  # zeros in every layer
    rng = np.random.default_rng(100 + seed)
    x, y = _examples(model, center, rng, 1, 8, (3, 3, 1))
    truth = brute_force(model, x, y, 1)
    network = verify.extract(model, check_inputs=x)
    for fixing in (True, False):
        status = _statuses(verify.verify(network, x, y, 1 / 255, time_limit=30, attack=False,
                                         fixing=fixing))
        np.testing.assert_array_equal(status == "counterexample", truth)
    assert truth.any() and not truth.all()


def test_zero_weights_drop_out_of_the_constraints():
    model, center = ternary_mlp(0)
    network = verify.extract(model)
    first = network.layers[0]
    lo, hi = np.clip(center - 2, 0, 255), np.clip(center + 2, 0, 255)
    enc = encoding.encode(network, lo, hi, 0, fixing=False)
    n_pixels = sum(not isinstance(p, int) for p in enc.pixels)  # created first
    terms = sum(len(c.linear.vars) for c in enc.model.Proto().constraints
                if c.enforcement_literal and c.HasField("linear")
                and all(v < n_pixels for v in c.linear.vars))
    assert terms == 2 * np.count_nonzero(first.fan_weight) < 2 * first.fan_weight.size


@pytest.mark.parametrize("build", [
    lambda: models.binary_mlp((7, 5), input_shape=(6, 6, 1), num_classes=4, weights="ternary"),
    lambda: models.conv_small(input_shape=(10, 10, 1), filters=(3, 4), dense=6, num_classes=3,
                              weights="ternary", ternary_threshold=0.1),
], ids=["mlp", "conv_small"])
def test_ternary_models_train_save_and_extract(build, tmp_path):
    keras.utils.set_random_seed(1)
    model = build()
    training.compile_model(model)
    x = np.random.default_rng(0).uniform(0, 1, (64,) + model.input_shape[1:]).astype(np.float32)
    y = np.arange(64) % model.output_shape[-1]
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras", compile=False)
    network = verify.extract(restored, check_inputs=x)  # self-checks against Keras
    levels = network.quantize(x)
    np.testing.assert_array_equal(network.logits(levels), np.asarray(restored(x)))
    assert any(np.any(layer.fan_weight == 0) for layer in network.layers)


def test_weights_option_is_checked():
    with pytest.raises(ValueError, match="weights must be one of"):
        models.binary_mlp((4,), weights="quaternary")
    with pytest.raises(ValueError, match="ternary_threshold"):
        models.conv_small(weights="ternary", ternary_threshold=0)


# --------------------------------------------------------------------------- margin penalty


@pytest.fixture(scope="module")
def mnist_subset():
    from tfbnn import data

    (x, y), (x_test, y_test) = data.load_mnist()
    return x[:1024], y[:1024], x_test[:200], y_test[:200]


def test_margin_penalty_trains_with_fit_and_makes_neurons_stable(mnist_subset):
    """Ternary weights and the margin penalty against plain training: far more hidden
    neurons are decided by interval bounds over the ball, at a similar accuracy."""
    x, y, x_test, y_test = mnist_subset
    decided, accuracy = {}, {}
    for friendly_training in (False, True):
        keras.utils.set_random_seed(0)
        model = models.binary_mlp((32, 32), weights="ternary" if friendly_training else "binary")
        net = (friendly.MarginTrainer(model, weight=3.0, eps=0.1, flip=0.1)
               if friendly_training else model)
        training.compile_model(net, 1e-2)
        history = net.fit(x, y, epochs=3, batch_size=64, verbose=0)
        if friendly_training:
            assert history.history["margin_penalty"][-1] < history.history["margin_penalty"][0]
            assert net.model is model
        network = verify.extract(model, check_inputs=x_test[:16])  # a plain supported BNN
        decided[friendly_training] = friendly.stability(network, x_test[:32], 0.02)
        accuracy[friendly_training] = float(np.mean(np.asarray(model(x_test)).argmax(-1)
                                                    == y_test))
    plain, tuned = decided[False]["per_layer"], decided[True]["per_layer"]
    assert tuned[0] > plain[0] + 0.2 and tuned[1] > plain[1] + 0.2, decided
    assert accuracy[True] > 0.5 and accuracy[True] > accuracy[False] - 0.1, accuracy


def test_margin_trainer_checks_its_arguments():
    model = models.binary_mlp((4,), input_shape=(5,))
    for kwargs, name in (({"weight": 0}, "weight"), ({"eps": -1.0}, "eps"),
                         ({"flip": 2.0}, "flip"), ({"weight": float("nan")}, "weight")):
        with pytest.raises(ValueError, match=name):
            friendly.MarginTrainer(model, **kwargs)
    plain = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="no batch normalization read by a sign"):
        friendly.MarginTrainer(plain)


def test_stability_counts_the_neurons_bounds_decide():
    model, center = ternary_mlp(2)
    network = verify.extract(model)
    x = (np.clip(center + np.arange(-3, 4)[:, None], 0, 255) / 255).astype(np.float32)
    zero = friendly.stability(network, x, 0.0)
    assert zero["decided_fraction"] == 1.0  # a point: every neuron is decided
    small, large = (friendly.stability(network, x, e)["decided_fraction"]
                    for e in (2 / 255, 40 / 255))
    assert 0 <= large <= small <= 1 and large < 1
    assert len(zero["per_layer"]) == len(network.layers) - 1
