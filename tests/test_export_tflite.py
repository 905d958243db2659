"""1-bit TFLite export through Larq Compute Engine (tfbnn.deploy, tfbnn export --tflite).

The rewrite into LCE's form is checked without LCE (its logits equal the model's); the
conversion tests need ``pip install -e ".[deploy]"`` and skip, saying so, without it. The
full matrix of models on 1,000 real test images is ``-m slow`` (and the numbers of
docs/benchmarks.md come from benchmarks/tflite_deploy.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tf_keras as keras

from tfbnn import cli, data, deploy, export, models, training

LCE_REASON = 'larq-compute-engine is not installed: pip install -e ".[deploy]"'


def _lce():
    return pytest.importorskip("larq_compute_engine", reason=LCE_REASON)


@pytest.fixture(scope="module")
def mnist():
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    return x_train[:2048], y_train[:2048], x_test, y_test


@pytest.fixture(scope="module")
def trained_b(mnist):
    """B at k1=8 after 16 steps on real MNIST (weights and statistics off their start)."""
    x, y, _, _ = mnist
    keras.utils.set_random_seed(0)
    model = models.cleverhans_cnn("B", k1=8)
    training.compile_model(model)
    model.fit(x, y, epochs=1, batch_size=128, verbose=0)
    return model


def _calibrated(model, x):
    """Untrained weights, batch-norm statistics measured on images: an untrained network's
    statistics (mean 0, variance 1) put many sign inputs exactly at 0, where any float
    reordering flips them."""
    training.recalibrate_batch_norm(model, x)
    return model


def _noise(shape, n=8):
    return np.random.default_rng(0).random((n, *shape), dtype=np.float32)


# ----------------------------------------------------------------------------------------
# Without LCE: the plan and the rewrite
# ----------------------------------------------------------------------------------------

CIFAR_TINY = {
    "resnet18_wq_bc": lambda: models.resnet18("wq", "bc", width=1 / 16),
    "resnet18_waq": lambda: models.resnet18("waq", width=1 / 16),
    "vgg16_waq": lambda: models.vgg16("waq", width=1 / 16),
}


@pytest.mark.parametrize("build", [
    lambda: models.cleverhans_cnn("B", k1=4), lambda: models.cleverhans_cnn("C", k1=4),
    lambda: models.cleverhans_cnn("W", k1=4), *CIFAR_TINY.values()],
    ids=["B", "C", "W", *CIFAR_TINY])
def test_lce_form_has_the_same_logits(build):
    model = build()
    x = _noise(model.input_shape[1:], 16)
    rewritten = deploy.lce_equivalent(model)
    np.testing.assert_array_equal(rewritten(x).numpy(), model(x).numpy())


def test_report_says_which_layers_can_be_binary_and_why():
    kinds = {r["layer"]: (r["kind"], r["why"])
             for r in deploy.convolution_report(models.cleverhans_cnn("B", k1=4))}
    assert kinds["conv1"] == ("float", "full-precision layer")
    assert kinds["conv2"][0] == kinds["conv3"][0] == "binary"
    assert kinds["logits"][0] == "float"
    for row in deploy.convolution_report(models.cleverhans_cnn("W", k1=4))[1:3]:
        assert row["kind"] == "float" and "float inputs" in row["why"]
    tanh = deploy.convolution_report(models.resnet18("wq", "md_tanh_s", width=1 / 16))
    assert all(r["kind"] == "float" for r in tanh)
    assert "finalize_binary" in tanh[1]["why"]
    vgg = deploy.convolution_report(models.vgg16("waq", width=1 / 16))
    assert vgg[0]["kind"] == "float" and "float inputs" in vgg[0]["why"]
    assert all(r["kind"] == "binary" for r in vgg[1:])
    small = [r for r in vgg if r["binary_ops"] == 2]
    assert len(small) == 3 and all("smaller than the kernel" in r["why"] for r in small)


def test_stochastic_model_is_refused_with_what_to_do(tmp_path):
    model = models.cleverhans_cnn("S", k1=4)
    with pytest.raises(ValueError, match=r"stochastic.*freeze_stochastic\(model, 'mean'\).*"
                                         r"'draw', seed=0"):
        deploy.export_tflite(model, tmp_path / "s.tflite")
    assert not (tmp_path / "s.tflite").exists()


def test_freeze_stochastic_mean_and_draw():
    model = models.cleverhans_cnn("S", k1=4, stochastic_seed=1)
    x = _noise((28, 28, 1))
    mean = deploy.freeze_stochastic(model, "mean")
    latent = model.get_layer("conv3").kernel.numpy()
    np.testing.assert_allclose(mean.get_layer("conv3").kernel.numpy(), np.clip(latent, -1, 1),
                               atol=1e-7)
    np.testing.assert_array_equal(mean(x).numpy(), mean(x).numpy())
    draws = [deploy.freeze_stochastic(model, "draw", seed=s) for s in (0, 0, 1)]
    kernels = [d.get_layer("conv3").kernel.numpy() for d in draws]
    assert set(np.unique(kernels[0])) <= {-1.0, 1.0}
    np.testing.assert_array_equal(kernels[0], kernels[1])
    assert not np.array_equal(kernels[0], kernels[2])
    report = {r["layer"]: r["kind"] for r in deploy.convolution_report(draws[0])}
    assert report["conv3"] == "binary"
    assert {r["layer"]: r["kind"] for r in deploy.convolution_report(mean)}["conv3"] == "float"
    with pytest.raises(ValueError, match="mode must be one of"):
        deploy.freeze_stochastic(model, "median")
    with pytest.raises(ValueError, match="deterministic already"):
        deploy.freeze_stochastic(models.cleverhans_cnn("B", k1=4))


@pytest.mark.parametrize("kwargs, error, text", [
    ({"path": "b.tfl"}, ValueError, "path must end in .tflite"),
    ({"path": "missing_dir/b.tflite"}, FileNotFoundError, "parent directory"),
    ({"x_check": np.zeros((4, 32, 32, 3), np.float32)}, ValueError,
     r"x_check must be .*\(n, 28, 28, 1\)"),
    ({"target": "x86"}, ValueError, "target must be 'arm' or 'xcore'.*'x86'"),
    ({"y_check": np.zeros(3)}, ValueError, "y_check needs x_check"),
])
def test_bad_arguments_fail_before_any_conversion(tmp_path, monkeypatch, kwargs, error, text):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=text):
        deploy.export_tflite(models.cleverhans_cnn("B", k1=4), **{"path": "b.tflite", **kwargs})
    assert not (tmp_path / "b.tflite").exists()


def test_existing_file_is_kept_without_overwrite(tmp_path):
    (tmp_path / "b.tflite").write_bytes(b"old")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        deploy.export_tflite(models.cleverhans_cnn("B", k1=4), tmp_path / "b.tflite")
    assert (tmp_path / "b.tflite").read_bytes() == b"old"


def test_export_module_offers_it():
    assert export.export_tflite is deploy.export_tflite
    assert export.freeze_stochastic is deploy.freeze_stochastic


# ----------------------------------------------------------------------------------------
# With LCE
# ----------------------------------------------------------------------------------------


def test_b_on_real_mnist_becomes_binary_and_agrees(trained_b, mnist, tmp_path):
    lce = _lce()
    _, _, x_test, y_test = mnist
    path = tmp_path / "b8.tflite"
    report = deploy.export_tflite(trained_b, path, x_check=x_test[:200], y_check=y_test[:200])
    assert path.read_bytes()[4:8] == b"TFL3"
    assert report["ops"]["LceBconv2d"] == 2
    assert report["convolutions"] == {"binary": 2, "float": 1}
    assert report["dense"] == {"binary": 0, "float": 1}
    assert report["rewrite_max_abs_diff"] == 0.0
    check = report["check"]
    assert check["n"] == 200 and check["argmax_agreement"] >= 0.99
    assert check["max_abs_diff"] <= 1e-4 * max(1.0, check["max_abs_logit"])
    assert abs(check["accuracy_tflite"] - check["accuracy_keras"]) <= 0.01
    # As the issue found it: LCE alone leaves tfbnn's estimator float.
    assert "LceBconv2d" not in deploy.tflite_ops(lce.convert_keras_model(trained_b))


def test_zero_padded_small_map_is_exact(tmp_path):
    """LCE 0.16's optimized kernel is wrong for zero "same" padding on a map smaller than
    the kernel; the rewrite (two valid convolutions) gives the model's outputs."""
    lce = _lce()
    import larq as lq

    inputs = keras.Input((2, 2, 16))
    x = lq.layers.QuantConv2D(16, 3, padding="same", use_bias=True, input_quantizer="ste_sign",
                              kernel_quantizer="ste_sign", kernel_constraint="weight_clip",
                              bias_initializer="ones")(inputs)
    model = keras.Model(inputs, keras.layers.Flatten()(x))
    x = np.random.default_rng(0).normal(size=(8, 2, 2, 16)).astype(np.float32)
    direct = lce.testing.Interpreter(lce.convert_keras_model(model)).predict(x)
    assert np.abs(direct - model(x).numpy()).max() > 1  # the bug this guards against
    report = deploy.export_tflite(model, tmp_path / "m.tflite", x_check=x)
    assert report["ops"]["LceBconv2d"] == 2 and report["check"]["max_abs_diff"] == 0.0


