"""The second paper's CIFAR networks and the BNN-WQ weight binarizers (BC, GD-tanh, MD-tanh-S)."""

import numpy as np
import pytest

import tfbnn  # noqa: F401
import larq as lq
import tensorflow as tf
import tf_keras as keras

from tfbnn import export, models, training
from tfbnn.quantizers import TanhSign, binary_connect

VARIANTS = [("ref", None), ("wq", "bc"), ("wq", "gd_tanh"), ("wq", "md_tanh_s"), ("waq", None)]


# ----------------------------------------------------------------------------- sizes


def _resnet18_reference_count(classes=10):
    """Trainable weights of the authors' ResNet-18 (BN without affine), from its definition."""
    conv = lambda cin, cout, k=3: k * k * cin * cout  # noqa: E731
    count = conv(3, 64)
    cin = 64
    for cout in (64, 128, 256, 512):
        count += conv(cin, cout) + conv(cout, cout) + 2 * conv(cout, cout)
        if cin != cout:
            count += conv(cin, cout, 1)
        cin = cout
    return count + 512 * classes + classes


def _vgg16_reference_count(classes=10):
    count, cin = 0, 3
    for item in models.cifar.VGG16_CONFIG:
        if item != "M":
            count += 9 * cin * item + item
            cin = item
    return count + 2 * (512 * 512 + 512) + 512 * classes + classes


def _trainable(model):
    return sum(int(w.shape.num_elements()) for w in model.trainable_weights)


@pytest.mark.parametrize("precision, method", VARIANTS)
def test_full_width_parameter_counts(precision, method):
    resnet = models.resnet18(precision, method)
    vgg = models.vgg16(precision, method)
    if precision == "waq":  # BinaryNet keeps the batch norms' scale and offset
        extra_resnet = 2 * sum(int(layer.gamma.shape[0]) for layer in resnet.layers
                               if isinstance(layer, keras.layers.BatchNormalization))
        extra_vgg = 2 * sum(int(layer.gamma.shape[0]) for layer in vgg.layers
                            if isinstance(layer, keras.layers.BatchNormalization))
    else:
        extra_resnet = extra_vgg = 0
    assert _trainable(resnet) == _resnet18_reference_count() + extra_resnet
    assert _trainable(vgg) == _vgg16_reference_count() + extra_vgg
    if precision == "ref":
        assert abs(_trainable(resnet) / 1e6 - 11.16) < 0.01  # 11.17 M with BN affine


def test_every_weight_is_binarized_in_wq_and_waq():
    for model in (models.resnet18("wq", "md_tanh_s", width=0.125),
                  models.vgg16("waq", width=0.125)):
        kernels = [layer for layer in model.layers if hasattr(layer, "kernel")]
        assert kernels and all(layer.kernel_quantizer is not None for layer in kernels)
    waq = models.vgg16("waq", width=0.125)
    quantized = [layer for layer in waq.layers if hasattr(layer, "input_quantizer")]
    assert quantized[0].input_quantizer is None  # the network input stays real
    assert all(layer.input_quantizer is not None for layer in quantized[1:])


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="precision must be one of"):
        models.resnet18("binary")
    with pytest.raises(ValueError, match="method must be one of"):
        models.vgg16("wq", "sign")
    with pytest.raises(ValueError, match="takes method=None"):
        models.vgg16("ref", "bc")
    with pytest.raises(ValueError, match="width"):
        models.resnet18(width=0)
    with pytest.raises(ValueError, match="Unknown model"):
        models.build_model("resnet50")


# ----------------------------------------------------------------------------- binarizers


