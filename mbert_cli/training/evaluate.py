"""Held-out evaluation: MLM accuracy/perplexity + NSP accuracy, classification accuracy."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import tensorflow as tf

from mbert_cli.data.squad import postprocess_predictions, squad_dataset, squad_metrics
from mbert_cli.data.task_sets import load_squad_splits, squad_windows
from mbert_cli.errors import MbertError
from mbert_cli.modeling.pretrainer import MODEL_INPUTS, PRETRAIN_INPUTS, model_inputs
from mbert_cli.training.checkpoints import default_stage, restore_for_inference
from mbert_cli.training.inputs import classification_data, ensure_pretraining_data, pretraining_dataset


def evaluate_pretraining(model, dataset, max_batches: int = 0) -> dict:
    """MLM accuracy, MLM loss, perplexity = exp(MLM loss), NSP accuracy over `dataset`.

    Token-weighted over all masked slots (masked_lm_weights), not averaged per batch.
    """
    @tf.function
    def batch_stats(batch):
        out = model(model_inputs(batch, PRETRAIN_INPUTS), training=False)
        logits = tf.cast(out["mlm_logits"], tf.float32)
        w = tf.cast(batch["masked_lm_weights"], tf.float32)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=batch["masked_lm_ids"], logits=logits)
        hit = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), batch["masked_lm_ids"]), tf.float32)
        nsp_hit = tf.cast(tf.equal(tf.argmax(out["next_sentence"], -1, output_type=tf.int32),
                                   tf.reshape(batch["next_sentence_labels"], [-1])), tf.float32)
        return tf.reduce_sum(nll * w), tf.reduce_sum(hit * w), tf.reduce_sum(w), tf.reduce_sum(nsp_hit), \
            tf.cast(tf.size(nsp_hit), tf.float32)

    totals = [0.0] * 5
    for i, batch in enumerate(dataset):
        if max_batches and i >= max_batches:
            break
        for j, v in enumerate(batch_stats(batch)):
            totals[j] += float(v)
    nll, hits, weight, nsp_hits, n = totals
    if weight == 0:
        return {"examples": 0}
    loss = nll / weight
    return {"mlm_accuracy": hits / weight, "mlm_loss": loss, "perplexity": math.exp(min(loss, 50.0)),
            "nsp_accuracy": nsp_hits / max(n, 1.0), "examples": int(n)}


def evaluate_heldout(model, data_dir, cfg, batch_size: int, max_batches: int = 0) -> dict:
    """`evaluate_pretraining` on the run's held-out pre-training split (teacher, student, `mbert eval`)."""
    ds = pretraining_dataset(data_dir, cfg, "eval", batch_size, training=False)
    return evaluate_pretraining(model, ds, max_batches)


def evaluate_classification(model, dataset) -> dict:
    """Accuracy and mean cross-entropy of a classifier over (features, labels) batches."""
    @tf.function(reduce_retracing=True)  # length-grouped batches (data.group_by_length) vary in width
    def batch_stats(features, labels):
        logits = tf.cast(model(model_inputs(features, MODEL_INPUTS), training=False)["logits"], tf.float32)
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        hit = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
        return tf.reduce_sum(nll), tf.reduce_sum(hit), tf.cast(tf.size(hit), tf.float32)

    nll = hits = n = 0.0
    for features, labels in dataset:
        a, b, c = batch_stats(features, labels)
        nll, hits, n = nll + float(a), hits + float(b), n + float(c)
    if n == 0:
        return {"examples": 0}
    return {"accuracy": hits / n, "loss": nll / n, "examples": int(n)}


def squad_scores(model, examples, features, batch_size: int = 32) -> dict:
    """EM/F1 (in %) of a span labeler on `examples` (their `features` windows), official normalisation."""
    @tf.function
    def predict(inputs):
        out = model(model_inputs(inputs, MODEL_INPUTS), training=False)
        return out["start_logits"], out["end_logits"]

    starts, ends = [], []
    for inputs in squad_dataset(features, batch_size, training=False):
        s, e = predict(inputs)
        starts.append(s.numpy())
        ends.append(e.numpy())
    predictions = postprocess_predictions(examples, features, np.concatenate(starts), np.concatenate(ends))
    return {**squad_metrics(predictions, examples), "questions": len(examples)}


def evaluate_run(run, stage: str | None = None, *, which: str = "latest", data: str | None = None,
                 max_batches: int = 0) -> dict:
    """Metrics of one stage of a run on its held-out split, as a JSON-ready dict."""
    if which not in ("latest", "best"):
        raise MbertError(f"--which must be latest or best, got {which!r}", hint="use --which latest")
    run = Path(run)
    stage = stage or default_stage(run)
    cfg, model, step = restore_for_inference(run, stage, which)
    out = {"run": str(run), "stage": stage, "checkpoint": which, "step": step}
    if stage in ("teacher", "student"):
        data_dir = ensure_pretraining_data(run, cfg, say=lambda *_: None)
        out.update(split="eval", **evaluate_heldout(model, data_dir, cfg, 32, max_batches))
    elif stage == "finetune-classification":
        _, validation, labels, make = classification_data(cfg, data, cfg.finetune.max_examples)
        if len(labels) != cfg.finetune.num_classes:
            raise MbertError(f"the data has {len(labels)} classes, the model {cfg.finetune.num_classes}",
                             hint="evaluate on the data the model was fine-tuned on")
        out.update(split="validation", **evaluate_classification(model, make(validation, 32, False)))
    elif stage == "finetune-squad":
        _, dev = load_squad_splits(cfg, data, run)
        out.update(split="dev", **squad_scores(model, dev, squad_windows(cfg, dev)))
    return out
