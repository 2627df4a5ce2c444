"""Distillation and pre-training losses, each a pure TensorFlow function.

Every function takes tensors, returns a scalar (or a dict of scalars), and is tested
against a numpy computation in `tests/training/test_losses.py`. Where this differs from
the reference implementations (google-research/mobilebert "GR", tensorflow/models
`official/projects/mobilebert/distillation.py` "MG") the docstring says so and why.

Masks: `input_mask` is float32 [batch, seq], 1 for real tokens and 0 for padding. Padded
positions never contribute to any loss (GR/MG average over them too, which makes the loss
depend on how much padding a batch happens to have).
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

_EPS = 1e-12


@dataclass(frozen=True)
class TransferWeights:
    """Weights of the layer-wise transfer terms (defaults from MG: 1, 100, 5000, 5)."""

    attention: float = 1.0
    hidden_mse: float = 100.0
    beta: float = 5000.0
    gamma: float = 5.0


def _masked_mean(values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean of `values` [batch, seq] over positions where `mask` is 1."""
    mask = tf.cast(mask, values.dtype)
    return tf.math.divide_no_nan(tf.reduce_sum(values * mask), tf.reduce_sum(mask))


def hidden_mse(teacher: tf.Tensor, student: tf.Tensor, input_mask: tf.Tensor) -> tf.Tensor:
    """Mean over real positions of mean_h (s - t)^2 for one layer's hidden states [batch, seq, hidden]."""
    mse = tf.reduce_mean(tf.math.squared_difference(tf.cast(student, tf.float32), tf.cast(teacher, tf.float32)),
                         axis=-1)
    return _masked_mean(mse, input_mask)


def feature_map_losses(teacher: tf.Tensor, student: tf.Tensor, input_mask: tf.Tensor) -> dict[str, tf.Tensor]:
    """Feature-map transfer for ONE layer: MSE plus mean (beta) and variance (gamma) matching.

    Args:
      teacher: teacher hidden states of the mapped layer, [batch, seq, hidden].
      student: student hidden states of the layer being trained, same shape.
      input_mask: [batch, seq] float, 1 = real token.

    Returns:
      {'hidden_mse', 'beta', 'gamma'} unweighted scalars:
      hidden_mse = mean over real positions of mean_h (s - t)^2;
      beta = mean over real positions of (mean_h s - mean_h t)^2;
      gamma = mean over real positions of |var_h s - var_h t|.

    Differences from the references: called per layer (GR takes the statistics over the
    whole list of layers at once, mixing layers the student is not training); no frozen
    LayerNorm before the MSE (MG normalises both maps first, which hides exactly the
    scale/shift mismatch that the beta/gamma terms are there to fix); padded positions
    excluded.
    """
    teacher = tf.cast(teacher, tf.float32)
    student = tf.cast(student, tf.float32)
    t_mean, t_var = tf.nn.moments(teacher, axes=[-1])
    s_mean, s_var = tf.nn.moments(student, axes=[-1])
    return {
        "hidden_mse": hidden_mse(teacher, student, input_mask),
        "beta": _masked_mean(tf.math.squared_difference(s_mean, t_mean), input_mask),
        "gamma": _masked_mean(tf.abs(s_var - t_var), input_mask),
    }


def attention_kl(teacher_probs: tf.Tensor, student_probs: tf.Tensor, input_mask: tf.Tensor) -> tf.Tensor:
    """KL(teacher || student) between per-head attention distributions of one layer.

    Args:
      teacher_probs: [batch, heads, query, key] attention PROBABILITIES (rows sum to 1),
        as tf-models-official's encoders return them.
      student_probs: same shape, probabilities.
      input_mask: [batch, seq] float; rows of padded queries are left out.

    Returns:
      sum_k t log(t / s), averaged over heads and real query rows.

    Differences from MG: no softmax here, because the inputs already are probabilities
    (MG applies softmax/log-softmax again, which flattens both distributions towards
    uniform); a true KL with the teacher-entropy term (MG's is a cross-entropy, whose
    minimum is the teacher's entropy, not 0, so the reported value does not show how close
    the student is); averaged over real query rows only (MG includes padded rows).
    """
    teacher_probs = tf.cast(teacher_probs, tf.float32)
    student_probs = tf.cast(student_probs, tf.float32)
    # xlogy gives 0 for 0*log(0): keys masked out by the teacher contribute nothing.
    per_key = tf.math.xlogy(teacher_probs, teacher_probs) - tf.math.xlogy(
        teacher_probs, tf.maximum(student_probs, _EPS))
    per_row = tf.reduce_sum(per_key, axis=-1)  # [batch, heads, query]
    rows = tf.cast(input_mask, tf.float32)[:, None, :] * tf.ones_like(per_row)
    return tf.math.divide_no_nan(tf.reduce_sum(per_row * rows), tf.reduce_sum(rows))


