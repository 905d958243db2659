"""1-bit deployment: TFLite flatbuffers with Larq Compute Engine's binary ops, checked.

`export_tflite` converts a deterministic tfbnn model with Larq Compute Engine (LCE,
``pip install -e ".[deploy]"``) so that every convolution with binary inputs and binary
weights runs as LCE's ``LceBconv2d``, checks the flatbuffer's logits against the Keras
model's on real test images, and reports which convolutions became binary and why the
others stayed float.

LCE's converter recognises a binary convolution from the graph it is given: a sign of the
input written as Larq's ``ste_sign`` forward (``sign(sign(x) + 0.1)``) and a constant kernel
of ``+-scale`` per output channel. tfbnn's models are rewritten into that form first
(`lce_equivalent`), with the same forward pass, which is checked before conversion:

- every sign input quantizer (tfbnn's ``PassThroughSign``, Larq's ``SteSign``) becomes
  Larq's ``ste_sign`` (the same ``sign`` with ``sign(0) = +1``; only the gradient differed);
- every kernel quantizer is applied once and its result stored as the kernel (the
  deployed network has its quantized weights, nothing to quantize at run time);
- a binary dense layer (binary inputs and weights) becomes a 1x1 binary convolution
  between two reshapes, since LCE has no binary dense op;
- a zero-padded ``"same"`` binary convolution on a feature map smaller than its kernel
  (VGG-16's last stage: 3x3 kernels on 2x2 maps) becomes the mean of two "valid" binary
  convolutions of the input padded with +1 and with -1 (exact): LCE 0.16's optimized
  kernel gives wrong outputs for zero padding there (its reference kernel is right), and
  LCE's own remedy, +1 padding with a constant correction added after the convolution, is
  fused by its converter into a bias of the wrong shape that the interpreter rejects.

What cannot be binary, and stays a float convolution, is said per layer in the report:
a layer with float inputs (the first layer of every network; every layer of the
weights-only models W and BNN-WQ, since LCE has binary ops only for binary inputs *and*
weights) and a kernel that is not ``+-scale`` per output channel (a `TanhSign` kernel
before `tfbnn.training.finalize_binary`; the mean network of S). LCE's model guide also
asks for QuantConv2D -> activation -> batch norm so that the ops fuse; reordering the
paper's layers would change the network, so the order is kept (LCE still fuses the
CleverHans B/C blocks, and in the CIFAR nets a batch norm after a binary convolution).

The S model samples its third convolution's weights at every pass; LCE has no random
ops, so `export_tflite` refuses it. `freeze_stochastic` gives a deterministic network to
export instead: the mean network (each stochastic kernel replaced by its expectation
``clip(w, -1, 1)``: a float convolution) or one fixed draw of the signs (binary).
"""

from __future__ import annotations

import os
from pathlib import Path

import larq as lq
import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfbnn.io import atomic_write_bytes
from tfbnn.quantizers import PassThroughSign, StochasticSign, hard_sigmoid

__all__ = ["BINARY_OP", "export_tflite", "check_tflite", "convolution_report", "freeze_stochastic",
           "lce_equivalent", "require_lce", "tflite_ops"]

BINARY_OP = "LceBconv2d"
INSTALL_HINT = 'pip install -e ".[deploy]" (or pip install larq-compute-engine==0.16.0)'
_SIGN_QUANTIZERS = (PassThroughSign, lq.quantizers.SteSign, lq.quantizers.ApproxSign,
                    lq.quantizers.SwishSign)
_CONV_TYPES = (keras.layers.Conv2D, keras.layers.Dense)


def require_lce():
    """Import ``larq_compute_engine``, or fail saying how to install it."""
    try:
        import larq_compute_engine
    except ImportError as err:
        raise ImportError(f"TFLite export needs Larq Compute Engine: {INSTALL_HINT}.") from err
    return larq_compute_engine


