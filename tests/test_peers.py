"""tfbnn.attacks.peers: foolbox's DeepFool and Brendel & Bethge, ART's CLEVER, on a
linear classifier whose answers are known in closed form.

For logits ``z = x W + b`` and predicted class ``c``, the smallest perturbation that
changes the prediction (ignoring the box, which the chosen inputs never reach) has
norm ``min_j (z_c - z_j) / ||w_c - w_j||_q``, ``q`` the dual norm: L1 of the weight
difference for an L-inf perturbation, L2 for L2, L-inf for L1 (CLEVER's norm in the
paper). No attack can fool an example inside that radius; DeepFool, exact on linear
models, fools it just outside (its overshoot is 2 %).
"""

import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfbnn import attacks, evaluation
from tfbnn.attacks import peers
from tfbnn.evaluation import catalog

D, K, N = 12, 4, 8
DUAL = {np.inf: 1, 2: 2, 1: np.inf}


@pytest.fixture(scope="module")
def linear():
    """A Keras linear classifier, its weights, inputs in [0.3, 0.7] whose minimal L-inf
    and L2 adversarial points stay inside [0, 1], and the exact distances."""
    rng = np.random.default_rng(7)
    w = rng.normal(size=(D, K)).astype(np.float32)
    b = (0.1 * rng.normal(size=K)).astype(np.float32)
    model = keras.Sequential([keras.Input((D,)), keras.layers.Dense(K)])
    model.set_weights([w, b])
    x = rng.uniform(0.3, 0.7, size=(200, D)).astype(np.float32)
    keep = _distance(w, b, x, np.inf)[0] < 0.25
    keep &= _distance(w, b, x, 2)[0] < 0.25  # L2 steps of at most 0.25 per coordinate
    x = x[keep][:N]
    assert len(x) == N
    y = np.argmax(x @ w + b, 1)
    return model, w, b, x, y


def _distance(w, b, x, norm):
    """Per example, the exact minimal ``norm`` distance to the decision boundary and the
    class it crosses into (no box)."""
    z = x.astype(np.float64) @ w + b
    c = z.argmax(1)
    best = np.full(len(x), np.inf)
    for j in range(w.shape[1]):
        diff = w[:, c] - w[:, [j]]  # (D, n)
        scale = np.linalg.norm(diff, ord=DUAL[norm], axis=0)
        d = np.where(c == j, np.inf, (z[np.arange(len(x)), c] - z[:, j]) / np.maximum(scale, 1e-12))
        best = np.minimum(best, d)
    return best, c


def _size(delta, norm):
    flat = np.asarray(delta, np.float64).reshape(len(delta), -1)
    return np.abs(flat).max(1) if norm == np.inf else np.linalg.norm(flat, axis=1)


def _check_ball(x, x_adv, eps, norm):
    x_adv = np.asarray(x_adv)
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32
    assert np.all(_size(x_adv - x, norm) <= eps * (1 + 1e-5) + 1e-6)
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0


@pytest.mark.parametrize("norm", [np.inf, 2])
def test_deepfool_is_exact_on_a_linear_model(linear, norm):
    model, w, b, x, y = linear
    exact, _ = _distance(w, b, x, norm)
    # eps far above every distance: the raw DeepFool point, 1.02 x the exact distance
    far = float(exact.max() * 2)
    x_adv = np.asarray(attacks.deepfool(model, x, y, far, norm))
    _check_ball(x, x_adv, far, norm)
    found = _size(x_adv - x, norm)
    assert np.all(np.argmax(model(x_adv), 1) != y)
    assert np.all(found >= exact * (1 - 1e-4))
    assert np.all(found <= exact * 1.03 + 1e-3)
    # eps between the distances: fooled exactly where eps clears the distance
    eps = float(np.median(exact))
    x_adv = np.asarray(attacks.deepfool(model, x, y, eps, norm))
    _check_ball(x, x_adv, eps, norm)
    fooled = np.argmax(model(x_adv), 1) != y
    assert not fooled[exact > eps].any()
    assert fooled[exact * 1.03 + 1e-3 < eps].all()
    assert fooled.any() and not fooled.all()


@pytest.mark.slow  # compiles foolbox's L-inf solver with numba: about 25 s (pytest -m slow)
def test_brendel_bethge_linf_never_beats_the_exact_distance_and_fools_above_it(linear):
    model, w, b, x, y = linear
    exact, _ = _distance(w, b, x, np.inf)
    far = 0.5  # half the range: the raw BBA points
    x_adv, started = attacks.brendel_bethge(model, x, y, far, np.inf, return_started=True)
    assert started.all()
    _check_ball(x, x_adv, far, np.inf)
    found = _size(np.asarray(x_adv) - x, np.inf)
    assert np.all(np.argmax(model(x_adv), 1) != y)
    # never beats the exact distance; it need not reach it in its 1,000 steps: depending on
    # the random noise start, up to 1.7x on L-inf and 2.6x on L2 were seen on this model
    assert np.all(found >= exact * (1 - 1e-4))
    below = float(exact.min() * 0.9)  # nothing in this ball fools the model: few steps do
    x_adv = attacks.brendel_bethge(model, x, y, below, np.inf, steps=20)
    _check_ball(x, x_adv, below, np.inf)
    assert np.all(np.argmax(model(x_adv), 1) == y)


