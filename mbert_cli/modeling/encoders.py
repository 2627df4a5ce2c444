"""Encoders built on tf-models-official: MobileBERT (teacher and students) and BERT.

Teacher and student come from the same class and differ only by config, as in
`official/projects/mobilebert`. Every encoder returns the same dict:
`sequence_output`, `pooled_output`, `encoder_outputs` (hidden states, one per layer) and
`attention_scores` (per-layer [batch, heads, query, key] probabilities, post-softmax).
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras
from official.nlp.modeling import networks

from mbert_cli.config.encoder import EncoderConfig

# The TFLite converter turns an int mask into a Cast op that int8 quantization cannot
# handle; tf-models-official recommends a float32 mask, so every mbert model takes one.
INPUT_MASK_DTYPE = "float32"
# Every mbert model's inputs (name -> dtype), the one place they are written.
INPUT_DTYPES = {"input_word_ids": "int32", "input_mask": INPUT_MASK_DTYPE, "input_type_ids": "int32"}
INPUT_NAMES = tuple(INPUT_DTYPES)


def build_encoder(cfg: EncoderConfig, name: str = "encoder"):
    """Builds the Keras encoder network described by `cfg` (tf_keras, not Keras 3)."""
    cfg.validate()
    if cfg.kind == "bert":
        encoder = networks.BertEncoderV2(
            vocab_size=cfg.vocab_size,
            hidden_size=cfg.hidden_size,
            num_layers=cfg.num_layers,
            num_attention_heads=cfg.num_heads,
            max_sequence_length=cfg.max_sequence_length,
            type_vocab_size=cfg.type_vocab_size,
            inner_dim=cfg.intermediate_size,
            inner_activation=_activation(cfg.activation),
            output_dropout=cfg.hidden_dropout,
            attention_dropout=cfg.attention_dropout,
            initializer=tf_keras.initializers.TruncatedNormal(stddev=cfg.initializer_range),
            embedding_width=None if cfg.embedding_size == cfg.hidden_size else cfg.embedding_size,
            return_attention_scores=True,
            name=name,
        )
        _build_with_dummy_batch(encoder)  # subclassed model: weights exist only after a call
        return encoder
    return networks.MobileBERTEncoder(
        word_vocab_size=cfg.vocab_size,
        word_embed_size=cfg.embedding_size,
        type_vocab_size=cfg.type_vocab_size,
        max_sequence_length=cfg.max_sequence_length,
        num_blocks=cfg.num_layers,
        hidden_size=cfg.hidden_size,
        num_attention_heads=cfg.num_heads,
        intermediate_size=cfg.intermediate_size,
        intermediate_act_fn=_activation(cfg.activation),
        hidden_dropout_prob=cfg.hidden_dropout,
        attention_probs_dropout_prob=cfg.attention_dropout,
        intra_bottleneck_size=cfg.intra_bottleneck_size,
        initializer_range=cfg.initializer_range,
        use_bottleneck_attention=cfg.use_bottleneck_attention,
        key_query_shared_bottleneck=cfg.key_query_shared_bottleneck,
        num_feedforward_networks=cfg.num_feedforward_networks,
        normalization_type=cfg.normalization_type,
        classifier_activation=cfg.classifier_activation,
        input_mask_dtype=INPUT_MASK_DTYPE,
        name=name,
    )


def _build_with_dummy_batch(encoder) -> None:
    ones = tf.ones((1, 2), tf.int32)
    encoder({"input_word_ids": ones, "input_mask": tf.ones((1, 2), INPUT_MASK_DTYPE),
             "input_type_ids": tf.zeros((1, 2), tf.int32)})


def _activation(name: str):
    """'gelu' is the exact (erf) GELU, as in the MobileBERT teacher; 'relu' as in OPT."""
    return tf_keras.activations.get(name)


def transformer_layers(encoder) -> list:
    """The encoder's transformer blocks in order (stable: used for freezing and mapping)."""
    layers = getattr(encoder, "_transformer_layers", None)
    if layers is None:
        raise TypeError(f"{type(encoder).__name__} does not expose its transformer layers")
    return list(layers)


def embedding_layer(encoder):
    """The encoder's embedding block (word + position + type embeddings and projection)."""
    layer = getattr(encoder, "embedding_layer", None) or getattr(encoder, "_embedding_layer", None)
    if layer is None:
        raise TypeError(f"{type(encoder).__name__} does not expose its embedding layer")
    return layer
