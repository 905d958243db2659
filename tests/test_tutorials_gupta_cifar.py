"""The CIFAR model zoo and the tutorial that trains the second paper's networks."""

import json

import numpy as np
import pytest


SMALL = dict(width=0.0625, epochs=2, calibration=64)


def test_cifar_specs_are_keyed_by_config(tutorial):
    zoo = tutorial("_zoo")
    a = zoo.cifar_spec("resnet18", "WQ-MD", **SMALL)
    assert (a["precision"], a["method"]) == ("wq", "md_tanh_s")
    key = zoo.spec_key(a)
    assert key.startswith("cifar-resnet18-wq-md_tanh_s-w0.0625-")
    assert zoo.spec_key({**a, "seed": 1}) != key
    assert zoo.spec_key(zoo.cifar_spec("resnet18", "WQ-MD", **SMALL)) == key
    # the MNIST keys are those of earlier sessions' caches
    assert zoo.spec_key({"variant": "B"}).startswith("B64-")
    assert zoo.spec_key({"variant": "B"}) == zoo.spec_key(dict(zoo.DEFAULT_SPEC, variant="B"))
    with pytest.raises(ValueError, match="variant='WQ'"):
        zoo.cifar_spec("resnet18", "WQ")
    with pytest.raises(ValueError, match="BNN-WAQ network"):
        zoo.cifar_spec("binarynet_vgg", "REF")
    with pytest.raises(ValueError, match="unknown CIFAR spec settings \\['widht'\\]"):
        zoo.cifar_spec("vgg16", "REF", widht=0.5)
    with pytest.raises(ValueError, match="adversary='fgsm'"):
        zoo.cifar_spec("vgg16", "REF", adversary="fgsm")
    # CIFAR-100 networks (Table 9) share the cache under their own keys
    c100 = zoo.cifar_spec("vgg16", "REF", dataset="cifar100", **SMALL)
    assert zoo.spec_key(c100).startswith("cifar100-vgg16-ref-w0.0625-")
    assert zoo._cifar_model(zoo.full_spec(c100)).output_shape[-1] == 100
    with pytest.raises(ValueError, match="dataset='svhn'"):
        zoo.cifar_spec("vgg16", "REF", dataset="svhn")


def test_starred_variants_are_the_pgd_trained_networks(tutorial):
    """Every CIFAR tutorial builds its specs with `spec_for`: a '*' variant is PGD-trained for
    the last ``pgd_last_epochs`` epochs (default 2; None: throughout), and the clean specs keep
    the keys the committed results name."""
    models = tutorial("gupta2022_cifar_models")
    config = {"width": 0.25, "epochs": 10, "seed": 1234}
    clean = models.spec_for(config, "resnet18", "WQ-MD", 20_000)
    assert models._zoo.spec_key(clean) == "cifar-resnet18-wq-md_tanh_s-w0.25-dd571d3605df"
    starred = models.spec_for(config, "resnet18", "WQ-MD*", 20_000)
    assert {k: starred[k] for k in ("adversary", "last_epochs")} == {"adversary": "pgd",
                                                                     "last_epochs": 2}
    assert {k: v for k, v in starred.items() if k not in ("adversary", "last_epochs")} == clean
    throughout = models.spec_for({**config, "pgd_last_epochs": None}, "resnet18", "REF*", 20_000)
    assert throughout["last_epochs"] is None and throughout["precision"] == "ref"
    assert len({models._zoo.spec_key(s) for s in (clean, starred, throughout)}) == 3


def test_cifar_training_resumes_after_a_kill(tutorial, cifar_npz, tmp_path, monkeypatch):
    zoo = tutorial("_zoo")
    spec = zoo.cifar_spec("vgg16", "WQ-GD", **SMALL)
    real = zoo._EpochCheckpoint.on_epoch_end

    def killed_after_first_epoch(self, epoch, logs=None):
        real(self, epoch, logs)
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(zoo._EpochCheckpoint, "on_epoch_end", killed_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        zoo.trained_model(spec, verbose=0)
    key = zoo.spec_key(spec)
    cache = tmp_path / "cache"
    assert not (cache / f"{key}.keras").exists() and not (cache / f"{key}.lock").exists()
    assert json.loads((cache / f"{key}.ckpt.json").read_text())["epoch"] == 1
    monkeypatch.setattr(zoo._EpochCheckpoint, "on_epoch_end", real)
    model, info = zoo.trained_model(spec, verbose=0)
    assert info["iterations"] == 2 * 2  # 256 images at batch 128, two epochs in all
    assert len(info["history"]["loss"]) == 2 and len(info["history"]["beta"]) == 2
    assert info["data"] == "CIFAR-10" and info["test_images"] == 64
    assert not (cache / f"{key}.ckpt").exists() and not (cache / f"{key}.ckpt.json").exists()
    # finalized: the evaluated network is the signed one, with the final beta recorded
    assert info["finalize"]["final_beta"] == pytest.approx(1.2 ** 50, rel=1e-4)  # the last step
    from tfbnn import training

    for layer, quantizer in training._tanh_layers(model):
        assert set(np.unique(layer.kernel.latent_variable.numpy())) <= {-1.0, 1.0}
    # cached: the second call loads the same network
    again, info_again = zoo.trained_model(spec, verbose=0)
    assert info_again == info


def test_cifar_models_tutorial(tutorial, cifar_npz, tmp_path):
    module = tutorial("gupta2022_cifar_models")
    out = tmp_path / "cifar_models.json"
    config = {"architectures": ["vgg16"], "width": 0.0625, "epochs": 1, "out": str(out)}
    results = module.main(config)
    entries = results["models"]
    assert sorted(entries) == sorted(f"vgg16 {v}" for v in module.DEFAULT["variants"])
    for name, entry in entries.items():
        assert 0.0 <= entry["test_accuracy"] <= 1.0 and entry["test_images"] == 64
        assert entry["data"] == "CIFAR-10" and entry["iterations"] == 2
        assert ("final_beta" in entry) == name.endswith(("GD", "MD"))
    summary = results["summary"]
    assert summary["verdict"] == "not comparable"
    table = "\n".join(summary["table"])
    assert "| BNN-WQ (MD-tanh-S) | 91.53 |" in table and "| BNN-WQ (BC) | — |" in table
    assert "| REF | 93.31 |" in table and "| BNN-WAQ | 89.69 |" in table
    assert "width 0.0625" in summary["tfbnn_scale"] and "64 test images" in summary["tfbnn_scale"]
    assert out.with_suffix(".md").exists()
    # a rerun of the same config trains and measures nothing again
    rerun = module.main(config)
    assert rerun["models"] == entries
    assert module.epochs_for({"iterations": 100_000, "epochs": 1}, 50_000) == 256
