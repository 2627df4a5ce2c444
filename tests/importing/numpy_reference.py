"""Independent numpy forward passes over Hugging Face-named weights, written from transformers'
`modeling_bert.py` (BertModel) and `modeling_mobilebert.py` (MobileBertModel) forward code.

They share nothing with mbert's importer or tf-models: the parity tests compare the two.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf


def gelu(x):
    """transformers' "gelu": the exact erf form."""
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


ACT = {"gelu": gelu, "relu": lambda x: np.maximum(x, 0.0)}


def layer_norm(x, w, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def linear(x, p, name):
    return x @ p[f"{name}.weight"].T + p[f"{name}.bias"]


def attention(q, k, v, mask, heads):
    """Multi-head scaled dot-product attention; mask [B, L] of 1/0 (HF's additive large negative)."""
    b, n, _ = q.shape

    def split(t):
        return t.reshape(b, t.shape[1], heads, -1).transpose(0, 2, 1, 3)

    q, k, v = split(q), split(k), split(v)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
    scores = scores + (1.0 - mask[:, None, None, :]) * np.finfo(np.float64).min / 2
    scores = scores - scores.max(-1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(-1, keepdims=True)
    ctx = probs @ v
    return ctx.transpose(0, 2, 1, 3).reshape(b, n, -1)


def bert_forward(p: dict, cfg: dict, ids, mask, types) -> np.ndarray:
    """BertModel's last_hidden_state (names without the `bert.` prefix), float64."""
    p = {k: np.asarray(v, np.float64) for k, v in p.items() if k != "embeddings.position_ids"}
    eps, heads, act = cfg.get("layer_norm_eps", 1e-12), cfg["num_attention_heads"], ACT[cfg["hidden_act"]]
    x = (p["embeddings.word_embeddings.weight"][ids] + p["embeddings.position_embeddings.weight"][np.arange(ids.shape[1])]
         + p["embeddings.token_type_embeddings.weight"][types])
    x = layer_norm(x, p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"], eps)
    for i in range(cfg["num_hidden_layers"]):
        s = f"encoder.layer.{i}."
        ctx = attention(linear(x, p, s + "attention.self.query"), linear(x, p, s + "attention.self.key"),
                        linear(x, p, s + "attention.self.value"), mask, heads)
        a = layer_norm(linear(ctx, p, s + "attention.output.dense") + x,
                       p[s + "attention.output.LayerNorm.weight"], p[s + "attention.output.LayerNorm.bias"], eps)
        h = act(linear(a, p, s + "intermediate.dense"))
        x = layer_norm(linear(h, p, s + "output.dense") + a, p[s + "output.LayerNorm.weight"],
                       p[s + "output.LayerNorm.bias"], eps)
    return x


def mean_pool(seq, mask):
    m = mask[..., None].astype(np.float64)
    return (seq * m).sum(1) / m.sum(1)


def mobilebert_forward(p: dict, cfg: dict, ids, mask, types) -> np.ndarray:
    """MobileBertModel's last_hidden_state (names without the `mobilebert.` prefix), float64."""
    p = {k: np.asarray(v, np.float64) for k, v in p.items() if k != "embeddings.position_ids"}
    heads, act = cfg["num_attention_heads"], ACT[cfg["hidden_act"]]
    no_norm = cfg["normalization_type"] == "no_norm"

    def norm(x, name):
        w, b = p[f"{name}.weight"], p[f"{name}.bias"]
        return x * w + b if no_norm else layer_norm(x, w, b)

    e = p["embeddings.word_embeddings.weight"][ids]
    zeros = np.zeros_like(e[:, :1])
    trigram = np.concatenate([np.concatenate([e[:, 1:], zeros], 1), e, np.concatenate([zeros, e[:, :-1]], 1)], -1)
    x = (linear(trigram, p, "embeddings.embedding_transformation")
         + p["embeddings.position_embeddings.weight"][np.arange(ids.shape[1])]
         + p["embeddings.token_type_embeddings.weight"][types])
    x = norm(x, "embeddings.LayerNorm")
    for i in range(cfg["num_hidden_layers"]):
        s = f"encoder.layer.{i}."
        layer_input = norm(linear(x, p, s + "bottleneck.input.dense"), s + "bottleneck.input.LayerNorm")
        if cfg["use_bottleneck_attention"]:
            q = k = v = layer_input
        elif cfg["key_query_shared_bottleneck"]:
            q = k = norm(linear(x, p, s + "bottleneck.attention.dense"), s + "bottleneck.attention.LayerNorm")
            v = x
        else:
            q = k = v = x
        ctx = attention(linear(q, p, s + "attention.self.query"), linear(k, p, s + "attention.self.key"),
                        linear(v, p, s + "attention.self.value"), mask, heads)
        a = norm(linear(ctx, p, s + "attention.output.dense") + layer_input, s + "attention.output.LayerNorm")
        for j in range(cfg["num_feedforward_networks"] - 1):
            f = f"{s}ffn.{j}."
            a = norm(linear(act(linear(a, p, f + "intermediate.dense")), p, f + "output.dense") + a,
                     f + "output.LayerNorm")
        out = norm(linear(act(linear(a, p, s + "intermediate.dense")), p, s + "output.dense") + a,
                   s + "output.LayerNorm")
        x = norm(linear(out, p, s + "output.bottleneck.dense") + x, s + "output.bottleneck.LayerNorm")
    return x