def test_cifar_waq_vgg_on_real_images(tmp_path):
    _lce()
    x, y = data.load_cifar10("test")
    keras.utils.set_random_seed(0)
    model = _calibrated(CIFAR_TINY["vgg16_waq"](), x[-512:])
    report = deploy.export_tflite(model, tmp_path / "vgg.tflite", x_check=x[:100],
                                  y_check=y[:100])
    assert report["convolutions"] == {"binary": 12, "float": 1}
    assert report["dense"] == {"binary": 3, "float": 0}
    assert report["ops"]["LceBconv2d"] == 18
    assert report["check"]["argmax_agreement"] >= 0.98


def test_weights_only_model_stays_float_and_agrees(mnist, tmp_path):
    _lce()
    _, _, x_test, _ = mnist
    model = models.cleverhans_cnn("W", k1=4)
    report = deploy.export_tflite(model, tmp_path / "w.tflite", x_check=x_test[:50])
    assert report["convolutions"] == {"binary": 0, "float": 3}
    assert "LceBconv2d" not in report["ops"]
    assert report["check"]["argmax_agreement"] == 1.0


@pytest.mark.parametrize("build, layers", [
    (lambda: models.binary_mlp(hidden=(16, 16)), {"convolutions": {"binary": 0, "float": 0},
                                                  "dense": {"binary": 2, "float": 1}}),
    (lambda: models.conv_small(), {"convolutions": {"binary": 1, "float": 1},
                                   "dense": {"binary": 2, "float": 0}}),
])
def test_verification_networks_export_exactly(build, layers, mnist, tmp_path):
    """tfbnn.verify's networks: every layer after the first (binary inputs and weights)
    becomes an LCE binary op; the first sees the input quantizer's grey levels and stays
    float; the flatbuffer's logits equal Keras's on real test images."""
    _lce()
    x_train, y_train, x_test, y_test = mnist
    keras.utils.set_random_seed(0)
    model = build()
    training.compile_model(model)
    model.fit(x_train[:512], y_train[:512], epochs=1, batch_size=128, verbose=0)
    report = deploy.export_tflite(model, tmp_path / "v.tflite", x_check=x_test[:200],
                                  y_check=y_test[:200])
    assert {k: report[k] for k in layers} == layers
    expected = sum(r["binary_ops"] for r in report["layers"])
    assert expected > 0 and report["ops"].get("LceBconv2d", 0) == expected
    assert report["check"]["argmax_agreement"] == 1.0
    assert report["check"]["max_abs_diff"] < 1e-4