# ----------------------------------------------------------------------------------------
# What each layer becomes
# ----------------------------------------------------------------------------------------


def _quantizer(layer, name):
    return getattr(layer, name, None)


def _is_sign(quantizer) -> bool:
    return isinstance(quantizer, _SIGN_QUANTIZERS)


def _stochastic_layers(model: keras.Model) -> list[str]:
    return [layer.name for layer in model.layers
            if any(isinstance(_quantizer(layer, q), StochasticSign)
                   for q in ("input_quantizer", "kernel_quantizer"))]


def _quantized_kernel(layer) -> np.ndarray:
    kernel = tf.convert_to_tensor(layer.kernel)
    quantizer = _quantizer(layer, "kernel_quantizer")
    return (kernel if quantizer is None else quantizer(kernel)).numpy()


def _is_binary_kernel(kernel: np.ndarray) -> bool:
    """``+-scale`` per output channel (the last axis), scale > 0: what LCE can pack."""
    magnitude = np.abs(kernel.reshape(-1, kernel.shape[-1]))
    return bool(np.all(magnitude > 0) and np.all(magnitude == magnitude[:1]))


def _small_map(layer) -> bool:
    """A zero-padded "same" convolution on a map smaller than its kernel (LCE 0.16 bug)."""
    if layer.padding != "same" or float(getattr(layer, "pad_values", 0.0)) != 0.0:
        return False
    height, width = layer.input_shape[1:3]
    return height < layer.kernel_size[0] or width < layer.kernel_size[1]


def _plan(layer) -> tuple[str, str] | None:
    """``(kind, why)`` for a convolution or dense layer, None for any other layer."""
    if not isinstance(layer, _CONV_TYPES):
        return None
    dense = isinstance(layer, keras.layers.Dense)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return "float", "depthwise convolution: LCE has no binary depthwise op"
    if _quantizer(layer, "kernel_quantizer") is None and not isinstance(
            layer, (lq.layers.QuantConv2D, lq.layers.QuantDense)):
        return "float", "full-precision layer"
    if not _is_binary_kernel(_quantized_kernel(layer)):
        return "float", ("kernel not +-scale per output channel (a TanhSign kernel before "
                         "training.finalize_binary, or a mean network)")
    quantizer = _quantizer(layer, "input_quantizer")
    if quantizer is None:
        return "float", ("binary weights on float inputs: LCE has binary ops only for binary "
                         "inputs and weights")
    if not _is_sign(quantizer):
        return "float", f"input quantizer {type(quantizer).__name__} is not a sign"
    if dense:
        if len(layer.input_shape) != 2:
            return "float", "binary dense layer on a tensor of rank > 2"
        return "binary", "binary dense layer, written as a 1x1 binary convolution"
    if getattr(layer, "groups", 1) != 1:
        return "float", "grouped convolution"
    if _small_map(layer):
        return "binary", ("zero 'same' padding on a map smaller than the kernel: written as "
                          "the mean of two valid binary convolutions, input padded with +1 "
                          "and with -1")
    return "binary", "binary inputs and weights"


def convolution_report(model: keras.Model) -> list[dict]:
    """What each convolution and dense layer of ``model`` becomes in LCE's flatbuffer.

    # Returns
        One ``{"layer", "type": "conv" | "dense", "kind": "binary" | "float", "why",
        "binary_ops"}`` per layer, in the model's order; ``binary_ops`` is how many
        ``LceBconv2d`` it becomes (2 for a zero-padded map smaller than the kernel).
    """
    rows = []
    for layer in model.layers:
        planned = _plan(layer)
        if planned is not None:
            rows.append({"layer": layer.name,
                         "type": "dense" if isinstance(layer, keras.layers.Dense) else "conv",
                         "kind": planned[0], "why": planned[1],
                         "binary_ops": (0 if planned[0] == "float" else
                                        2 if not isinstance(layer, keras.layers.Dense)
                                        and _small_map(layer) else 1)})
    return rows