@pytest.mark.slow  # compiles foolbox's L2 solver with numba: about 10 s more
def test_brendel_bethge_l2_never_beats_the_exact_distance_and_fools_above_it(linear):
    model, w, b, x, y = linear
    exact, _ = _distance(w, b, x, 2)
    x_adv = attacks.brendel_bethge(model, x, y, 2.0, 2)
    _check_ball(x, x_adv, 2.0, 2)
    found = _size(np.asarray(x_adv) - x, 2)
    assert np.all(np.argmax(model(x_adv), 1) != y)
    assert np.all(found >= exact * (1 - 1e-4))


def test_brendel_bethge_keeps_examples_without_a_start_clean(linear):
    """A model that always answers class 0: the noise init finds no adversarial start."""
    _, _, _, x, _ = linear

    def constant(t):
        return tf.constant([[3.0, 0.0, 0.0, 0.0]]) + 0.0 * tf.reduce_sum(t, 1, keepdims=True)

    with pytest.warns(UserWarning, match=f"no adversarial starting point for {N} of {N}"):
        x_adv, started = attacks.brendel_bethge(constant, x, np.zeros(N, np.int64), 0.1,
                                                return_started=True)
    assert not started.any()
    np.testing.assert_array_equal(np.asarray(x_adv), x)


def _plain(w, b):
    return lambda t: tf.matmul(t, w) + b  # a plain function, not a Keras model


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scipy: constant gradient norms
def test_clever_l1_is_the_exact_distance_on_a_linear_model(linear):
    _, w, b, x, _ = linear
    exact, _ = _distance(w, b, x[:3], 1)
    model_fn = _plain(w, b)
    scores = attacks.clever_scores(model_fn, x[:3])
    np.testing.assert_allclose(scores, np.minimum(exact, 5.0), rtol=1e-3)
    # beta scales both the logit margin and its gradient: the score does not move
    for beta in (0.01, 7.0, np.array([0.5, 2.0, 30.0]), "njs", "hns"):
        np.testing.assert_allclose(attacks.clever_scores(model_fn, x[:3], beta=beta), scores,
                                   rtol=1e-3, err_msg=str(beta))
    # on probabilities it moves, and a tiny beta linearises the softmax back to the logits
    soft = attacks.clever_scores(model_fn, x[:3], output="probabilities")
    assert np.all(np.abs(soft / scores - 1) > 0.01)
    tiny = attacks.clever_scores(model_fn, x[:3], output="probabilities", beta=1e-3)
    np.testing.assert_allclose(tiny, scores, rtol=1e-2)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_clever_seed_repeats_and_leaves_numpy_alone(linear):
    """A ReLU model, so that the sampled gradients differ and the seed matters."""
    _, w, b, x, _ = linear
    hidden = np.random.default_rng(3).normal(size=(D, 16)).astype(np.float32)
    head = np.random.default_rng(4).normal(size=(16, K)).astype(np.float32)

    def relu_net(t):
        return tf.matmul(tf.nn.relu(tf.matmul(t - 0.5, hidden)), head)

    np.random.seed(99)
    expected_next = np.random.random()
    np.random.seed(99)
    first = attacks.clever_scores(relu_net, x[:2], nb_batches=10, seed=5)
    assert np.random.random() == expected_next  # the global state was restored
    again = attacks.clever_scores(relu_net, x[:2], nb_batches=10, seed=5)
    np.testing.assert_array_equal(first, again)
    assert np.all((first > 0) & (first <= 5.0))


@pytest.mark.parametrize("names", [
    ["deepfool"],
    pytest.param(["deepfool", "bba"], marks=pytest.mark.slow),  # BBA: test above, ~10 s more
])
def test_catalog_runs_deepfool_and_bba_through_evaluate(linear, names):
    model, w, b, x, y = linear
    exact, _ = _distance(w, b, x, np.inf)
    eps = [float(np.quantile(exact, 0.3)), float(np.quantile(exact, 0.7))]
    report = evaluation.evaluate(model, x, y, eps=eps, attacks=names,
                                 mode="standalone", batch_size=N, run_diagnostics=False,
                                 progress=False)
    assert report["clean_accuracy"] == 1.0
    for result, radius in zip(report["results"], eps):
        rows = {row["name"]: row for row in result["attacks"]}
        assert set(rows) == set(names)
        for row in rows.values():
            assert "foolbox's default budget" in row["budget"]
            assert row["max_linf"] is None or row["max_linf"] <= radius * (1 + 1e-5)
            # no attack beats the exact distance
            assert row["accuracy"] >= np.mean(exact > radius) - 1e-12
        # DeepFool is exact up to its overshoot
        assert rows["deepfool"]["accuracy"] <= np.mean(exact * 1.03 + 1e-3 > radius) + 1e-12
        assert result["robust_accuracy"] == min(r["accuracy"] for r in rows.values())
    low, high = report["results"]
    assert 0.0 < high["robust_accuracy"] < low["robust_accuracy"] < 1.0