def _grad(fn, w):
    w = tf.constant(w)
    with tf.GradientTape() as tape:
        tape.watch(w)
        out = fn(w)
        total = tf.reduce_sum(out * tf.constant([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
    return out.numpy(), tape.gradient(total, w).numpy()


W = np.array([-2.0, -1.0, -0.3, 0.0, 0.7, 1.5], np.float32)
UPSTREAM = np.arange(1.0, 7.0, dtype=np.float32)


def test_binary_connect_against_numpy():
    out, grad = _grad(binary_connect, W)
    np.testing.assert_array_equal(out, np.where(W >= 0, 1.0, -1.0))
    np.testing.assert_array_equal(grad, UPSTREAM * (np.abs(W) <= 1))


@pytest.mark.parametrize("mode", ["gd", "md"])
@pytest.mark.parametrize("beta", [0.5, 3.0])
def test_tanh_sign_against_numpy(mode, beta):
    quantizer = TanhSign(mode, beta=beta)
    quantizer.build(W.shape)
    out, grad = _grad(quantizer, W)
    np.testing.assert_allclose(out, np.tanh(beta * W), rtol=1e-6)
    expected = UPSTREAM * beta * (1 - np.tanh(beta * W) ** 2) if mode == "gd" else UPSTREAM
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="mode must be one of"):
        TanhSign("sign")


def test_beta_schedule_and_scaling():
    schedule = training.BetaAnnealing(1.0, 1.02, 200)
    assert schedule.beta_at(0) == 1.0 and schedule.beta_at(199) == 1.0
    assert schedule.beta_at(200) == pytest.approx(1.02)
    assert schedule.beta_at(100_000) == pytest.approx(1.02 ** 500)  # ~2e4, the authors' end
    short = training.BetaAnnealing.reaching(2e4, iterations=600, every=20)
    assert short.beta_at(599) == pytest.approx(2e4, rel=1e-6)  # at the last iteration


def _tiny_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 32, 32, 3)).astype(np.float32)
    y = (x[:, :16].mean(axis=(1, 2, 3)) > x[:, 16:].mean(axis=(1, 2, 3))).astype(np.int64)
    return x, y


def test_annealing_callback_resumes_where_it_stopped(tmp_path):
    x, y = _tiny_data()
    model = models.resnet18("wq", "md_tanh_s", width=0.0625, blocks=(1, 1, 1, 1))
    training.compile_model(model)
    schedule = training.BetaAnnealing(1.0, 2.0, 2)
    model.fit(x, y, batch_size=16, epochs=1, callbacks=[schedule], verbose=0)  # 4 iterations
    betas = {float(q.beta.numpy()) for q in training.tanh_quantizers(model)}
    assert betas == {schedule.beta_at(3)} == {2.0}
    path = tmp_path / "wq.keras"
    model.save(path)
    resumed = keras.models.load_model(path, custom_objects=models.custom_objects())
    assert int(resumed.optimizer.iterations.numpy()) == 4
    assert {float(q.beta.numpy()) for q in training.tanh_quantizers(resumed)} == {2.0}
    resumed.fit(x, y, batch_size=16, epochs=1, callbacks=[schedule], verbose=0)
    assert {float(q.beta.numpy()) for q in training.tanh_quantizers(resumed)} == {8.0}
    with pytest.raises(ValueError, match="TanhSign"):
        plain = models.resnet18("ref", width=0.0625, blocks=(1, 1, 1, 1))
        training.compile_model(plain)
        plain.fit(x, y, epochs=1, callbacks=[training.BetaAnnealing()], verbose=0)


# ----------------------------------------------------------------------------- training


@pytest.mark.parametrize("arch", ["resnet18", "vgg16"])
@pytest.mark.parametrize("precision, method", VARIANTS)
def test_a_few_steps_reduce_the_loss(arch, precision, method):
    x, y = _tiny_data(64)
    keras.utils.set_random_seed(0)
    kwargs = {"blocks": (1, 1, 1, 1)} if arch == "resnet18" else {}
    model = models.build_model(arch, precision=precision, method=method, width=0.0625, **kwargs)
    training.compile_model(model)
    callbacks = [training.BetaAnnealing(1.0, 1.1, 4)] if method in ("gd_tanh", "md_tanh_s") else []
    # Training-mode losses: after a few steps the batch-norm moving statistics are still
    # those of the initialisation (finalize_binary and recalibrate_batch_norm fix that).
    losses = model.fit(x, y, batch_size=16, epochs=6, callbacks=callbacks,
                       verbose=0).history["loss"]
    assert losses[-1] < losses[0]