# ----------------------------------------------------------------------------------------
# The rewrite
# ----------------------------------------------------------------------------------------


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _ZeroPaddedBinaryConv(keras.layers.Layer):
    """A zero-padded "same" binary convolution as the mean of two "valid" ones, on the
    input padded with +1 and with -1: each padded tap adds ``+w`` to one and ``-w`` to the
    other, so their mean is the zero-padded sum, exactly (half-integers). Each is an
    ordinary LCE binary convolution with kernel ``+-1/2``; the bias comes after the sum."""

    def __init__(self, layer, **kwargs):
        super().__init__(name=layer.name, **kwargs)
        height, width = layer.input_shape[1:3]
        self.pads = [[0, 0], *(list(_same_padding(n, k, s)) for n, k, s in zip(
            (height, width), layer.kernel_size, layer.strides)), [0, 0]]
        common = dict(filters=layer.filters, kernel_size=layer.kernel_size,
                      strides=layer.strides, dilation_rate=layer.dilation_rate, padding="valid",
                      use_bias=False, input_quantizer="ste_sign")
        self.plus = lq.layers.QuantConv2D(**common, name=f"{layer.name}_pad_plus")
        self.minus = lq.layers.QuantConv2D(**common, name=f"{layer.name}_pad_minus")
        self.use_bias = layer.use_bias
        self.activation = layer.activation

    def build(self, input_shape):
        padded = [input_shape[0], *(input_shape[i] + sum(self.pads[i]) for i in (1, 2)),
                  input_shape[3]]
        self.plus.build(padded)
        self.minus.build(padded)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.plus.filters,),
                                        initializer="zeros", trainable=False)
        super().build(input_shape)

    def call(self, inputs):
        out = (self.plus(tf.pad(inputs, self.pads, constant_values=1.0))
               + self.minus(tf.pad(inputs, self.pads, constant_values=-1.0)))
        if self.use_bias:
            out = out + self.bias
        return self.activation(out)

    def set_from(self, kernel: np.ndarray, bias: list[np.ndarray]) -> None:
        self.plus.set_weights([kernel / 2])
        self.minus.set_weights([kernel / 2])
        if self.use_bias:
            self.bias.assign(bias[0])


def _binary_conv_config(config: dict) -> dict:
    return {**config, "input_quantizer": "ste_sign", "kernel_quantizer": None,
            "kernel_constraint": None}


def lce_equivalent(model: keras.Model) -> keras.Model:
    """A model with ``model``'s forward pass, written in the form LCE's converter recognises.

    For inference only (no quantizer gradients, no weight clips); layers that need no
    rewrite are shared with ``model``. See the module docstring for the rewrites.

    # Raises
        ValueError: for a stochastic model (see `freeze_stochastic`).
    """
    _refuse_stochastic(model)
    weights: dict[int, list[np.ndarray]] = {}

    def rewrite(layer):
        planned = _plan(layer)
        if planned is None:
            return layer
        kind, _ = planned
        quantized = isinstance(layer, (lq.layers.QuantConv2D, lq.layers.QuantDense))
        if not quantized:
            return layer
        kernel = _quantized_kernel(layer)
        bias = [layer.bias.numpy()] if layer.use_bias else []
        config = layer.get_config()
        if isinstance(layer, keras.layers.Dense):
            if kind != "binary":
                new = lq.layers.QuantDense.from_config(
                    {**config, "kernel_quantizer": None, "kernel_constraint": None})
                weights[id(new)] = [kernel, *bias]
                return new
            conv = lq.layers.QuantConv2D(layer.units, 1, use_bias=layer.use_bias,
                                         input_quantizer="ste_sign", name=f"{layer.name}_1x1")
            new = keras.Sequential([keras.layers.Reshape((1, 1, layer.input_shape[-1])), conv,
                                    keras.layers.Reshape((layer.units,))], name=layer.name)
            weights[id(new)] = [kernel.reshape(1, 1, *kernel.shape), *bias]
            return new
        if kind != "binary":
            new = lq.layers.QuantConv2D.from_config(
                {**config, "kernel_quantizer": None, "kernel_constraint": None})
            weights[id(new)] = [kernel, *bias]
            return new
        if _small_map(layer):
            new = _ZeroPaddedBinaryConv(layer)
            weights[id(new)] = (kernel, bias)
            return new
        new = lq.layers.QuantConv2D.from_config(_binary_conv_config(config))
        weights[id(new)] = [kernel, *bias]
        return new

    clone = keras.models.clone_model(model, clone_function=rewrite)
    for layer in clone.layers:
        if isinstance(layer, _ZeroPaddedBinaryConv):
            layer.set_from(*weights[id(layer)])
        elif id(layer) in weights:
            layer.set_weights(weights[id(layer)])
    return clone


