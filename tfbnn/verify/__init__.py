"""Exact robustness of small binarized networks: a certified lower bound.

Every robust accuracy an attack reports is an upper bound. For a BNN whose inputs lie on
the 8-bit grid, whose weights are binary and whose activations are signs, each neuron
is an integer linear threshold, and "is some input in this L-inf ball misclassified?"
is a finite constraint problem (Narodytska et al., AAAI 2018; Khalil et al., ICLR 2019;
Jia & Rinard, NeurIPS 2020). `verify` answers it per example: ``certified`` (no such
input), ``counterexample`` (one, replayed through the Keras model) or ``unknown`` (the
time limit ran out).

```python
import tfbnn
from tfbnn import models, verify

model = models.binary_mlp((100,) * 2)          # train it with model.fit first
report = verify.verify(model, x_test[:20], y_test[:20], eps=0.02, time_limit=20, workers=2)
print(report.summary()["certified_fraction"])
```

- `network`: `extract` reads a supported Keras/Larq model as an exact integer network
  (or refuses it, naming the first unsupported layer) and checks it against Keras;
- `bounds`: interval bounds per neuron over the ball, which decide (fix) neurons;
- `encoding`: the CP-SAT model (OR-Tools), with hints;
- `verifier`: `verify`, the per-example results and their summary;
- `friendly`: verification-friendly training (ternary weights, `MarginTrainer`'s margin
  penalty) and `stability`, the share of neurons interval bounds decide.

Why tfbnn writes its own encoder: no maintained library verifies Keras/Larq BNNs
exactly. EEV (Jia & Rinard) is a research prototype tied to its own PyTorch training
code and its own SAT solver; the MILP and SAT encodings of Khalil et al. and Narodytska
et al. were not released as libraries; the maintained general verifiers (alpha-beta-CROWN,
ERAN) target real-valued networks, and Marabou, which has sign constraints, reads
ONNX/NNet files, not Larq layers; none models the input quantizer or Keras's float32
thresholds and tie-breaking exactly. tfbnn reads the thresholds from Keras's own
float32 operations, so its integer network is the Keras model, and uses OR-Tools CP-SAT,
whose reified linear constraints over Booleans are native.

Needs ``pip install -e ".[verify]"`` (OR-Tools).
"""

from tfbnn.verify.bounds import LayerBounds, interval_bounds
from tfbnn.verify.network import (
    SUPPORTED,
    BinaryLayer,
    ExtractionError,
    IntegerNetwork,
    UnsupportedModelError,
    ball,
    extract,
)

__all__ = [
    "SUPPORTED", "BinaryLayer", "CounterexampleError", "ExampleResult", "ExtractionError",
    "IntegerNetwork", "LayerBounds", "UnsupportedModelError", "VerificationReport", "ball",
    "extract", "interval_bounds", "verify",
]


def __getattr__(name):
    # The solver side needs OR-Tools; extraction and bounds do not.
    if name in ("verify", "ExampleResult", "VerificationReport", "CounterexampleError",
                "STATUSES", "encoding", "verifier"):
        import importlib

        try:
            module = importlib.import_module(
                f"tfbnn.verify.{'encoding' if name == 'encoding' else 'verifier'}")
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("tfbnn.verify needs OR-Tools: pip install -e \".[verify]\" "
                              f"(ortools) ({err}).") from err
        return module if name in ("encoding", "verifier") else getattr(module, name)
    raise AttributeError(f"module 'tfbnn.verify' has no attribute {name!r}")
