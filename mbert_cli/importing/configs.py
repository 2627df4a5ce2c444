"""A checkpoint's own config (HF `config.json`, google-research `bert_config.json`) -> mbert EncoderConfig.

Only what mbert's encoders can reproduce exactly is accepted; anything else is one error
naming the field, because a silently different activation or epsilon breaks parity
without any visible failure.
"""

from __future__ import annotations

import json
from pathlib import Path

from mbert_cli.config.encoder import EncoderConfig
from mbert_cli.errors import MbertError

# HF "gelu" is the exact erf form (transformers' ACT2FN), which is what mbert's 'gelu'
# builds (tf_keras gelu, approximate=False); the tanh forms would need another activation.
ACTIVATIONS = {"gelu": "gelu", "relu": "relu"}
# tf-models hard-codes LayerNorm epsilon 1e-12 (BertEncoderV2 embeddings and blocks,
# MobileBERT's layer_norm); another value would change every output slightly.
TF_MODELS_EPSILON = 1e-12
# An mbert run's MLM head may apply gelu over a relu encoder (mbert's presets do); HF's config
# has no field for that, so `mbert export-hf` adds this key (transformers keeps unknown keys
# as attributes and ignores them: its head applies hidden_act).
MLM_ACT_KEY = "mbert_mlm_hidden_act"


def read_json(path: Path) -> dict:
    """A JSON config file as a dict, or one error naming the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MbertError(f"{path} not found", hint="the checkpoint's config file must sit beside it "
                                                    "(config.json for Hugging Face, bert_config.json for TF)") from None
    except (OSError, ValueError) as err:
        raise MbertError(f"{path} is not valid JSON: {err}", hint="restore the file from the checkpoint's release") from None
    if not isinstance(data, dict):
        raise MbertError(f"{path} is not a JSON object", hint="restore the file from the checkpoint's release")
    return data


def architecture(cfg: dict, label: str) -> str:
    """'bert' or 'mobilebert' from `model_type` (HF) or the MobileBERT-only keys (google-research)."""
    model_type = cfg.get("model_type")
    if model_type is None:
        return "mobilebert" if "intra_bottleneck_size" in cfg or "num_feedforward_networks" in cfg else "bert"
    if model_type in ("bert", "mobilebert"):
        return model_type
    raise MbertError(f"{label} model_type {model_type!r} is not a BERT or MobileBERT model",
                     hint="mbert imports BERT-family (model_type 'bert') and MobileBERT checkpoints")


def _get(cfg: dict, key: str, label: str, default=None, kind=int):
    if key not in cfg:
        if default is None:
            raise MbertError(f"{label} lacks {key!r}", hint="restore the checkpoint's own config file")
        return default
    value = cfg[key]
    try:
        if kind is bool:
            if not isinstance(value, bool):
                raise TypeError
            return value
        if kind is int and (isinstance(value, bool) or int(value) != value):
            raise TypeError
        return kind(value)
    except (TypeError, ValueError):
        raise MbertError(f"{label} {key} = {value!r} is not a valid {kind.__name__}",
                         hint="restore the checkpoint's own config file") from None


def _activation(cfg: dict, label: str) -> str:
    act = cfg.get("hidden_act", "gelu")
    if act not in ACTIVATIONS:
        raise MbertError(f"{label} hidden_act {act!r} is not supported",
                         hint="mbert builds 'relu' or exact (erf) 'gelu'; tanh-approximate or other activations "
                              "would not reproduce the checkpoint")
    return ACTIVATIONS[act]


def _mlm_activation(cfg: dict, label: str) -> str:
    """The MLM head's activation: the source's hidden_act, which every published head applies, unless
    `MLM_ACT_KEY` (written by `mbert export-hf` for mbert runs whose head differs) says otherwise."""
    if MLM_ACT_KEY not in cfg:
        return _activation(cfg, label)
    act = cfg[MLM_ACT_KEY]
    if act not in ACTIVATIONS:
        raise MbertError(f"{label} {MLM_ACT_KEY} {act!r} is not supported",
                         hint=f"mbert's MLM head applies one of: {', '.join(ACTIVATIONS)} (remove the key to use hidden_act)")
    return ACTIVATIONS[act]


def _epsilon(cfg: dict, label: str) -> None:
    eps = float(cfg.get("layer_norm_eps", TF_MODELS_EPSILON))
    if abs(eps - TF_MODELS_EPSILON) > 1e-15:
        raise MbertError(f"{label} layer_norm_eps {eps} is not supported",
                         hint="tf-models' encoders use LayerNorm epsilon 1e-12; this checkpoint needs another one")


def bert_encoder_config(cfg: dict, label: str, has_pooler: bool) -> EncoderConfig:
    """HF BertConfig -> EncoderConfig(kind='bert') for tf-models' BertEncoderV2."""
    _epsilon(cfg, label)
    pos_type = cfg.get("position_embedding_type", "absolute")
    if pos_type != "absolute":
        raise MbertError(f"{label} position_embedding_type {pos_type!r} is not supported",
                         hint="BertEncoderV2 has absolute position embeddings only")
    hidden = _get(cfg, "hidden_size", label)
    enc = EncoderConfig(
        kind="bert", vocab_size=_get(cfg, "vocab_size", label), embedding_size=hidden, hidden_size=hidden,
        num_layers=_get(cfg, "num_hidden_layers", label), num_heads=_get(cfg, "num_attention_heads", label),
        intermediate_size=_get(cfg, "intermediate_size", label), num_feedforward_networks=1,
        intra_bottleneck_size=hidden, key_query_shared_bottleneck=False, normalization_type="layer_norm",
        activation=_activation(cfg, label),
        hidden_dropout=_get(cfg, "hidden_dropout_prob", label, 0.1, float),
        attention_dropout=_get(cfg, "attention_probs_dropout_prob", label, 0.1, float),
        max_sequence_length=_get(cfg, "max_position_embeddings", label),
        type_vocab_size=_get(cfg, "type_vocab_size", label, 2),
        initializer_range=_get(cfg, "initializer_range", label, 0.02, float),
        classifier_activation=has_pooler, mlm_activation=_mlm_activation(cfg, label))
    _validate(enc, label)
    return enc