# ----------------------------------------------------------------------------------------
# S: a deterministic network to export
# ----------------------------------------------------------------------------------------

FREEZE_MODES = ("mean", "draw")


def _refuse_stochastic(model) -> None:
    names = _stochastic_layers(model)
    if names:
        raise ValueError(
            f"model {model.name!r} is stochastic (StochasticSign in {', '.join(names)}): it "
            "draws new binary weights at every forward pass, and LCE has no random ops. Export "
            "a deterministic network instead: its mean network, "
            "tfbnn.deploy.freeze_stochastic(model, 'mean') (each stochastic kernel replaced by "
            "its expectation clip(w, -1, 1); a float convolution), or one fixed draw of its "
            "signs, tfbnn.deploy.freeze_stochastic(model, 'draw', seed=0) (binary); from the "
            "shell, tfbnn export MODEL --tflite OUT --stochastic mean|draw.")


def freeze_stochastic(model: keras.Model, mode: str = "mean", *, seed: int = 0) -> keras.Model:
    """A deterministic copy of a stochastic model (the S variant), for export.

    # Arguments
        model: a model with `tfbnn.quantizers.StochasticSign` kernel quantizers.
        mode: ``"mean"``: each stochastic kernel becomes its expectation
            ``2 hard_sigmoid(w) - 1 = clip(w, -1, 1)`` (the network of mean weights, not
            the mean output of the network); ``"draw"``: one sample of its signs, drawn
            from ``numpy.random.default_rng(seed)`` (one member of the ensemble S
            averages over).
        seed: the draw's seed.

    # Returns
        A new model; layers without a stochastic quantizer are shared with ``model``.

    # Raises
        ValueError: for an unknown ``mode``, or a model with no stochastic layer.
    """
    if mode not in FREEZE_MODES:
        raise ValueError(f"mode must be one of {FREEZE_MODES} (the mean network, or one fixed "
                         f"draw of the signs), got {mode!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}.")
    if not _stochastic_layers(model):
        raise ValueError(f"model {model.name!r} has no StochasticSign layer; it is deterministic "
                         "already: export it as it is.")
    rng = np.random.default_rng(seed)
    weights: dict[int, list[np.ndarray]] = {}

    def freeze(layer):
        if not isinstance(_quantizer(layer, "kernel_quantizer"), StochasticSign):
            return layer
        latent = layer.kernel.numpy()
        probs = hard_sigmoid(latent).numpy()
        if mode == "mean":
            kernel = 2.0 * probs - 1.0
        else:
            kernel = np.where(rng.random(latent.shape) < probs, 1.0, -1.0)
        new = type(layer).from_config({**layer.get_config(), "kernel_quantizer": None,
                                       "kernel_constraint": None})
        weights[id(new)] = [kernel.astype(np.float32),
                            *([layer.bias.numpy()] if layer.use_bias else [])]
        return new

    clone = keras.models.clone_model(model, clone_function=freeze)
    for layer in clone.layers:
        if id(layer) in weights:
            layer.set_weights(weights[id(layer)])
    return clone


