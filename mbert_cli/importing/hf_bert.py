"""Hugging Face BERT-family names (transformers `models/bert/modeling_bert.py`) -> tf-models BertEncoderV2.

Module tree of `BertModel` (+ `BertForPreTraining`'s `cls` heads), `bert.` prefix or none
(sentence-transformers saves the bare `BertModel`):
    embeddings.{word,position,token_type}_embeddings.weight, embeddings.LayerNorm.{weight,bias}
    encoder.layer.N.attention.self.{query,key,value}.{weight,bias}   Linear [out, in]
    encoder.layer.N.attention.output.{dense,LayerNorm}.{weight,bias}
    encoder.layer.N.intermediate.dense, encoder.layer.N.output.{dense,LayerNorm}
    pooler.dense.{weight,bias}                                       (optional)
    cls.predictions.transform.{dense,LayerNorm}, cls.predictions.bias, cls.predictions.decoder.weight (tied)
    cls.seq_relationship.{weight,bias}                               (NSP)
"""

from __future__ import annotations

from mbert_cli.config.encoder import EncoderConfig
from mbert_cli.importing.mapping import (
    ATTN_OUT,
    HF_IGNORABLE,
    HF_MLM_BIAS,
    HF_MLM_TRANSFORM,
    QKV,
    QKV_BIAS,
    TRANSPOSE,
    Entry,
)

PREFIX = "bert."


def strip_prefix(tensors: dict) -> tuple[dict, str]:
    """Drops the `bert.` prefix of BertForPreTraining/BertModel-with-heads files; old gamma/beta names -> weight/bias."""
    prefix = PREFIX if any(k.startswith(PREFIX) for k in tensors) else ""
    out = {}
    for name, value in tensors.items():
        key = name[len(prefix):] if prefix and name.startswith(prefix) else name
        if ".LayerNorm." in key:  # original BERT ports name LayerNorm parameters gamma/beta
            key = key.replace(".LayerNorm.gamma", ".LayerNorm.weight").replace(".LayerNorm.beta", ".LayerNorm.bias")
        out[key] = value
    return out, prefix


def looks_like(tensors: dict) -> bool:
    names, _ = strip_prefix(dict.fromkeys(tensors))
    return "embeddings.word_embeddings.weight" in names and any(".attention.self.query." in k for k in names)


def encoder_entries(cfg: EncoderConfig, with_pooler: bool) -> list[Entry]:
    """The encoder's name map (every BertEncoderV2 variable except, without a source pooler, the pooler)."""
    e = [Entry("embeddings.word_embeddings.weight", "encoder/word_embeddings/embeddings"),
         Entry("embeddings.position_embeddings.weight", "encoder/position_embedding/embeddings"),
         Entry("embeddings.token_type_embeddings.weight", "encoder/type_embeddings/embeddings"),
         Entry("embeddings.LayerNorm.weight", "encoder/embeddings/layer_norm/gamma"),
         Entry("embeddings.LayerNorm.bias", "encoder/embeddings/layer_norm/beta")]
    for i in range(cfg.num_layers):
        src, dst = f"encoder.layer.{i}.", f"encoder/transformer/layer_{i}/"
        for part in ("query", "key", "value"):
            e += [Entry(f"{src}attention.self.{part}.weight", f"{dst}self_attention/{part}/kernel", QKV),
                  Entry(f"{src}attention.self.{part}.bias", f"{dst}self_attention/{part}/bias", QKV_BIAS)]
        e += [Entry(f"{src}attention.output.dense.weight", f"{dst}self_attention/attention_output/kernel", ATTN_OUT),
              Entry(f"{src}attention.output.dense.bias", f"{dst}self_attention/attention_output/bias"),
              Entry(f"{src}attention.output.LayerNorm.weight", f"{dst}self_attention_layer_norm/gamma"),
              Entry(f"{src}attention.output.LayerNorm.bias", f"{dst}self_attention_layer_norm/beta"),
              Entry(f"{src}intermediate.dense.weight", f"{dst}intermediate/kernel", TRANSPOSE),
              Entry(f"{src}intermediate.dense.bias", f"{dst}intermediate/bias"),
              Entry(f"{src}output.dense.weight", f"{dst}output/kernel", TRANSPOSE),
              Entry(f"{src}output.dense.bias", f"{dst}output/bias"),
              Entry(f"{src}output.LayerNorm.weight", f"{dst}output_layer_norm/gamma"),
              Entry(f"{src}output.LayerNorm.bias", f"{dst}output_layer_norm/beta")]
    if with_pooler:
        e += [Entry("pooler.dense.weight", "encoder/pooler_transform/kernel", TRANSPOSE),
              Entry("pooler.dense.bias", "encoder/pooler_transform/bias")]
    return e


MLM_ENTRIES = [*HF_MLM_TRANSFORM, HF_MLM_BIAS]
IGNORABLE = HF_IGNORABLE
