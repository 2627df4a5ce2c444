"""Writes small checkpoints from random weights under the real published names, for the import tests.

The key lists are written here from the source module trees, independently of mbert's
name maps: transformers `BertForPreTraining` (`modeling_bert.py`) and
`MobileBertForPreTraining` (`modeling_mobilebert.py`, the `google/mobilebert-uncased`
architecture), each module's parameters in torch's `nn.Linear` [out, in] layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# google/mobilebert-uncased's config.json values (transformers MobileBertConfig defaults).
MOBILEBERT_UNCASED = dict(
    model_type="mobilebert", architectures=["MobileBertForPreTraining"], vocab_size=30522, embedding_size=128,
    hidden_size=512, num_hidden_layers=24, num_attention_heads=4, intermediate_size=512, hidden_act="relu",
    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2,
    initializer_range=0.02, layer_norm_eps=1e-12, pad_token_id=0, trigram_input=True, use_bottleneck=True,
    intra_bottleneck_size=128, use_bottleneck_attention=False, key_query_shared_bottleneck=True,
    num_feedforward_networks=4, normalization_type="no_norm", classifier_activation=False)
TINY_MOBILEBERT = dict(MOBILEBERT_UNCASED, vocab_size=40, embedding_size=8, hidden_size=24, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=20, intra_bottleneck_size=12, max_position_embeddings=16)
TINY_BERT = dict(model_type="bert", architectures=["BertForPreTraining"], vocab_size=40, hidden_size=16,
                 num_hidden_layers=2, num_attention_heads=2, intermediate_size=24, hidden_act="gelu",
                 hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, max_position_embeddings=16,
                 type_vocab_size=2, initializer_range=0.02, layer_norm_eps=1e-12, position_embedding_type="absolute")


def _lin(shapes: dict, name: str, out: int, inp: int, bias: bool = True) -> None:
    shapes[f"{name}.weight"] = (out, inp)
    if bias:
        shapes[f"{name}.bias"] = (out,)


def _norm(shapes: dict, name: str, width: int) -> None:
    shapes[f"{name}.weight"] = (width,)
    shapes[f"{name}.bias"] = (width,)


def bert_shapes(c: dict, prefix: str = "bert.", heads: bool = True, pooler: bool = True) -> dict:
    """BertForPreTraining's state_dict keys and shapes (tied cls.predictions.decoder.weight omitted, as safetensors does)."""
    h, i, s = c["hidden_size"], c["intermediate_size"], {}
    s[f"{prefix}embeddings.word_embeddings.weight"] = (c["vocab_size"], h)
    s[f"{prefix}embeddings.position_embeddings.weight"] = (c["max_position_embeddings"], h)
    s[f"{prefix}embeddings.token_type_embeddings.weight"] = (c["type_vocab_size"], h)
    _norm(s, f"{prefix}embeddings.LayerNorm", h)
    for n in range(c["num_hidden_layers"]):
        layer = f"{prefix}encoder.layer.{n}."
        for part in ("query", "key", "value"):
            _lin(s, f"{layer}attention.self.{part}", h, h)
        _lin(s, f"{layer}attention.output.dense", h, h)
        _norm(s, f"{layer}attention.output.LayerNorm", h)
        _lin(s, f"{layer}intermediate.dense", i, h)
        _lin(s, f"{layer}output.dense", h, i)
        _norm(s, f"{layer}output.LayerNorm", h)
    if pooler:
        _lin(s, f"{prefix}pooler.dense", h, h)
    if heads:
        _lin(s, "cls.predictions.transform.dense", h, h)
        _norm(s, "cls.predictions.transform.LayerNorm", h)
        s["cls.predictions.bias"] = (c["vocab_size"],)
        _lin(s, "cls.seq_relationship", 2, h)
    return s


def mobilebert_shapes(c: dict, heads: bool = True) -> dict:
    """MobileBertForPreTraining's state_dict keys and shapes (tied decoder.weight omitted)."""
    h, b, e, i, v = (c["hidden_size"], c["intra_bottleneck_size"], c["embedding_size"], c["intermediate_size"],
                     c["vocab_size"])
    s, p = {}, "mobilebert."
    s[f"{p}embeddings.word_embeddings.weight"] = (v, e)
    s[f"{p}embeddings.position_embeddings.weight"] = (c["max_position_embeddings"], h)
    s[f"{p}embeddings.token_type_embeddings.weight"] = (c["type_vocab_size"], h)
    _lin(s, f"{p}embeddings.embedding_transformation", h, 3 * e)
    _norm(s, f"{p}embeddings.LayerNorm", h)
    for n in range(c["num_hidden_layers"]):
        layer = f"{p}encoder.layer.{n}."
        _lin(s, f"{layer}attention.self.query", b, b)
        _lin(s, f"{layer}attention.self.key", b, b)
        _lin(s, f"{layer}attention.self.value", b, b if c["use_bottleneck_attention"] else h)
        _lin(s, f"{layer}attention.output.dense", b, b)
        _norm(s, f"{layer}attention.output.LayerNorm", b)
        _lin(s, f"{layer}intermediate.dense", i, b)
        _lin(s, f"{layer}output.dense", b, i)
        _norm(s, f"{layer}output.LayerNorm", b)
        _lin(s, f"{layer}output.bottleneck.dense", h, b)
        _norm(s, f"{layer}output.bottleneck.LayerNorm", h)
        _lin(s, f"{layer}bottleneck.input.dense", b, h)
        _norm(s, f"{layer}bottleneck.input.LayerNorm", b)
        if c["key_query_shared_bottleneck"]:
            _lin(s, f"{layer}bottleneck.attention.dense", b, h)
            _norm(s, f"{layer}bottleneck.attention.LayerNorm", b)
        for j in range(c["num_feedforward_networks"] - 1):
            _lin(s, f"{layer}ffn.{j}.intermediate.dense", i, b)
            _lin(s, f"{layer}ffn.{j}.output.dense", b, i)
            _norm(s, f"{layer}ffn.{j}.output.LayerNorm", b)
    if c["classifier_activation"]:
        _lin(s, f"{p}pooler.dense", h, h)
    if heads:
        _lin(s, "cls.predictions.transform.dense", h, h)
        _norm(s, "cls.predictions.transform.LayerNorm", h)
        s["cls.predictions.dense.weight"] = (h - e, v)
        s["cls.predictions.bias"] = (v,)
        _lin(s, "cls.seq_relationship", 2, h)
    return s


def random_weights(shapes: dict, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for k, shape in shapes.items():
        if k.endswith("LayerNorm.weight"):
            out[k] = (1.0 + 0.2 * rng.standard_normal(shape)).astype(np.float32)
        else:
            out[k] = (0.2 * rng.standard_normal(shape)).astype(np.float32)
    return out


def write_vocab(path: Path, size: int) -> None:
    path.write_text("\n".join(SPECIALS + [f"w{i}" for i in range(size - len(SPECIALS))]) + "\n", encoding="utf-8")


def write_hf(folder: Path, config: dict, weights: dict, vocab_size: int | None = None) -> Path:
    """model.safetensors + config.json + vocab.txt in `folder`."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    write_vocab(folder / "vocab.txt", vocab_size or config["vocab_size"])
    return folder


def batch(vocab: int, seq: int = 10, seed: int = 1):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, (3, seq)).astype(np.int32)
    ids[:, 0] = 2
    mask = np.ones((3, seq), np.float32)
    mask[1, 7:] = 0
    mask[2, 4:] = 0
    ids[mask == 0] = 0
    types = np.zeros_like(ids)
    types[0, 5:] = 1
    return ids, mask, types