def test_finalize_gives_exact_signs_and_matching_statistics(tmp_path):
    x, y = _tiny_data(64)
    keras.utils.set_random_seed(0)
    model = models.vgg16("wq", "md_tanh_s", width=0.0625)
    training.compile_model(model)
    model.fit(x, y, batch_size=16, epochs=2, callbacks=[training.BetaAnnealing(1.0, 1.2, 2)],
              verbose=0)
    report = training.finalize_binary(model)  # signs only, statistics left as trained
    assert report["final_beta"] < 3 and report["mismatch"] > 0.1  # beta ended small
    assert report["batch_norm_layers"] == 0
    for layer in model.layers:
        if isinstance(getattr(layer, "kernel_quantizer", None), TanhSign):
            effective = layer.kernel_quantizer(layer.kernel.latent_variable).numpy()
            np.testing.assert_array_equal(np.abs(effective), 1.0)

    def gap():  # inference vs batch statistics on x, relative to the logits' scale
        train = model(x, training=True).numpy()
        return np.abs(model(x, training=False).numpy() - train).max() / np.abs(train).max()

    stale = gap()
    assert training.recalibrate_batch_norm(model, x) == 15
    # The statistics now belong to the signed network (the remaining gap is the unbiased
    # variance Keras keeps for inference, n / (n - 1) per layer).
    assert gap() < 0.05 and gap() < stale / 5
    out = export.export_saved_model(model, tmp_path / "wq")
    served, _ = export.load_saved_model(out)
    np.testing.assert_allclose(served(tf.constant(x[:8])), model(x[:8], training=False),
                               atol=1e-5)


def test_exported_binary_weights_are_plus_minus_one_for_bc_and_waq():
    for model in (models.resnet18("wq", "bc", width=0.0625, blocks=(1, 1, 1, 1)),
                  models.binarynet_vgg(width=0.0625)):
        with lq.context.quantized_scope(True):
            for layer in model.layers:
                if getattr(layer, "kernel_quantizer", None) is not None:
                    np.testing.assert_array_equal(np.abs(layer.kernel.numpy()), 1.0)


# ----------------------------------------------------------------------------- recipes


def test_authors_recipe_at_full_length():
    resnet = training.cifar_recipe("resnet18", "md_tanh_s")
    assert (resnet.iterations, resnet.batch_size) == (100_000, 128)
    assert (resnet.beta.start, resnet.beta.every) == (1.0, 200)
    assert resnet.beta.factor == pytest.approx(1.02)
    assert resnet.beta.beta_at(100_000) == pytest.approx(1.02 ** 500)  # about 2e4
    lr = resnet.learning_rate
    assert float(lr(29_999)) == pytest.approx(1e-3)
    assert float(lr(30_000)) == pytest.approx(3e-4)
    assert float(lr(99_999)) == pytest.approx(1e-3 * 0.3 ** 3)
    vgg = training.cifar_recipe("vgg16", "gd_tanh")
    assert vgg.beta.every == 2000 and vgg.beta.factor == pytest.approx(1.2)
    assert vgg.beta.beta_at(100_000) == pytest.approx(1.2 ** 50)  # about 9.1e3
    assert float(vgg.learning_rate(60_000)) == pytest.approx(1e-3 * 0.2 ** 2)
    for method in (None, "bc"):
        plain = training.cifar_recipe("resnet18", method)
        assert plain.beta is None and plain.callbacks() == []
    assert isinstance(resnet.optimizer(), keras.optimizers.Adam)
    assert resnet.callbacks() == [resnet.beta]


def test_authors_recipe_scaled_to_a_cpu_run_keeps_the_final_beta():
    recipe = training.cifar_recipe("resnet18", "md_tanh_s", iterations=1570)
    assert recipe.beta.every == 3  # 200 * 1570 / 100,000, rounded
    assert recipe.beta.beta_at(1569) == pytest.approx(1.02 ** 500, rel=1e-6)  # last iteration
    assert recipe.learning_rate.decay_steps == 471  # 30 % of the run
    tiny = training.cifar_recipe("vgg16", "md_tanh_s", iterations=10)
    assert tiny.beta.every == 1 and tiny.beta.beta_at(9) == pytest.approx(1.2 ** 50, rel=1e-6)
    assert training.cifar_recipe("binarynet_vgg").authors["decay"] == 0.2


@pytest.mark.parametrize("kwargs, match", [
    (dict(architecture="resnet50"), "architecture='resnet50'"),
    (dict(method="ste"), "method='ste'"),
    (dict(iterations=0), "iterations"),
    (dict(learning_rate=-1.0), "learning_rate"),
])
def test_recipe_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        training.cifar_recipe(**{"architecture": "resnet18", **kwargs})


