"""Encoder parameter counts from the config alone, so `mbert presets` needs no TensorFlow.

The formulas follow tf-models-official's layer construction; `tests/modeling` checks them
against the built Keras models for every preset.
"""

from __future__ import annotations

from mbert_cli.config.encoder import EncoderConfig


def _dense(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def encoder_parameter_count(cfg: EncoderConfig) -> int:
    """Parameters of the encoder network (including the pooler when it has one)."""
    if cfg.kind == "bert":
        return _bert_count(cfg)
    return _mobilebert_count(cfg)


def _mobilebert_count(cfg: EncoderConfig) -> int:
    h, b, e = cfg.hidden_size, cfg.intra_bottleneck_size, cfg.embedding_size
    norm = 2  # NoNorm and LayerNorm both carry a scale and a shift per feature
    total = cfg.vocab_size * e + cfg.type_vocab_size * h + cfg.max_sequence_length * h
    total += _dense(3 * e, h) + norm * h  # trigram projection + embedding norm
    if cfg.use_bottleneck_attention:
        q_in = k_in = v_in = b
    elif cfg.key_query_shared_bottleneck:
        q_in = k_in = b
        v_in = h
    else:
        q_in = k_in = v_in = h
    layer = _dense(h, b) + norm * b  # bottleneck input
    if cfg.key_query_shared_bottleneck and not cfg.use_bottleneck_attention:
        layer += _dense(h, b) + norm * b  # shared key/query bottleneck (unused, so unbuilt, otherwise)
    layer += _dense(q_in, b) + _dense(k_in, b) + _dense(v_in, b) + _dense(b, b) + norm * b
    layer += cfg.num_feedforward_networks * (_dense(b, cfg.intermediate_size)
                                             + _dense(cfg.intermediate_size, b) + norm * b)
    layer += _dense(b, h) + norm * h  # bottleneck output
    total += cfg.num_layers * layer
    if cfg.classifier_activation:
        total += _dense(h, h)
    return total


def _bert_count(cfg: EncoderConfig) -> int:
    h, i = cfg.hidden_size, cfg.intermediate_size
    total = (cfg.vocab_size + cfg.max_sequence_length + cfg.type_vocab_size) * h + 2 * h
    layer = 4 * _dense(h, h) + 2 * h + _dense(h, i) + _dense(i, h) + 2 * h
    total += cfg.num_layers * layer + _dense(h, h)  # BertEncoder always has its pooler
    return total


def encoder_flops(cfg: EncoderConfig, seq_len: int) -> int:
    """Forward FLOPs of one sequence of `seq_len` tokens through the encoder (2 per multiply-add).

    Counts the matrix products, which are nearly all of the work: every dense kernel once
    per token, plus the attention scores (Q K^T) and the weighted sum (P V), 2 * seq^2 *
    attention width each. Norms, softmax, activations, embedding lookups and the pooler
    (one token) are left out. `tests/config` checks the dense part against the built model's kernels.
    """
    if cfg.kind == "bert":
        h, i = cfg.hidden_size, cfg.intermediate_size
        per_token = (cfg.embedding_size * h if cfg.embedding_size != h else 0) + cfg.num_layers * (4 * h * h + 2 * h * i)
        width = h
    else:
        h, b, e = cfg.hidden_size, cfg.intra_bottleneck_size, cfg.embedding_size
        if cfg.use_bottleneck_attention:
            qkv = 3 * b * b
        elif cfg.key_query_shared_bottleneck:
            qkv = h * b + 2 * b * b + h * b  # shared key/query bottleneck, then q, k from it and v from h
        else:
            qkv = 3 * h * b
        layer = h * b + qkv + b * b + cfg.num_feedforward_networks * 2 * b * cfg.intermediate_size + b * h
        per_token = 3 * e * h + cfg.num_layers * layer
        width = b
    attention = cfg.num_layers * 2 * seq_len * seq_len * width
    return 2 * (seq_len * per_token + attention)
