"""The MobileBERT encoder run layer by layer, stopping early (what layer-wise transfer compares)."""

from __future__ import annotations


def encoder_forward(encoder, batch: dict, upto: int, training: bool):
    """Embedding + transformer layers 0..upto of a MobileBERT encoder (MG's sub-encoder).

    Returns (hidden states [embedding, layer 0..upto], attention probabilities per layer),
    the same tensors the full encoder returns, without running the layers above `upto`.
    """
    from official.nlp.modeling.layers import SelfAttentionMask  # noqa: PLC0415

    from mbert_cli.modeling.encoders import embedding_layer, transformer_layers  # noqa: PLC0415

    mask = SelfAttentionMask()(batch["input_mask"], batch["input_mask"])
    x = embedding_layer(encoder)(batch["input_word_ids"], batch["input_type_ids"], training=training)
    hidden, attention = [x], []
    for layer in transformer_layers(encoder)[:upto + 1]:
        x, scores = layer(x, mask, return_attention_scores=True, training=training)
        hidden.append(x)
        attention.append(scores)
    return hidden, attention