def test_cli_export(trained_b, mnist, tmp_path, capsys):
    _lce()
    keras_file = export.save_model(trained_b, tmp_path / "b8.keras")
    out, report = tmp_path / "b8.tflite", tmp_path / "b8.json"
    code = cli.main(["export", str(keras_file), "--tflite", str(out), "--n", "50",
                     "--report", str(report)])
    text = capsys.readouterr().out
    assert code == cli.EXIT_OK, text
    assert "2 binary (LceBconv2d), 1 float" in text and "argmax agreement" in text
    saved = json.loads(report.read_text())
    assert saved["check"]["n"] == 50 and saved["data"] == "mnist"
    assert cli.main(["export", str(keras_file), "--tflite", str(out)]) == cli.EXIT_USAGE
    assert "--overwrite" in capsys.readouterr().err
    export.export_saved_model(trained_b, tmp_path / "sm")
    assert cli.main(["export", str(tmp_path / "sm"), "--tflite", str(tmp_path / "x.tflite")]) \
        == cli.EXIT_USAGE
    assert ".keras or .h5" in capsys.readouterr().err


def test_cli_export_stochastic(tmp_path, capsys):
    _lce()
    keras_file = export.save_model(models.cleverhans_cnn("S", k1=4), tmp_path / "s.keras")
    out = tmp_path / "s.tflite"
    assert cli.main(["export", str(keras_file), "--tflite", str(out), "--n", "20"]) \
        == cli.EXIT_USAGE
    assert "--stochastic mean|draw" in capsys.readouterr().err and not out.exists()
    assert cli.main(["export", str(keras_file), "--tflite", str(out), "--n", "20",
                     "--stochastic", "draw"]) == cli.EXIT_OK
    assert "2 binary" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------
