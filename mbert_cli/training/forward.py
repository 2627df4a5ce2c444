"""The MobileBERT encoder run layer by layer, stopping early (what layer-wise transfer compares)."""

from __future__ import annotations

from official.nlp.modeling.layers import SelfAttentionMask

from mbert_cli.modeling.encoders import embedding_layer, transformer_layers


def encoder_forward(encoder, batch: dict, upto: int, training: bool):
    """Embedding + transformer layers 0..upto of a MobileBERT encoder (MG's sub-encoder).

    Returns (hidden states [embedding, layer 0..upto], attention probabilities per layer),
    the same tensors the full encoder returns, without running the layers above `upto`.
    """
    mask = SelfAttentionMask()(batch["input_mask"], batch["input_mask"])
    x = embedding_layer(encoder)(batch["input_word_ids"], batch["input_type_ids"], training=training)
    hidden, attention = [x], []
    for layer in transformer_layers(encoder)[:upto + 1]:
        x, scores = layer(x, mask, return_attention_scores=True, training=training)
        hidden.append(x)
        attention.append(scores)
    return hidden, attention


def bert_encoder_forward(encoder, batch: dict, upto: int, training: bool):
    """Embedding + transformer layers 0..upto of a tf-models `BertEncoderV2` (a BERT-kind teacher).

    The same steps as `BertEncoderV2.call` (tf-models-official 2.x), written out because
    the encoder has no way to stop after layer `upto` and does not return its embedding
    output; `tests/training/test_bert_teacher.py` checks it against the full encoder.
    Returns (hidden states [embedding, layer 0..upto], attention probabilities per layer).
    The encoder must be built with `return_attention_scores=True` (mbert's always is).
    """
    word_ids, type_ids = batch["input_word_ids"], batch["input_type_ids"]
    x = encoder._get_embeddings(word_ids, type_ids, None, None, None)
    x = encoder._embedding_norm_layer(x)
    x = encoder._embedding_dropout(x, training=training)
    if encoder._embedding_projection is not None:
        x = encoder._embedding_projection(x)
    mask = encoder._attention_mask_layer(x, batch["input_mask"])
    hidden, attention = [x], []
    for layer in encoder._transformer_layers[:upto + 1]:
        x, scores = layer([x, mask], training=training)
        hidden.append(x)
        attention.append(scores)
    return hidden, attention