def group_heads(teacher_probs: tf.Tensor, student_heads: int) -> tf.Tensor:
    """Teacher attention [batch, T, query, key] -> [batch, S, query, key] for a student with S heads.

    Student head j learns from the mean of teacher heads j*g .. j*g+g-1 (g = T / S,
    contiguous groups). A mean of distributions is a distribution, so no renormalisation.
    Equal head counts pass through unchanged; `compat.check_bert_teacher` rejects
    counts that do not divide before any model is built.
    """
    teacher_heads = teacher_probs.shape[1]
    if teacher_heads == student_heads:
        return teacher_probs
    g = teacher_heads // student_heads
    shape = tf.shape(teacher_probs)
    grouped = tf.reshape(teacher_probs, [shape[0], student_heads, g, shape[2], shape[3]])
    return tf.reduce_mean(grouped, axis=2)


def layer_transfer_loss(teacher_hidden: tf.Tensor, student_hidden: tf.Tensor,
                        teacher_attention: tf.Tensor, student_attention: tf.Tensor,
                        input_mask: tf.Tensor, weights: TransferWeights) -> dict[str, tf.Tensor]:
    """Weighted layer-wise transfer loss of one layer, plus each unweighted term for logging.

    MG divides this by (stage + 1); we do not: every layer's stage gets the same loss
    scale, so the learning rate means the same thing in every stage.
    """
    terms = feature_map_losses(teacher_hidden, student_hidden, input_mask)
    terms["attention_kl"] = attention_kl(teacher_attention, student_attention, input_mask)
    terms["transfer"] = (weights.hidden_mse * terms["hidden_mse"] + weights.beta * terms["beta"]
                         + weights.gamma * terms["gamma"] + weights.attention * terms["attention_kl"])
    return terms


def masked_lm_loss(logits: tf.Tensor, label_ids: tf.Tensor, label_weights: tf.Tensor) -> tf.Tensor:
    """Cross-entropy of the masked tokens, weighted by `masked_lm_weights` (0 = padding slot).

    Args:
      logits: [batch, predictions, vocab]; label_ids: [batch, predictions] int;
      label_weights: [batch, predictions] float.
    """
    logits = tf.cast(logits, tf.float32)
    per_slot = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(label_ids, tf.int32),
                                                              logits=logits)
    weights = tf.cast(label_weights, tf.float32)
    return tf.math.divide_no_nan(tf.reduce_sum(per_slot * weights), tf.reduce_sum(weights))


def kd_cross_entropy(student_logits: tf.Tensor, teacher_logits: tf.Tensor, label_weights: tf.Tensor,
                     temperature: float = 1.0) -> tf.Tensor:
    """Cross-entropy of the student's MLM distribution against the teacher's, at temperature T.

    -sum_v softmax(t/T) log softmax(s/T), weighted mean over masked slots, times T^2
    (Hinton et al.: keeps gradient size independent of T; T = 1, the paper's value, is
    unaffected). A cross-entropy, not a KL, on purpose: it differs from the KL by the
    teacher's entropy, a constant for the student, and is what the paper specifies.
    """
    t = tf.cast(temperature, tf.float32)
    teacher_probs = tf.nn.softmax(tf.cast(teacher_logits, tf.float32) / t, axis=-1)
    student_logp = tf.nn.log_softmax(tf.cast(student_logits, tf.float32) / t, axis=-1)
    per_slot = -tf.reduce_sum(teacher_probs * student_logp, axis=-1)
    weights = tf.cast(label_weights, tf.float32)
    return t * t * tf.math.divide_no_nan(tf.reduce_sum(per_slot * weights), tf.reduce_sum(weights))