def test_bad_arguments_are_refused_before_any_work(linear):
    model, _, _, x, y = linear
    with pytest.raises(ValueError, match="norm must be np.inf or 2"):
        attacks.deepfool(model, x, y, 0.1, norm=1)
    with pytest.raises(ValueError, match="norm must be np.inf or 2"):
        attacks.brendel_bethge(model, x, y, 0.1, norm=0)
    with pytest.raises(ValueError, match="eps must be a finite number >= 0, got -0.1"):
        attacks.deepfool(model, x, y, -0.1)
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        attacks.brendel_bethge(model, x, y, -1.0)
    with pytest.raises(ValueError, match="candidates must be an int >= 2"):
        attacks.deepfool(model, x, y, 0.1, candidates=1)
    with pytest.raises(ValueError, match="clip_min < clip_max"):
        attacks.deepfool(model, x, y, 0.1, clip_min=None, clip_max=None)
    with pytest.raises(ValueError, match="outside clip_min"):
        attacks.deepfool(model, x + 1.0, y, 0.1)
    with pytest.raises(TypeError, match="init_attack must be a foolbox MinimizationAttack"):
        attacks.brendel_bethge(model, x, y, 0.1, init_attack=lambda t: t)
    with pytest.raises(ValueError, match="norm must be one of 1, 2 or np.inf"):
        attacks.clever_scores(model, x, norm=3)
    with pytest.raises(ValueError, match="beta must be a number > 0, one per example"):
        attacks.clever_scores(model, x, beta="cold")
    with pytest.raises(ValueError, match="beta holds 2 values for a batch of 8"):
        attacks.clever_scores(model, x, beta=[1.0, 2.0])
    with pytest.raises(ValueError, match="beta must be finite and > 0"):
        attacks.clever_scores(model, x, beta=np.zeros(N))
    with pytest.raises(ValueError, match="output must be one of"):
        attacks.clever_scores(model, x, output="softmax")
    with pytest.raises(ValueError, match="nb_classes=3, but the model returns 4"):
        attacks.clever_scores(model, x, nb_classes=3)
    with pytest.raises(ValueError, match="radius must be a finite number > 0"):
        attacks.clever_scores(model, x, radius=0.0)


def test_missing_peer_library_names_the_extra(linear, monkeypatch):
    model, _, _, x, y = linear
    monkeypatch.setitem(sys.modules, "foolbox", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install -e "\.\[bench\]"'):
        attacks.deepfool(model, x, y, 0.1)
    with pytest.raises(ImportError, match=r"Attack 'bba' needs foolbox, which is not installed"):
        catalog.check_attack_names(["pgd", "bba"], "linf")
    with pytest.raises(ImportError, match="bench"):  # refused before any attack runs
        evaluation.evaluate(model, x, y, eps=0.1, attacks=["fgsm", "deepfool"],
                            run_diagnostics=False, progress=False)
    monkeypatch.setitem(sys.modules, "art", None)
    with pytest.raises(ImportError, match="clever_scores needs adversarial-robustness-toolbox"):
        attacks.clever_scores(model, x[:1])
    assert peers.BENCH_HINT == 'pip install -e ".[bench]"'


def test_robust_at_reads_every_radius_from_one_minimum_norm_run():
    """An example is robust at eps when the attack found nothing or went further than eps
    (a distance at eps up to float32 rounding counts as inside), and it was correct."""
    from tfbnn.attacks.peers import robust_at

    fooled = [True, True, True, False, True]
    distance = [1 / 255, 4 / 255 + 5e-7, 8 / 255, 0.5, 0.05]
    assert robust_at(fooled, distance, 1 / 255).tolist() == [False, True, True, True, True]
    assert robust_at(fooled, distance, 4 / 255).tolist() == [False, False, True, True, True]
    assert robust_at(fooled, distance, 8 / 255).tolist() == [False, False, False, True, True]
    clean = [True, True, True, False, True]
    assert robust_at(fooled, distance, 8 / 255, clean).tolist() == [False] * 4 + [True]
    # a run on the first k examples only (BBA's bba_n) is scored on those k
    assert robust_at(fooled[:2], distance[:2], 1 / 255, clean).tolist() == [False, True]
    with pytest.raises(ValueError, match="fooled has shape \\(2,\\) and distance \\(3,\\)"):
        robust_at([True, False], [0.1, 0.2, 0.3], 0.1)
