"""Models = encoder + heads: pre-training (MLM + NSP), classification, span extraction.

The MLM head of a MobileBERT encoder is tf-models-official's `MobileBertMaskedLM`, which
ties its output matrix to the token embedding (plus extra rows for the part of the hidden
width the 128-d embedding does not cover), as the paper does; BERT uses the plain tied
`MaskedLM`. Head layers have fixed names so checkpoints map by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import tf_keras
from official.nlp.modeling import layers, models, networks

from mbert_cli.config.encoder import EncoderConfig
from mbert_cli.modeling.encoders import INPUT_DTYPES, build_encoder
from mbert_cli.modeling.pooling import MaskedMeanPooling

NSP_HEAD = "next_sentence"
MLM_HEAD = "masked_lm"
CLASSIFIER_HEAD = "classifier"
SPAN_HEAD = "span_labeler"


@dataclass
class PretrainingModel:
    """The pre-training model and its parts (encoder and heads), for training code."""

    model: Any  # tf_keras.Model: inputs dict -> outputs dict (mlm_logits, next_sentence, encoder outputs)
    encoder: Any
    masked_lm: Any
    nsp_head: Any


def build_pretraining_model(cfg: EncoderConfig, name: str = "pretrainer") -> PretrainingModel:
    """Encoder + MLM head + NSP head, outputs keyed `mlm_logits` and `next_sentence`."""
    encoder = build_encoder(cfg)
    init = tf_keras.initializers.TruncatedNormal(stddev=cfg.initializer_range)
    if cfg.kind == "mobilebert":
        masked_lm = layers.MobileBertMaskedLM(
            embedding_table=encoder.get_embedding_table(), activation=_activation(cfg.mlm_activation),
            initializer=init, output="logits", name=MLM_HEAD)
    else:
        masked_lm = layers.MaskedLM(
            embedding_table=encoder.get_embedding_table(), activation=_activation(cfg.mlm_activation),
            initializer=init, output="logits", name=MLM_HEAD)
    nsp = layers.ClassificationHead(inner_dim=cfg.hidden_size, num_classes=2,
                                    activation="tanh", initializer=init, name=NSP_HEAD)
    model = models.BertPretrainerV2(encoder_network=encoder, customized_masked_lm=masked_lm,
                                    classification_heads=[nsp], name=name)
    return PretrainingModel(model=model, encoder=encoder, masked_lm=masked_lm, nsp_head=nsp)


def build_classifier(cfg: EncoderConfig, num_classes: int, dropout: float = 0.1, encoder=None):
    """Encoder + classification head; outputs {'logits': [batch, num_classes]}.

    The head reads the pooled [CLS] vector, or with `classifier_pooling='mean'` the mean of
    the unpadded tokens' final vectors.
    """
    encoder = encoder if encoder is not None else build_encoder(cfg)
    head = layers.ClassificationHead(
        inner_dim=0, num_classes=num_classes, dropout_rate=dropout,
        initializer=tf_keras.initializers.TruncatedNormal(stddev=cfg.initializer_range),
        name=CLASSIFIER_HEAD)
    inputs = keras_inputs()
    outputs = encoder(inputs)
    if cfg.classifier_pooling == "mean":
        logits = head(MaskedMeanPooling(name="masked_mean_pooling")(outputs["sequence_output"], inputs["input_mask"]))
    else:
        # inner_dim=0: the head is dropout + dense on the pooled [CLS] vector (MobileBERT's
        # pooled output is the raw first token; BERT's passes its tanh pooler).
        logits = head(outputs["pooled_output"])
    return tf_keras.Model(inputs=inputs, outputs={"logits": logits}, name="classifier_model"), encoder


def build_span_labeler(cfg: EncoderConfig, encoder=None):
    """Encoder + SQuAD span head; outputs {'start_logits', 'end_logits'}: [batch, seq]."""
    encoder = encoder if encoder is not None else build_encoder(cfg)
    head = networks.SpanLabeling(
        input_width=cfg.hidden_size, output="logits",
        initializer=tf_keras.initializers.TruncatedNormal(stddev=cfg.initializer_range),
        name=SPAN_HEAD)
    inputs = keras_inputs()
    outputs = encoder(inputs)
    start, end = head(outputs["sequence_output"])
    return tf_keras.Model(inputs=inputs, outputs={"start_logits": start, "end_logits": end},
                          name="span_model"), encoder


def keras_inputs() -> dict:
    """Symbolic Keras inputs of every mbert model (`encoders.INPUT_DTYPES`), any sequence length."""
    return {name: tf_keras.Input(shape=(None,), dtype=dtype, name=name) for name, dtype in INPUT_DTYPES.items()}


def _activation(name: str):
    """tf_keras' activation by name ('gelu' is the exact erf form, as HF's 'gelu')."""
    return tf_keras.activations.get(name)
