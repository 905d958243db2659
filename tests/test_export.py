import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tfbnn import export, models, training

LOAD_WITHOUT_TFBNN = textwrap.dedent(
    """
    import sys
    sys.modules["tfbnn"] = None  # importing tfbnn or larq here would fail
    sys.modules["larq"] = None
    import numpy as np
    import tensorflow as tf
    x = np.load(sys.argv[2])
    serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
    a = serve(image=tf.constant(x))["logits"].numpy()
    b = serve(image=tf.constant(x))["logits"].numpy()
    np.save(sys.argv[3], np.stack([a, b]))
    """
)


def _serve_in_fresh_process(tmp_path, saved_model, x):
    np.save(tmp_path / "x.npy", x)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run(
        [sys.executable, "-c", LOAD_WITHOUT_TFBNN, str(saved_model), str(tmp_path / "x.npy"),
         str(tmp_path / "out.npy")],
        check=True, env=env, cwd=tmp_path, timeout=300,
    )
    return np.load(tmp_path / "out.npy")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A, B, C trained a few steps, and S, exported; shared by the tests below."""
    root = tmp_path_factory.mktemp("exports")
    x = tf.random.uniform([32, 28, 28, 1], seed=4)
    y = tf.constant(np.arange(32) % 10)
    paths, in_memory = {}, {}
    for variant in models.VARIANTS:
        model = models.cleverhans_cnn(variant, k1=4)
        training.compile_model(model)
        model.fit(x, y, epochs=1, verbose=0)
        paths[variant] = export.export_saved_model(model, root / variant)
        in_memory[variant] = model
    return paths, in_memory, root


def test_fresh_process_without_tfbnn_serves_identical_logits(exported, tmp_path):
    paths, in_memory, _ = exported
    x = np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)
    for variant in "ABC":
        served = _serve_in_fresh_process(tmp_path, paths[variant], x)
        expected = in_memory[variant](x, training=False).numpy()
        np.testing.assert_array_equal(served[0], expected)
        np.testing.assert_array_equal(served[1], expected)


def test_exported_s_model_stays_stochastic(exported, tmp_path):
    paths, _, _ = exported
    x = np.random.default_rng(1).random((16, 28, 28, 1), dtype=np.float32)
    served = _serve_in_fresh_process(tmp_path, paths["S"], x)
    assert np.any(served[0] != served[1])


def test_metadata_and_loader(exported):
    paths, in_memory, _ = exported
    meta = json.loads((paths["B"] / "assets.extra" / "tfbnn.json").read_text())
    assert meta["input_shape"] == [28, 28, 1]
    assert meta["value_range"] == [0.0, 1.0]
    assert meta["stochastic"] is False
    model_fn, meta_s = export.load_saved_model(paths["S"])
    assert meta_s["stochastic"] is True
    model_fn, _ = export.load_saved_model(paths["A"])
    x = tf.random.uniform([3, 28, 28, 1])
    np.testing.assert_array_equal(model_fn(x).numpy(), in_memory["A"](x, training=False).numpy())


def test_export_refuses_bad_destinations(exported, tmp_path):
    paths, in_memory, _ = exported
    with pytest.raises(FileNotFoundError, match="parent directory"):
        export.export_saved_model(in_memory["A"], tmp_path / "missing" / "dir" / "model")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export.export_saved_model(in_memory["A"], paths["A"])
    with pytest.raises(TypeError, match="keras.Model"):
        export.export_saved_model(lambda x: x, tmp_path / "fn")
    with pytest.raises(FileNotFoundError, match="No SavedModel"):
        export.load_saved_model(tmp_path / "nothing-here")
    with pytest.raises(ValueError, match=".keras or .h5"):
        export.save_model(in_memory["A"], tmp_path / "model.pb")


def _entries(directory):
    return sorted(p.name for p in directory.iterdir())


def test_failed_export_leaves_previous_export_and_no_temporary_files(exported, tmp_path, monkeypatch):
    _, in_memory, _ = exported
    target = export.export_saved_model(in_memory["A"], tmp_path / "model")
    before = (target / "saved_model.pb").read_bytes()

    def crash(*args, **kwargs):
        raise RuntimeError("killed mid-export")

    monkeypatch.setattr(tf.saved_model, "save", crash)
    with pytest.raises(RuntimeError, match="killed"):
        export.export_saved_model(in_memory["B"], target, overwrite=True)
    with pytest.raises(RuntimeError, match="killed"):
        export.export_saved_model(in_memory["B"], tmp_path / "new")
    assert _entries(tmp_path) == ["model"]
    assert (target / "saved_model.pb").read_bytes() == before


def test_overwrite_replaces_an_export(exported, tmp_path):
    _, in_memory, _ = exported
    target = export.export_saved_model(in_memory["A"], tmp_path / "model")
    export.export_saved_model(in_memory["B"], target, overwrite=True)
    model_fn, meta = export.load_saved_model(target)
    assert meta["name"] == in_memory["B"].name
    assert _entries(tmp_path) == ["model"]


def test_atomic_model_file(exported, tmp_path, monkeypatch):
    _, in_memory, _ = exported
    path = export.save_model(in_memory["C"], tmp_path / "c.keras")
    assert path.exists()
    original = path.read_bytes()

    def crash(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(type(in_memory["C"]), "save", crash)
    with pytest.raises(RuntimeError):
        export.save_model(in_memory["C"], path, overwrite=True)
    assert path.read_bytes() == original
    assert _entries(tmp_path) == ["c.keras"]


def test_atomic_write_text(tmp_path):
    path = tmp_path / "r.json"
    export.atomic_write_text(path, "{}")
    assert path.read_text() == "{}"
    assert _entries(tmp_path) == ["r.json"]
