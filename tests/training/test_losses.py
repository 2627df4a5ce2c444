"""Each loss against a numpy computation on fixed small tensors."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from mbert_cli.training import losses

RNG = np.random.default_rng(0)
B, S, H, HEADS, P, V = 2, 5, 6, 2, 3, 7
MASK = np.array([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], np.float32)  # padding at the end


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _attention_probs(scale=1.0):
    """Per-head attention probabilities with padded keys at 0, as the encoder returns them."""
    logits = RNG.normal(size=(B, HEADS, S, S)).astype(np.float32) * scale
    logits = logits + (1.0 - MASK[:, None, None, :]) * -1e9
    return _softmax(logits).astype(np.float32)


def _np_feature(t, s, mask):
    real = mask.astype(bool)
    mse = ((s - t) ** 2).mean(-1)[real].mean()
    beta = ((s.mean(-1) - t.mean(-1)) ** 2)[real].mean()
    gamma = np.abs(s.var(-1) - t.var(-1))[real].mean()
    return mse, beta, gamma


def _np_kl(t, s, mask):
    rows = []
    for b in range(B):
        for h in range(HEADS):
            for q in range(S):
                if not mask[b, q]:
                    continue
                p, r = t[b, h, q], s[b, h, q]
                nz = p > 0
                rows.append(np.sum(p[nz] * (np.log(p[nz]) - np.log(r[nz]))))
    return np.mean(rows)


def test_feature_map_losses_match_numpy_and_ignore_padding():
    t = RNG.normal(size=(B, S, H)).astype(np.float32)
    s = (RNG.normal(size=(B, S, H)) * 2 + 0.5).astype(np.float32)
    got = losses.feature_map_losses(tf.constant(t), tf.constant(s), tf.constant(MASK))
    mse, beta, gamma = _np_feature(t, s, MASK)
    np.testing.assert_allclose(got["hidden_mse"].numpy(), mse, rtol=1e-5)
    np.testing.assert_allclose(got["beta"].numpy(), beta, rtol=1e-5)
    np.testing.assert_allclose(got["gamma"].numpy(), gamma, rtol=1e-5)
    # Garbage in padded positions changes nothing.
    s2 = s.copy()
    s2[MASK == 0] = 1e3
    got2 = losses.feature_map_losses(tf.constant(t), tf.constant(s2), tf.constant(MASK))
    np.testing.assert_allclose(got2["hidden_mse"].numpy(), mse, rtol=1e-5)


def test_feature_terms_are_per_layer_not_over_all_layers():
    """GR pools statistics over a list of layers; ours is one layer: shifting another layer is invisible."""
    t = RNG.normal(size=(B, S, H)).astype(np.float32)
    s = t + 0.1
    one = losses.feature_map_losses(t, s, MASK)
    np.testing.assert_allclose(one["beta"].numpy(), 0.01, rtol=1e-4)
    np.testing.assert_allclose(one["gamma"].numpy(), 0.0, atol=1e-6)


def test_attention_kl_matches_numpy_true_kl():
    t, s = _attention_probs(), _attention_probs(2.0)
    got = losses.attention_kl(tf.constant(t), tf.constant(s), tf.constant(MASK)).numpy()
    np.testing.assert_allclose(got, _np_kl(t, s, MASK), rtol=1e-5)


def test_attention_kl_is_zero_for_identical_distributions():
    """A cross-entropy (MG's "KL", no teacher-entropy term) would give the entropy here, not 0."""
    t = _attention_probs()
    assert abs(losses.attention_kl(t, t, MASK).numpy()) < 1e-6
    cross_entropy = np.mean([-(t[b, h, q][t[b, h, q] > 0] * np.log(t[b, h, q][t[b, h, q] > 0])).sum()
                             for b in range(B) for h in range(HEADS) for q in range(S) if MASK[b, q]])
    assert cross_entropy > 0.3


def test_attention_kl_catches_a_second_softmax():
    """Softmax applied again to probabilities (MG's fault) gives a clearly different value."""
    t, s = _attention_probs(3.0), _attention_probs(0.5)
    expected = _np_kl(t, s, MASK)
    ours = losses.attention_kl(t, s, MASK).numpy()
    double = _np_kl(_softmax(t), _softmax(s), MASK)  # what a second softmax computes
    np.testing.assert_allclose(ours, expected, rtol=1e-5)
    assert abs(double - expected) > 0.2 * expected


def test_attention_kl_ignores_padded_query_rows():
    t, s = _attention_probs(), _attention_probs(2.0)
    s2 = s.copy()
    s2[1, :, 3, :] = _softmax(RNG.normal(size=(HEADS, S)) * 5)  # padded query row of example 1
    np.testing.assert_allclose(losses.attention_kl(t, s2, MASK).numpy(), losses.attention_kl(t, s, MASK).numpy(),
                               rtol=1e-6)


def test_masked_lm_loss_uses_weights():
    logits = RNG.normal(size=(B, P, V)).astype(np.float32)
    ids = RNG.integers(0, V, size=(B, P)).astype(np.int32)
    w = np.array([[1, 1, 0], [1, 0, 0]], np.float32)
    logp = np.log(_softmax(logits))
    nll = -np.take_along_axis(logp, ids[..., None], -1)[..., 0]
    expected = (nll * w).sum() / w.sum()
    np.testing.assert_allclose(losses.masked_lm_loss(logits, ids, w).numpy(), expected, rtol=1e-5)
    acc = ((logits.argmax(-1) == ids) * w).sum() / w.sum()
    np.testing.assert_allclose(losses.masked_lm_accuracy(logits, ids, w).numpy(), acc, rtol=1e-6)


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_kd_cross_entropy_matches_numpy(temperature):
    s = RNG.normal(size=(B, P, V)).astype(np.float32)
    t = RNG.normal(size=(B, P, V)).astype(np.float32) * 3
    w = np.array([[1, 0, 1], [1, 1, 0]], np.float32)
    pt = _softmax(t / temperature)
    ls = np.log(_softmax(s / temperature))
    expected = temperature ** 2 * ((-(pt * ls).sum(-1)) * w).sum() / w.sum()
    np.testing.assert_allclose(losses.kd_cross_entropy(s, t, w, temperature).numpy(), expected, rtol=1e-5)


def test_next_sentence_loss_and_distillation_mix():
    nsp = RNG.normal(size=(B, 2)).astype(np.float32)
    labels = np.array([[0], [1]], np.int32)
    expected_nsp = -np.mean(np.log(_softmax(nsp))[[0, 1], [0, 1]])
    np.testing.assert_allclose(losses.next_sentence_loss(nsp, labels).numpy(), expected_nsp, rtol=1e-5)

    s = RNG.normal(size=(B, P, V)).astype(np.float32)
    t = RNG.normal(size=(B, P, V)).astype(np.float32)
    batch = {"masked_lm_ids": np.zeros((B, P), np.int32), "masked_lm_weights": np.ones((B, P), np.float32),
             "next_sentence_labels": labels}
    out = losses.distillation_loss({"mlm_logits": s, "next_sentence": nsp}, {"mlm_logits": t}, batch, 0.5, 1.0)
    np.testing.assert_allclose(out["loss"].numpy(),
                               0.5 * out["mlm"].numpy() + 0.5 * out["kd"].numpy() + expected_nsp, rtol=1e-5)


def test_layer_transfer_loss_weights():
    t = RNG.normal(size=(B, S, H)).astype(np.float32)
    s = RNG.normal(size=(B, S, H)).astype(np.float32)
    ta, sa = _attention_probs(), _attention_probs(2.0)
    w = losses.TransferWeights(attention=1.0, hidden_mse=100.0, beta=5000.0, gamma=5.0)
    out = losses.layer_transfer_loss(t, s, ta, sa, MASK, w)
    mse, beta, gamma = _np_feature(t, s, MASK)
    expected = 100 * mse + 5000 * beta + 5 * gamma + _np_kl(ta, sa, MASK)
    np.testing.assert_allclose(out["transfer"].numpy(), expected, rtol=1e-5)


def _np_ce(logits, labels):
    logp = np.log(_softmax(logits.astype(np.float64)))
    return -logp[np.arange(len(labels)), labels]


def test_classification_loss_counts_only_labelled_rows():
    logits = RNG.normal(size=(4, 3)).astype(np.float32)
    labels = np.array([2, -1, 0, 1], np.int32)  # -1: a transfer-set row the teacher alone labels
    ce, acc = losses.classification_loss(tf.constant(logits), tf.constant(labels))
    real = labels >= 0
    np.testing.assert_allclose(ce.numpy(), _np_ce(logits[real], labels[real]).mean(), rtol=1e-5)
    np.testing.assert_allclose(acc.numpy(), np.mean(logits[real].argmax(-1) == labels[real]), rtol=1e-6)


def test_finetune_classification_loss_mixes_cross_entropy_and_kd():
    logits = RNG.normal(size=(3, 2)).astype(np.float32)
    teacher = RNG.normal(size=(3, 2)).astype(np.float32)
    labels = np.array([1, 0, 1], np.int32)
    plain = losses.finetune_classification_loss(tf.constant(logits), tf.constant(labels))
    assert set(plain) == {"loss", "cross_entropy", "accuracy"}
    ce = _np_ce(logits, labels).mean()
    kd = -(_softmax(teacher) * np.log(_softmax(logits))).sum(-1).mean()
    got = losses.finetune_classification_loss(tf.constant(logits), tf.constant(labels), tf.constant(teacher), 0.3)
    np.testing.assert_allclose(got["kd"].numpy(), kd, rtol=1e-5)
    np.testing.assert_allclose(got["loss"].numpy(), 0.7 * ce + 0.3 * kd, rtol=1e-5)


def test_span_loss_is_the_mean_of_start_and_end_cross_entropy():
    start, end = RNG.normal(size=(2, S)).astype(np.float32), RNG.normal(size=(2, S)).astype(np.float32)
    sp, ep = np.array([1, 3], np.int32), np.array([2, 4], np.int32)
    got = losses.span_loss(tf.constant(start), tf.constant(end), tf.constant(sp), tf.constant(ep))
    a, b = _np_ce(start, sp).mean(), _np_ce(end, ep).mean()
    np.testing.assert_allclose(got["start_loss"].numpy(), a, rtol=1e-5)
    np.testing.assert_allclose(got["end_loss"].numpy(), b, rtol=1e-5)
    np.testing.assert_allclose(got["loss"].numpy(), (a + b) / 2, rtol=1e-5)


def test_recovery_loss_matches_numpy_and_is_zero_for_a_perfect_copy():
    t_layers = [RNG.normal(size=(B, S, H)).astype(np.float32) for _ in range(2)]
    s_layers = [t + RNG.normal(size=t.shape).astype(np.float32) for t in t_layers]
    t_out = {"logits": RNG.normal(size=(B, 3)).astype(np.float32),
             "pooled_output": RNG.normal(size=(B, H)).astype(np.float32)}
    s_out = {k: v + RNG.normal(size=v.shape).astype(np.float32) for k, v in t_out.items()}
    got = losses.recovery_loss([tf.constant(x) for x in s_layers], [tf.constant(x) for x in t_layers],
                               {k: tf.constant(v) for k, v in s_out.items()},
                               {k: tf.constant(v) for k, v in t_out.items()}, tf.constant(MASK))
    hidden = np.mean([_np_feature(t, s, MASK)[0] for s, t in zip(s_layers, t_layers, strict=True)])
    kd = (-(_softmax(t_out["logits"]) * np.log(_softmax(s_out["logits"]))).sum(-1).mean()
          + ((s_out["pooled_output"] - t_out["pooled_output"]) ** 2).mean())
    np.testing.assert_allclose(got["hidden_mse"].numpy(), hidden, rtol=1e-5)
    np.testing.assert_allclose(got["kd"].numpy(), kd, rtol=1e-5)
    np.testing.assert_allclose(got["loss"].numpy(), hidden + kd, rtol=1e-5)
    same = losses.recovery_loss([tf.constant(x) for x in t_layers], [tf.constant(x) for x in t_layers],
                                {"pooled_output": tf.constant(t_out["pooled_output"])},
                                {"pooled_output": tf.constant(t_out["pooled_output"])}, tf.constant(MASK))
    assert float(same["loss"]) == 0.0
