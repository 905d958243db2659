"""`import tfbnn` works whatever the user did first, or says exactly what to do."""

import os
import subprocess
import sys

import pytest


def _run(code, **env):
    environment = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    environment.update(env, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environment, timeout=300)


CHECK = "import tensorflow as tf, larq; assert tf.keras.layers.Layer.__module__.startswith('tf_keras'), tf.keras.layers.Layer.__module__; print('ok')"


@pytest.mark.parametrize(
    "first, env",
    [
        ("", {}),
        ("", {"TF_USE_LEGACY_KERAS": "1"}),
        ("import tensorflow", {}),  # TensorFlow imported before the variable was set
        ("import tf_keras", {}),
    ],
)
def test_import_works(first, env):
    result = _run(f"{first}\nimport tfbnn\n{CHECK}", **env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


def test_keras3_already_bound_fails_with_instructions():
    result = _run("import tensorflow as tf\ntf.keras.layers.Dense(2)\nimport tfbnn")
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "TF_USE_LEGACY_KERAS=1" in result.stderr
    assert "fresh Python process" in result.stderr


def test_legacy_keras_switched_off_fails_with_instructions():
    result = _run("import tfbnn", TF_USE_LEGACY_KERAS="0")
    assert result.returncode != 0
    assert "TF_USE_LEGACY_KERAS='0'" in result.stderr


def test_missing_tf_keras_fails_with_instructions_and_the_cause():
    result = _run("import sys\nsys.modules['tf_keras'] = None  # as if not installed\nimport tfbnn")
    assert result.returncode != 0
    assert "pip install tf-keras==" in result.stderr
    assert "`import tf_keras` failed with ModuleNotFoundError" in result.stderr


def test_import_drops_tensorflow_startup_noise_but_keeps_other_lines():
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL",
                                "TFBNN_TF_STARTUP_LOGS")}
    code = ("import sys; print('before', file=sys.stderr)\nimport tfbnn, tensorflow as tf\n"
            "tf.constant(1.0) + 1\nprint('after', file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=environment, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.split() == ["before", "after"], result.stderr[-2000:]

    from tfbnn._keras_setup import kept_startup_lines

    noisy = "\n".join([
        "2026-12-02 18:18:47.442228: E external/local_xla/xla/stream_executor/cuda/"
        "cuda_fft.cc:477] Unable to register cuFFT factory: Attempting to register factory",
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "E0000 cuda_dnn.cc:8310] Unable to register cuDNN factory: Attempting to register",
        "E external/local_xla/xla/stream_executor/cuda/cuda_driver.cc:152] failed call to "
        "cuInit: INTERNAL: CUDA error",
        "a real error the user must see", ""])
    assert kept_startup_lines(noisy) == ["a real error the user must see"]