# ----------------------------------------------------------------------------------------
# Conversion and checks
# ----------------------------------------------------------------------------------------


def tflite_ops(flatbuffer: bytes) -> dict[str, int]:
    """How many times each operator (builtin or custom, e.g. ``LceBconv2d``) occurs."""
    from tensorflow.lite.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    root = schema.Model.GetRootAsModel(flatbuffer, 0)
    codes = [root.OperatorCodes(i) for i in range(root.OperatorCodesLength())]
    counts: dict[str, int] = {}
    for g in range(root.SubgraphsLength()):
        graph = root.Subgraphs(g)
        for i in range(graph.OperatorsLength()):
            code = codes[graph.Operators(i).OpcodeIndex()]
            custom = code.CustomCode()
            name = (custom.decode() if custom else
                    names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?"))
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def _logits(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    return np.concatenate([model(x[i:i + batch_size], training=False).numpy()
                           for i in range(0, len(x), batch_size)])


def check_tflite(flatbuffer: bytes, model: keras.Model, x: np.ndarray,
                 y: np.ndarray | None = None, *, reference: np.ndarray | None = None) -> dict:
    """The flatbuffer's logits (LCE's interpreter, one thread) against ``model``'s on ``x``.

    # Arguments
        flatbuffer: the converted model.
        model: the Keras model it came from.
        x: real test images.
        y: their labels, for both accuracies.
        reference: ``model``'s logits on ``x``, when already computed.

    # Returns
        ``{"n", "max_abs_diff", "max_abs_logit", "argmax_agreement"}``, with ``y`` also
        ``"accuracy_keras"`` and ``"accuracy_tflite"``.
    """
    lce = require_lce()
    interpreter = lce.testing.Interpreter(flatbuffer, num_threads=1)
    ours = np.concatenate([np.asarray(interpreter.predict(x[i:i + 1])).reshape(1, -1)
                           for i in range(len(x))])
    keras_logits = _logits(model, x) if reference is None else reference
    result = {"n": int(len(x)),
              "max_abs_diff": float(np.max(np.abs(ours - keras_logits))),
              "max_abs_logit": float(np.max(np.abs(keras_logits))),
              "argmax_agreement": float(np.mean(ours.argmax(-1) == keras_logits.argmax(-1)))}
    if y is not None:
        labels = np.asarray(y).reshape(-1)
        result["accuracy_keras"] = float(np.mean(keras_logits.argmax(-1) == labels))
        result["accuracy_tflite"] = float(np.mean(ours.argmax(-1) == labels))
    return result


def _check_arguments(model, path, x_check, overwrite, target):
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}.")
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise TypeError(f"path must be a non-empty str or os.PathLike, got {path!r}.")
    path = Path(path)
    if path.suffix != ".tflite":
        raise ValueError(f"path must end in .tflite, got {str(path)!r}.")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"Cannot write {str(path)!r}: its parent directory "
                                f"{str(path.parent)!r} does not exist. Create it first.")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} already exists; pass overwrite=True to replace it, "
                              "or choose another path.")
    if target not in ("arm", "xcore"):
        raise ValueError(f"target must be 'arm' or 'xcore' (LCE's targets), got {target!r}.")
    shape = tuple(model.input_shape[1:])
    if any(d is None for d in shape):
        raise ValueError(f"model needs a fully defined input shape, got {model.input_shape}.")
    if x_check is not None:
        x_check = np.asarray(x_check, np.float32)
        if x_check.ndim != len(shape) + 1 or tuple(x_check.shape[1:]) != shape or not len(x_check):
            raise ValueError(f"x_check must be a batch of the model's inputs, shape (n, "
                             f"{', '.join(map(str, shape))}) with n >= 1, got {x_check.shape}; "
                             "pass real test images of the data the model was trained on.")
    return path, x_check


