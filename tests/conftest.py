"""Shared fixtures: real MNIST subsets, one small trained model per session, and a
loader for the tutorial scripts."""

import importlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import tfbnn  # noqa: F401  (sets up Keras 2 before TensorFlow is used)
import tensorflow as tf
import tf_keras as keras

from tfbnn import data, models, training


@pytest.fixture(scope="session")
def mnist_small():
    """2,048 training and 512 test images of real MNIST."""
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    return (np.array(x_train[:2048]), np.array(y_train[:2048])), (
        np.array(x_test[:512]),
        np.array(y_test[:512]),
    )


@pytest.fixture(scope="session")
def trained_a(mnist_small):
    """A full-precision A model (k1=16) trained two epochs on 2,048 images."""
    (x, y), _ = mnist_small
    keras.utils.set_random_seed(0)
    model = models.cleverhans_cnn("A", k1=16)
    training.compile_model(model)
    model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="session")
def model_fn(trained_a):
    """``trained_a`` in inference mode, one callable for the whole session: tfbnn caches
    an attack's compiled graph per callable, so the tests reuse the traced graphs."""
    return lambda t: trained_a(t, training=False)


@pytest.fixture(scope="session")
def correct_a(mnist_small, trained_a):
    """The first 64 test images of ``mnist_small`` that ``trained_a`` classifies correctly,
    and their labels."""
    _, (x, y) = mnist_small
    correct = np.argmax(trained_a(x), -1) == y
    return x[correct][:64], y[correct][:64]


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield


TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"


@pytest.fixture()
def load_tutorial(monkeypatch):
    """``load_tutorial(name)`` imports ``tutorials/name.py`` afresh (tutorials/ on sys.path).

    Set ``TFBNN_CACHE`` before calling it to keep the tutorial's trained models in a
    temporary folder.
    """
    monkeypatch.syspath_prepend(str(TUTORIALS))

    def load(name):
        sys.modules.pop(name, None)
        return importlib.import_module(name)

    return load


@pytest.fixture()
def tutorial(monkeypatch, tmp_path, load_tutorial):
    """`load_tutorial` with the model cache (``TFBNN_CACHE``) in ``tmp_path / "cache"``."""
    monkeypatch.setenv("TFBNN_CACHE", str(tmp_path / "cache"))
    return load_tutorial


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    """A model cache shared by the tests of one module, so its tiny models train once."""
    return tmp_path_factory.mktemp("model_cache")


@pytest.fixture()
def module_tutorial(monkeypatch, module_cache, load_tutorial):
    """`load_tutorial` with the model cache (``TFBNN_CACHE``) in `module_cache`."""
    monkeypatch.setenv("TFBNN_CACHE", str(module_cache))
    return load_tutorial


BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="session")
def load_benchmark():
    """``load_benchmark(name)`` imports ``benchmarks/name.py`` (benchmarks/ on sys.path
    for its helpers)."""
    def load(name: str):
        if str(BENCHMARKS) not in sys.path:
            sys.path.insert(0, str(BENCHMARKS))
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture()
def cifar_npz(tmp_path, monkeypatch):
    """A small CIFAR-shaped .npz (labels follow the image's brightness), as TFBNN_CIFAR10_PATH:
    CIFAR tutorials train and attack in seconds on it."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 320)
    x = np.clip(rng.normal(y[:, None, None, None] * 25.0 + 15.0, 20.0, (320, 32, 32, 3)),
                0, 255).astype(np.uint8)
    path = tmp_path / "cifar.npz"
    np.savez(path, x_train=x[:256], y_train=y[:256], x_test=x[256:], y_test=y[256:])
    monkeypatch.setenv("TFBNN_CIFAR10_PATH", str(path))
    return path
