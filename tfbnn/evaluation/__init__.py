"""Robustness evaluation: the per-example worst case over an attack ensemble, with
gradient-masking diagnostics, resumable per-batch state and reports.

```python
from tfbnn import evaluation
report = evaluation.evaluate(model, x_test[:1000], y_test[:1000], eps=[0.1, 0.3], out_dir="eval")
print(report["results"][0]["robust_accuracy"], report["verdict"])
```
"""

from tfbnn.evaluation.catalog import ATTACKS, DEFAULT_ENSEMBLE, AttackSpec
from tfbnn.evaluation.ensemble import SCHEMA, evaluate
from tfbnn.evaluation.target import Target, load_model, prepare

__all__ = ["ATTACKS", "AttackSpec", "DEFAULT_ENSEMBLE", "SCHEMA", "Target", "evaluate",
           "load_model", "prepare"]