def export_tflite(
    model: keras.Model,
    path,
    *,
    x_check: np.ndarray | None = None,
    y_check: np.ndarray | None = None,
    overwrite: bool = False,
    target: str = "arm",
    require_binary: bool = True,
) -> dict:
    """Convert ``model`` with Larq Compute Engine and write the flatbuffer atomically.

    # Arguments
        model: a deterministic Keras model returning logits (tfbnn's A, B, C, W, the CIFAR
            networks; for S see `freeze_stochastic`).
        path: the ``.tflite`` file to write.
        x_check: real test images (e.g. 1,000 MNIST or CIFAR test images): the flatbuffer's
            logits are compared with the Keras model's on them. Without it only the
            rewrite is checked, on 8 uniform-noise images.
        y_check: their labels, to report both accuracies.
        overwrite: replace an existing file.
        target: LCE's ``"arm"`` (default; also what its x86 interpreter runs) or ``"xcore"``.
        require_binary: raise when LCE did not emit one ``LceBconv2d`` per convolution
            the report expects to be binary (nothing is written then).

    # Returns
        A report: ``{"path", "bytes", "convolutions": {"binary", "float"}, "dense":
        {"binary", "float"}, "layers": [per-layer kind and why], "ops": operator counts,
        "rewrite_max_abs_diff", "check": see `check_tflite` (with ``x_check`` only)}``.

    # Raises
        ImportError: without ``larq-compute-engine`` (``pip install -e ".[deploy]"``).
        ValueError: for a stochastic model, a bad argument, or a rewrite or flatbuffer whose
            outputs differ from the model's (see the message).

    # Example
        ```python
        report = tfbnn.deploy.export_tflite(model, "b64.tflite", x_check=x_test[:1000])
        print(report["convolutions"], report["check"]["argmax_agreement"])
        ```
    """
    path, x_check = _check_arguments(model, path, x_check, overwrite, target)
    if y_check is not None and (x_check is None
                                or len(np.asarray(y_check).reshape(-1)) != len(x_check)):
        raise ValueError("y_check needs x_check and one label per image; got "
                         f"{None if y_check is None else np.shape(y_check)} labels for "
                         f"{None if x_check is None else len(x_check)} images.")
    _refuse_stochastic(model)
    lce = require_lce()

    layers = convolution_report(model)
    rewritten = lce_equivalent(model)
    probe = x_check if x_check is not None else np.random.default_rng(0).random(
        (8, *model.input_shape[1:]), dtype=np.float32)
    reference = _logits(model, probe)
    rewrite_diff = float(np.max(np.abs(_logits(rewritten, probe) - reference)))
    if rewrite_diff > 1e-5 * max(1.0, float(np.max(np.abs(reference)))):
        raise ValueError(f"the LCE form of model {model.name!r} changed its logits by up to "
                         f"{rewrite_diff:g}; this is a bug in tfbnn.deploy, please report it.")

    flatbuffer = lce.convert_keras_model(rewritten, target=target)
    ops = tflite_ops(flatbuffer)
    expected = sum(row["binary_ops"] for row in layers)
    if require_binary and ops.get(BINARY_OP, 0) != expected:
        raise ValueError(f"LCE emitted {ops.get(BINARY_OP, 0)} {BINARY_OP} ops where {expected} "
                         f"were expected (operators: {ops}); nothing written. Pass "
                         "require_binary=False to write the file anyway.")

    def count(kind, type_):
        return sum(r["kind"] == kind and r["type"] == type_ for r in layers)

    report = {
        "path": str(path), "bytes": len(flatbuffer), "target": target,
        "convolutions": {"binary": count("binary", "conv"), "float": count("float", "conv")},
        "dense": {"binary": count("binary", "dense"), "float": count("float", "dense")},
        "layers": layers, "ops": ops, "rewrite_max_abs_diff": rewrite_diff,
    }
    if x_check is not None:
        report["check"] = check_tflite(flatbuffer, model, x_check, y_check, reference=reference)
    atomic_write_bytes(path, flatbuffer)
    return report