def next_sentence_loss(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Mean cross-entropy of the next-sentence head ([batch, 2] logits; labels [batch] or [batch, 1])."""
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=tf.cast(logits, tf.float32)))


def classification_kd(student_logits: tf.Tensor, teacher_logits: tf.Tensor, temperature: float = 1.0) -> tf.Tensor:
    """Task distillation: cross-entropy against a fine-tuned teacher's class distribution (times T^2)."""
    weights = tf.ones(tf.shape(student_logits)[:1], tf.float32)
    return kd_cross_entropy(student_logits, teacher_logits, weights, temperature)


def masked_lm_accuracy(logits: tf.Tensor, label_ids: tf.Tensor, label_weights: tf.Tensor) -> tf.Tensor:
    """Weighted fraction of masked slots whose argmax is the original token."""
    pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
    hit = tf.cast(tf.equal(pred, tf.cast(label_ids, tf.int32)), tf.float32)
    weights = tf.cast(label_weights, tf.float32)
    return tf.math.divide_no_nan(tf.reduce_sum(hit * weights), tf.reduce_sum(weights))


def pretraining_loss(outputs: dict, batch: dict) -> dict[str, tf.Tensor]:
    """Teacher pre-training: MLM + NSP (the BERT recipe)."""
    mlm = masked_lm_loss(outputs["mlm_logits"], batch["masked_lm_ids"], batch["masked_lm_weights"])
    nsp = next_sentence_loss(outputs["next_sentence"], batch["next_sentence_labels"])
    return {"loss": mlm + nsp, "mlm": mlm, "nsp": nsp,
            "mlm_accuracy": masked_lm_accuracy(outputs["mlm_logits"], batch["masked_lm_ids"],
                                               batch["masked_lm_weights"])}


def distillation_loss(student: dict, teacher: dict, batch: dict, mlm_weight: float = 0.5,
                      temperature: float = 1.0) -> dict[str, tf.Tensor]:
    """Pre-training distillation: a * MLM + (1 - a) * KD + NSP (paper: a = 0.5, T = 1)."""
    mlm = masked_lm_loss(student["mlm_logits"], batch["masked_lm_ids"], batch["masked_lm_weights"])
    kd = kd_cross_entropy(student["mlm_logits"], teacher["mlm_logits"], batch["masked_lm_weights"], temperature)
    nsp = next_sentence_loss(student["next_sentence"], batch["next_sentence_labels"])
    return {"loss": mlm_weight * mlm + (1.0 - mlm_weight) * kd + nsp, "mlm": mlm, "kd": kd, "nsp": nsp,
            "mlm_accuracy": masked_lm_accuracy(student["mlm_logits"], batch["masked_lm_ids"],
                                               batch["masked_lm_weights"])}


def classification_loss(logits: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(mean cross-entropy, accuracy) of a classifier over the rows with a label.

    Rows labelled -1 (`data.transfer_set.UNLABELLED`: transfer-set rows only the teacher
    labels) count for neither; they get the KD term only.
    """
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    labelled = tf.cast(labels >= 0, tf.float32)
    count = tf.maximum(tf.reduce_sum(labelled), 1.0)
    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.maximum(labels, 0),
                                                                 logits=tf.cast(logits, tf.float32))
    hits = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
    return tf.reduce_sum(per_example * labelled) / count, tf.reduce_sum(hits * labelled) / count


def finetune_classification_loss(logits: tf.Tensor, labels: tf.Tensor, teacher_logits: tf.Tensor | None = None,
                                 kd_weight: float = 0.0) -> dict[str, tf.Tensor]:
    """Fine-tuning: cross-entropy; with a fine-tuned teacher's logits, (1 - w) * CE + w * KD."""
    ce, acc = classification_loss(logits, labels)
    terms = {"cross_entropy": ce, "accuracy": acc, "loss": ce}
    if teacher_logits is not None:
        kd = classification_kd(logits, teacher_logits)
        terms.update(kd=kd, loss=(1.0 - kd_weight) * ce + kd_weight * kd)
    return terms


def span_loss(start_logits: tf.Tensor, end_logits: tf.Tensor, start_positions: tf.Tensor,
              end_positions: tf.Tensor) -> dict[str, tf.Tensor]:
    """SQuAD: mean of the start and end cross-entropies over the window's positions ([batch, seq] logits)."""
    start = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(start_positions, tf.int32), logits=tf.cast(start_logits, tf.float32)))
    end = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(end_positions, tf.int32), logits=tf.cast(end_logits, tf.float32)))
    return {"loss": 0.5 * (start + end), "start_loss": start, "end_loss": end}


def output_distillation(student: dict, teacher: dict) -> tf.Tensor:
    """Sum over a model's outputs of a student-to-teacher term: KD for `*logits` outputs
    (`classification_kd`, per row over the last axis), MSE for the others (sequence/pooled)."""
    terms = []
    for name, t in teacher.items():
        s = tf.cast(student[name], tf.float32)
        t = tf.cast(t, tf.float32)
        if name.endswith("logits"):
            terms.append(classification_kd(tf.reshape(s, [-1, tf.shape(s)[-1]]),
                                           tf.reshape(t, [-1, tf.shape(t)[-1]])))
        else:
            terms.append(tf.reduce_mean(tf.math.squared_difference(s, t)))
    return tf.add_n(terms)


def recovery_loss(student_layers: list, teacher_layers: list, student_outputs: dict, teacher_outputs: dict,
                  input_mask: tf.Tensor) -> dict[str, tf.Tensor]:
    """OPT recovery (`training/opt_recovery.py`): a NoNorm/ReLU copy learns its LayerNorm/GELU original back.

    hidden_mse = mean over layers of `hidden_mse` (real tokens only); kd = `output_distillation`;
    loss = hidden_mse + kd.
    """
    hidden = tf.add_n([hidden_mse(t, s, input_mask) for s, t in zip(student_layers, teacher_layers, strict=True)])
    hidden = hidden / len(teacher_layers)
    kd = output_distillation(student_outputs, teacher_outputs)
    return {"loss": hidden + kd, "hidden_mse": hidden, "kd": kd}