def test_cifar_pgd_adversarial_training():
    assert training.CIFAR_PGD == {"eps": 8 / 255, "eps_iter": 2 / 255, "nb_iter": 7}
    x, y = _tiny_data(32)
    keras.utils.set_random_seed(0)
    model = models.resnet18("wq", "md_tanh_s", width=0.0625, blocks=(1, 1, 1, 1))
    adversary = training.MadryPGD(**training.CIFAR_PGD, seed=0)
    x_adv = adversary(lambda t: model(t, training=False), tf.constant(x)).numpy()
    assert np.abs(x_adv - x).max() <= 8 / 255 + 1e-6 and np.abs(x_adv - x).max() > 4 / 255
    assert 0.0 <= x_adv.min() and x_adv.max() <= 1.0
    trainer = training.AdversarialTrainer(model, adversary, last_epochs=None)
    training.compile_model(trainer)
    history = trainer.fit(x, y, batch_size=16, epochs=1, verbose=0,
                          callbacks=[training.BetaAnnealing(1.0, 1.1, 1)]).history
    assert np.isfinite(history["loss"][0]) and "adv_accuracy" in history
    assert int(trainer.optimizer.iterations.numpy()) == 2


DISTRIBUTED = r"""
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import numpy as np, tfbnn, tf_keras as keras
from tfbnn import models, training
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = models.vgg16("wq", "md_tanh_s", width=0.0625)
    training.compile_model(model)
rng = np.random.default_rng(0)
x = rng.uniform(size=(64, 32, 32, 3)).astype(np.float32); y = rng.integers(0, 10, 64)
schedule = training.BetaAnnealing(1.0, 2.0, 1)
model.fit(x, y, batch_size=16, epochs=1, callbacks=[schedule], verbose=0)
replicas = {float(v.numpy()) for q in training.tanh_quantizers(model)
            for v in strategy.experimental_local_results(q.beta)}
print("REPLICAS", strategy.num_replicas_in_sync, "BETAS", sorted(replicas),
      "EXPECTED", schedule.beta_at(3))
"""


def test_beta_is_the_same_on_every_replica_of_a_mirrored_strategy(tmp_path):
    """Two CPU replicas (a subprocess: logical devices are fixed at TensorFlow start-up)."""
    import subprocess
    import sys

    script = tmp_path / "distributed.py"
    script.write_text(DISTRIBUTED)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("REPLICAS"))
    assert line == "REPLICAS 2 BETAS [8.0] EXPECTED 8.0", line


def test_finalize_keeps_the_statistics_when_signing_changes_nothing():
    x, y = _tiny_data(64)
    keras.utils.set_random_seed(0)
    model = models.vgg16("wq", "gd_tanh", width=0.0625)
    training.compile_model(model)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0,
              callbacks=[training.BetaAnnealing(1e5, 1.0, 1)])  # beta so large tanh == sign
    means = [layer.moving_mean.numpy().copy() for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    before = model(x, training=False).numpy()
    report = training.finalize_binary(model, x)
    assert report["mismatch"] < 1e-3 and not report["recalibrated"]
    assert report["batch_norm_layers"] == 0
    after = [layer.moving_mean.numpy() for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    assert all(np.array_equal(a, b) for a, b in zip(means, after))
    np.testing.assert_allclose(model(x, training=False).numpy(), before, rtol=1e-5, atol=1e-5)
    # with a small beta, the same call recomputes them
    small = models.vgg16("wq", "gd_tanh", width=0.0625)
    training.compile_model(small)
    small.fit(x, y, batch_size=16, epochs=1, verbose=0,
              callbacks=[training.BetaAnnealing(1.0, 1.0, 1)])
    report = training.finalize_binary(small, x)
    assert report["recalibrated"] and report["batch_norm_layers"] == 15
    with pytest.raises(ValueError, match="tolerance"):
        training.finalize_binary(small, x, tolerance=-1.0)


@pytest.mark.parametrize("arch, precision, method", [
    ("resnet18", "waq", None), ("vgg16", "waq", None), ("vgg16", "wq", "md_tanh_s")])
def test_saved_networks_load_back_with_the_same_logits(arch, precision, method, tmp_path):
    """Every CIFAR network round-trips through `export.save_model` and Keras' loader: the
    model cache depends on it (a BNN-WAQ once saved its hard tanh as an unregistered
    function and could not be loaded back)."""
    keras.utils.set_random_seed(0)
    model = getattr(models.cifar, arch)(precision, method, width=0.0625)
    x = np.random.default_rng(0).uniform(0, 1, (4, 32, 32, 3)).astype(np.float32)
    expected = model(x, training=False).numpy()
    path = export.save_model(model, tmp_path / "net.keras")
    loaded = keras.models.load_model(path, custom_objects=models.custom_objects())
    np.testing.assert_allclose(loaded(x, training=False).numpy(), expected, rtol=1e-5, atol=1e-5)
