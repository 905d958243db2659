import math

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfbnn import models, training
from tfbnn.training import AdversarialTrainer, KurakinFGSM, MadryPGD, kurakin_eps


def test_kurakin_eps_distribution():
    eps = kurakin_eps(50000, 0.3, seed=1).numpy()
    sigma = math.ceil(0.3 * 255 / 2) / 255  # 39/255
    assert eps.shape == (50000,)
    assert eps.min() >= 0 and eps.max() <= 0.3 + 1e-7
    # |N(0, sigma)| truncated at 2 sigma has mean sigma * 0.7979 * (1 - e^-2) / 0.9545 ~ 0.7236 sigma
    expected_mean = sigma * math.sqrt(2 / math.pi) * (1 - math.exp(-2)) / math.erf(2 / math.sqrt(2))
    assert abs(eps.mean() - min(expected_mean, 0.3)) < 0.01 * sigma + 3 * eps.std() / math.sqrt(50000)


def test_kurakin_eps_small_eps_max_uses_ceil():
    eps = kurakin_eps(10000, 0.01, seed=2).numpy()  # sigma = ceil(1.275) = 2 pixel levels
    assert eps.max() <= 0.01 + 1e-7
    # P(|N(0, 2)| > 2.55 | |N| < 4): the share of draws capped at eps_max
    tail = lambda z: 1 - math.erf(z / math.sqrt(2))  # noqa: E731  P(|Z| > z)
    expected = (tail(2.55 / 2) - tail(2.0)) / (1 - tail(2.0))
    assert abs(np.mean(eps == np.float32(0.01)) - expected) < 0.015


@pytest.mark.parametrize("eps", [0, -0.1, 1.5, 8, "0.3", True])
def test_bad_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        KurakinFGSM(eps)
    with pytest.raises(ValueError, match="eps"):
        MadryPGD(eps)


def test_bad_trainer_arguments():
    model = models.cleverhans_cnn("A", k1=4)
    with pytest.raises(TypeError, match="adversary"):
        AdversarialTrainer(model, "fgsm")
    with pytest.raises(ValueError, match="last_epochs"):
        AdversarialTrainer(model, KurakinFGSM(), last_epochs=-1)
    with pytest.raises(ValueError, match="adv_weight"):
        AdversarialTrainer(model, KurakinFGSM(), adv_weight=0)
    with pytest.raises(ValueError, match="eps_iter"):
        MadryPGD(0.3, eps_iter=0.5)
    with pytest.raises(ValueError, match="nb_iter"):
        MadryPGD(0.3, nb_iter=0)


def test_fgsm_adversary_respects_per_example_budget(mnist_small):
    (x, _), _ = mnist_small
    model = models.cleverhans_cnn("A", k1=4)
    adversary = KurakinFGSM(0.3, seed=3)
    x = tf.constant(x[:64])
    x_adv = adversary(lambda t: model(t, training=False), x).numpy()
    diff = np.abs(x_adv - x.numpy()).reshape(64, -1).max(axis=1)
    assert np.all(diff <= 0.3 + 1e-6)
    assert len(np.unique(np.round(diff, 4))) > 5  # eps differs between examples
    assert x_adv.min() >= 0 and x_adv.max() <= 1


@pytest.mark.parametrize("adversary", [KurakinFGSM(0.3), MadryPGD(0.3, 0.01, 3)])
@pytest.mark.parametrize("variant", ["A", "C"])
def test_adversarial_training_switches_on_for_last_epochs(adversary, variant, mnist_small):
    (x, y), _ = mnist_small
    model = models.cleverhans_cnn(variant, k1=8)
    trainer = AdversarialTrainer(model, adversary, last_epochs=1)
    training.compile_model(trainer)
    history = trainer.fit(x[:512], y[:512], epochs=2, batch_size=64, verbose=0)
    assert history.history["adv_accuracy"][0] == 0.0  # adversary off in epoch 1
    assert history.history["adv_accuracy"][1] > 0.0  # and on in epoch 2
    assert all(np.isfinite(history.history["loss"]))
    assert trainer.collapsed_epochs == []


def test_collapsed_adversarial_training_is_reported(mnist_small):
    """A model that predicts one class at chance loss in an adversarial epoch is flagged."""
    (x, y), _ = mnist_small
    bias = keras.initializers.Constant([1.0] + [0.0] * 9)  # always class 0, near chance loss
    constant = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28, 1)),
                                 keras.layers.Dense(10, kernel_initializer="zeros",
                                                    bias_initializer=bias)])
    trainer = AdversarialTrainer(constant, KurakinFGSM(0.3), last_epochs=1)
    training.compile_model(trainer, learning_rate=1e-12)  # stays constant
    with pytest.warns(RuntimeWarning, match=r"collapsed in epoch 2: the model predicted class 0 "
                                            r"for 100.0 % .*adv_weight=0.5"):
        trainer.fit(x[:256], y[:256], epochs=2, batch_size=64, verbose=0)
    assert trainer.collapsed_epochs == [1]  # the clean epoch 1 is not judged


def test_adversarial_training_improves_fgsm_accuracy(mnist_small):
    """Kurakin FGSM training on A raises FGSM accuracy over clean training, same seed."""
    from tfbnn.attacks import fast_gradient_method

    (x, y), (x_test, y_test) = mnist_small

    def fgsm_accuracy(adversarial):
        keras.utils.set_random_seed(5)
        model = models.cleverhans_cnn("A", k1=16)
        fit_model = AdversarialTrainer(model, KurakinFGSM(0.1, random_eps=False)) if adversarial else model
        training.compile_model(fit_model)
        fit_model.fit(x, y, epochs=5, batch_size=64, verbose=0)
        x_adv = fast_gradient_method(lambda t: model(t, training=False), x_test, 0.1, np.inf,
                                     clip_min=0.0, clip_max=1.0, y=y_test)
        return float(np.mean(np.argmax(model(x_adv, training=False), -1) == y_test))

    assert fgsm_accuracy(True) > fgsm_accuracy(False) + 0.1


def test_fit_keeps_callbacks_and_checkpoints_working(tmp_path, mnist_small):
    (x, y), _ = mnist_small
    model = models.cleverhans_cnn("B", k1=4)
    trainer = AdversarialTrainer(model, KurakinFGSM(0.1), last_epochs=1)
    training.compile_model(trainer)
    seen = []
    trainer.fit(
        x[:256], y[:256], epochs=2, batch_size=64, verbose=0,
        validation_data=(x[:64], y[:64]),
        callbacks=[
            keras.callbacks.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}"), save_weights_only=True),
            keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(sorted(logs))),
            keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
        ],
    )
    assert "adv_accuracy" in seen[-1] and "val_accuracy" in seen[-1]
    assert (tmp_path / "ckpt-2.index").exists()
    assert (tmp_path / "log.csv").read_text().count("\n") == 3
    restored = AdversarialTrainer(models.cleverhans_cnn("B", k1=4), KurakinFGSM(0.1))
    restored.load_weights(str(tmp_path / "ckpt-2"))
    np.testing.assert_array_equal(restored.model(x[:4]).numpy(), model(x[:4]).numpy())