# Slow: every deterministic binary model, 1,000 real test images
# ----------------------------------------------------------------------------------------

ALL_BINARY = {
    "B": lambda: models.cleverhans_cnn("B", k1=8),
    "C": lambda: models.cleverhans_cnn("C", k1=8),
    "W": lambda: models.cleverhans_cnn("W", k1=8),
    **{f"{arch}_wq_{method}": (lambda a, m: lambda: getattr(models, a)("wq", m, width=0.125))(
        arch, method) for arch in ("resnet18", "vgg16") for method in models.METHODS},
    "resnet18_waq": lambda: models.resnet18("waq", width=0.125),
    "vgg16_waq": lambda: models.vgg16("waq", width=0.125),
    "binarynet_resnet": lambda: models.binarynet_resnet(width=0.125),
    "binarynet_vgg": lambda: models.binarynet_vgg(width=0.125),
    "binary_mlp": lambda: models.binary_mlp(),
    "conv_small": lambda: models.conv_small(),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ALL_BINARY))
def test_every_deterministic_binary_model_exports(name, mnist, tmp_path):
    _lce()
    keras.utils.set_random_seed(0)
    model = ALL_BINARY[name]()
    if model.input_shape[1:] == (28, 28, 1):
        x_train, y_train, x, y = mnist
        training.compile_model(model)
        model.fit(x_train, y_train, epochs=1, batch_size=128, verbose=0)
    else:
        x, y = data.load_cifar10("test")
        if "tanh" in name:
            training.finalize_binary(model)
        _calibrated(model, x[-1000:])
    report = deploy.export_tflite(model, tmp_path / f"{name}.tflite", x_check=x[:1000],
                                  y_check=y[:1000])
    expected = sum(r["binary_ops"] for r in report["layers"])
    assert report["ops"].get("LceBconv2d", 0) == expected
    assert report["check"]["argmax_agreement"] >= 0.99
