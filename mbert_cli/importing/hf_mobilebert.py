"""Hugging Face MobileBERT names (transformers `models/mobilebert/modeling_mobilebert.py`) -> tf-models MobileBERTEncoder.

Module tree of `MobileBertForPreTraining` (the `google/mobilebert-uncased` architecture):
    mobilebert.embeddings.{word,position,token_type}_embeddings.weight
    mobilebert.embeddings.embedding_transformation.{weight,bias}      Linear [hidden, 3*embedding]
    mobilebert.embeddings.LayerNorm.{weight,bias}                     NoNorm keeps the LayerNorm name
    mobilebert.encoder.layer.N.attention.self.{query,key,value}       Linear [out, in]
    mobilebert.encoder.layer.N.attention.output.{dense,LayerNorm}
    mobilebert.encoder.layer.N.intermediate.dense, .output.{dense,LayerNorm}   (the last FFN)
    mobilebert.encoder.layer.N.output.bottleneck.{dense,LayerNorm}
    mobilebert.encoder.layer.N.bottleneck.input.{dense,LayerNorm}
    mobilebert.encoder.layer.N.bottleneck.attention.{dense,LayerNorm}  (key_query_shared_bottleneck)
    mobilebert.encoder.layer.N.ffn.J.{intermediate.dense,output.dense,output.LayerNorm}  J < F-1
    mobilebert.pooler.dense.{weight,bias}                             only with classifier_activation
    cls.predictions.transform.{dense,LayerNorm}, cls.predictions.dense.weight [hidden-embedding, vocab],
    cls.predictions.bias, cls.predictions.decoder.weight (tied), cls.seq_relationship.{weight,bias}
tf-models' layer names are the ones `tf2_model_checkpoint_converter.py` converts the TF1
checkpoint to (HF's forward and tf-models' `MobileBertTransformer.call` run the same ops in
the same order: bottlenecks, attention + norm(residual), FFNs, last FFN, output bottleneck).
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

PREFIX = "mobilebert."


def looks_like(tensors) -> bool:
    return any(k.startswith(PREFIX + "embeddings.embedding_transformation") or
               k.startswith("embeddings.embedding_transformation") for k in tensors)


def strip_prefix(tensors: dict) -> tuple[dict, str]:
    prefix = PREFIX if any(k.startswith(PREFIX) for k in tensors) else ""
    return {(k[len(prefix):] if prefix and k.startswith(prefix) else k): v for k, v in tensors.items()}, prefix


def _dense(src: str, dst: str) -> list[Entry]:
    return [Entry(f"{src}.weight", f"{dst}/kernel", TRANSPOSE), Entry(f"{src}.bias", f"{dst}/bias")]


def _norm(src: str, dst: str) -> list[Entry]:
    return [Entry(f"{src}.weight", f"{dst}/gamma"), Entry(f"{src}.bias", f"{dst}/beta")]


def encoder_entries(cfg: EncoderConfig) -> list[Entry]:
    """Every MobileBERTEncoder variable, by its HF name (without the `mobilebert.` prefix)."""
    emb = "encoder/mobile_bert_embedding/"
    e = [Entry("embeddings.word_embeddings.weight", emb + "word_embedding/embeddings"),
         Entry("embeddings.position_embeddings.weight", emb + "position_embedding/embeddings"),
         Entry("embeddings.token_type_embeddings.weight", emb + "type_embedding/embeddings"),
         *_dense("embeddings.embedding_transformation", emb + "embedding_projection"),
         *_norm("embeddings.LayerNorm", emb + "embedding_norm")]
    last = cfg.num_feedforward_networks - 1
    for i in range(cfg.num_layers):
        src, dst = f"encoder.layer.{i}.", f"encoder/transformer_layer_{i}/"
        for part in ("query", "key", "value"):
            e += [Entry(f"{src}attention.self.{part}.weight", f"{dst}attention/{part}/kernel", QKV),
                  Entry(f"{src}attention.self.{part}.bias", f"{dst}attention/{part}/bias", QKV_BIAS)]
        e += [Entry(f"{src}attention.output.dense.weight", f"{dst}attention/attention_output/kernel", ATTN_OUT),
              Entry(f"{src}attention.output.dense.bias", f"{dst}attention/attention_output/bias"),
              *_norm(f"{src}attention.output.LayerNorm", f"{dst}attention/norm"),
              *_dense(f"{src}bottleneck.input.dense", f"{dst}bottleneck_input/dense"),
              *_norm(f"{src}bottleneck.input.LayerNorm", f"{dst}bottleneck_input/norm")]
        if cfg.key_query_shared_bottleneck:
            e += [*_dense(f"{src}bottleneck.attention.dense", f"{dst}kq_shared_bottleneck/dense"),
                  *_norm(f"{src}bottleneck.attention.LayerNorm", f"{dst}kq_shared_bottleneck/norm")]
        for j in range(last):
            e += [*_dense(f"{src}ffn.{j}.intermediate.dense", f"{dst}ffn_layer_{j}/intermediate_dense"),
                  *_dense(f"{src}ffn.{j}.output.dense", f"{dst}ffn_layer_{j}/output_dense"),
                  *_norm(f"{src}ffn.{j}.output.LayerNorm", f"{dst}ffn_layer_{j}/norm")]
        e += [*_dense(f"{src}intermediate.dense", f"{dst}ffn_layer_{last}/intermediate_dense"),
              *_dense(f"{src}output.dense", f"{dst}ffn_layer_{last}/output_dense"),
              *_norm(f"{src}output.LayerNorm", f"{dst}ffn_layer_{last}/norm"),
              *_dense(f"{src}output.bottleneck.dense", f"{dst}bottleneck_output/dense"),
              *_norm(f"{src}output.bottleneck.LayerNorm", f"{dst}bottleneck_output/norm")]
    if cfg.classifier_activation:
        e += _dense("pooler.dense", "encoder/pooler")
    return e


MLM_ENTRIES = [
    *HF_MLM_TRANSFORM,
    # HF: Linear(vocab, hidden - embedding) -> weight [hidden - embedding, vocab]; tf-models
    # concatenates extra_output_weights [vocab, hidden - embedding] to the embedding table.
    Entry("cls.predictions.dense.weight", "masked_lm/extra_output_weights", TRANSPOSE),
    HF_MLM_BIAS,
]
IGNORABLE = HF_IGNORABLE
