"""The hand-built twins of benchmarks/cifar_train_throughput.py are tfbnn's CIFAR networks:
same weight shapes and parameter counts, and the same logits and gradients once the
weights are copied."""

from __future__ import annotations


import numpy as np
import pytest

import tfbnn  # noqa: F401  (sets up Keras 2 before TensorFlow is used)
import tensorflow as tf
import tf_keras as keras

@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("cifar_train_throughput")


WIDTH = 0.0625


@pytest.mark.parametrize("architecture", ["resnet18", "vgg16"])
def test_twins_match_tfbnn(bench, architecture):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((4, 32, 32, 3), dtype=np.float32))
    y = tf.constant(rng.integers(0, 10, size=4))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for variant in bench.VARIANTS:
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        ours = bench.build_tfbnn(architecture, variant, WIDTH)
        betas = bench.tanh_betas(ours)
        if variant in ("WQ-GD", "WQ-MD"):
            assert betas, variant
            # A beta other than the default, to check that the twin takes tfbnn's.
            for b in betas:
                b.assign(2.5)
        else:
            assert not betas, variant
        twin = bench.twin_of(ours, architecture, variant, WIDTH)

        skip = {b.ref() for b in betas}
        shapes_ours = [tuple(w.shape) for w in ours.weights if w.ref() not in skip]
        assert shapes_ours == [tuple(w.shape) for w in twin.weights], variant
        counts_ours, counts_twin = bench.param_counts(ours), bench.param_counts(twin)
        assert counts_ours["trainable"] == counts_twin["trainable"], variant
        assert counts_ours["total"] == counts_twin["total"] + len(betas), variant

        np.testing.assert_allclose(ours(x, training=False).numpy(),
                                   twin(x, training=False).numpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=variant)

        grads = []
        for model in (ours, twin):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads.append(tape.gradient(loss, model.trainable_weights))
        for g_ours, g_twin, w in zip(*grads, twin.trainable_weights):
            np.testing.assert_allclose(g_ours.numpy(), g_twin.numpy(), rtol=1e-4, atol=1e-6,
                                       err_msg=f"{variant} {w.name}")


def test_bad_arguments(bench, capsys):
    for argv, name in ((["--steps", "0"], "--steps"), (["--width", "-1"], "--width"),
                       (["--architectures", "lenet"], "--architectures"),
                       (["--variants", "WQ-XX"], "--variants")):
        with pytest.raises(SystemExit):
            bench.parse_args(argv)
        assert name in capsys.readouterr().err