def mobilebert_encoder_config(cfg: dict, label: str) -> EncoderConfig:
    """HF MobileBertConfig or google-research bert_config.json -> EncoderConfig(kind='mobilebert')."""
    norm = cfg.get("normalization_type", "no_norm")
    if norm not in ("no_norm", "layer_norm"):
        raise MbertError(f"{label} normalization_type {norm!r} is not supported",
                         hint="MobileBERTEncoder has 'no_norm' (NoNorm) or 'layer_norm'")
    if norm == "layer_norm":
        _epsilon(cfg, label)
    for key in ("trigram_input", "use_bottleneck"):
        if cfg.get(key, True) is not True:
            raise MbertError(f"{label} {key} = {cfg[key]!r} is not supported",
                             hint="tf-models' MobileBERTEncoder always uses the trigram input and the bottleneck")
    hidden = _get(cfg, "hidden_size", label)
    enc = EncoderConfig(
        kind="mobilebert", vocab_size=_get(cfg, "vocab_size", label),
        embedding_size=_get(cfg, "embedding_size", label, hidden), hidden_size=hidden,
        num_layers=_get(cfg, "num_hidden_layers", label), num_heads=_get(cfg, "num_attention_heads", label),
        intermediate_size=_get(cfg, "intermediate_size", label),
        num_feedforward_networks=_get(cfg, "num_feedforward_networks", label, 1),
        intra_bottleneck_size=_get(cfg, "intra_bottleneck_size", label, hidden),
        use_bottleneck_attention=_get(cfg, "use_bottleneck_attention", label, False, bool),
        key_query_shared_bottleneck=_get(cfg, "key_query_shared_bottleneck", label, False, bool),
        normalization_type=norm, activation=_activation(cfg, label),
        hidden_dropout=_get(cfg, "hidden_dropout_prob", label, 0.0, float),
        attention_dropout=_get(cfg, "attention_probs_dropout_prob", label, 0.1, float),
        max_sequence_length=_get(cfg, "max_position_embeddings", label, 512),
        type_vocab_size=_get(cfg, "type_vocab_size", label, 2),
        initializer_range=_get(cfg, "initializer_range", label, 0.02, float),
        classifier_activation=_get(cfg, "classifier_activation", label, True, bool),
        mlm_activation=_mlm_activation(cfg, label))
    _validate(enc, label)
    return enc


def _validate(enc: EncoderConfig, label: str) -> None:
    try:
        enc.validate()
    except MbertError as err:
        raise MbertError(f"{label} describes a model mbert cannot build: {err.message}",
                         hint="check the config file; it must be the checkpoint's own") from None


def hf_config_dict(enc: EncoderConfig) -> dict:
    """EncoderConfig(kind='mobilebert') -> HF MobileBertConfig fields (for export to the HF layout)."""
    return {
        "architectures": ["MobileBertForPreTraining"], "model_type": "mobilebert",
        "vocab_size": enc.vocab_size, "embedding_size": enc.embedding_size, "hidden_size": enc.hidden_size,
        "num_hidden_layers": enc.num_layers, "num_attention_heads": enc.num_heads,
        "intermediate_size": enc.intermediate_size, "num_feedforward_networks": enc.num_feedforward_networks,
        "intra_bottleneck_size": enc.intra_bottleneck_size, "true_hidden_size": enc.intra_bottleneck_size,
        "use_bottleneck": True, "use_bottleneck_attention": enc.use_bottleneck_attention,
        "key_query_shared_bottleneck": enc.key_query_shared_bottleneck, "trigram_input": True,
        "normalization_type": enc.normalization_type, "hidden_act": enc.activation,
        "hidden_dropout_prob": enc.hidden_dropout, "attention_probs_dropout_prob": enc.attention_dropout,
        "max_position_embeddings": enc.max_sequence_length, "type_vocab_size": enc.type_vocab_size,
        "initializer_range": enc.initializer_range, "layer_norm_eps": TF_MODELS_EPSILON,
        "classifier_activation": enc.classifier_activation, "pad_token_id": 0,
        **mlm_activation_entry(enc),
    }


def mlm_activation_entry(enc: EncoderConfig) -> dict:
    """`{MLM_ACT_KEY: ...}` when the run's MLM head does not apply hidden_act (only mbert reads the key)."""
    return {} if enc.mlm_activation == enc.activation else {MLM_ACT_KEY: enc.mlm_activation}
