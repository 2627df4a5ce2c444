"""Encoder (and head) configuration: the numbers that decide a model's architecture.

Teacher, student and the BERT baseline differ only by these values, as in
tf-models-official: `normalization_type` and `activation` select LayerNorm/GELU (teacher,
"w/o OPT") or NoNorm/ReLU (the OPT student).
"""

from __future__ import annotations

from dataclasses import dataclass

from mbert_cli.config.fields import check_settings, setting
from mbert_cli.errors import MbertError


@dataclass
class EncoderConfig:
    """Arguments of `MobileBERTEncoder` (kind='mobilebert') or `BertEncoder` (kind='bert')."""

    kind: str = setting("mobilebert", choices=("mobilebert", "bert"))
    vocab_size: int = setting(30522, ge=1)
    embedding_size: int = setting(128, ge=1)  # token embedding width (trigram input -> hidden_size)
    hidden_size: int = setting(512, ge=1)  # inter-block feature-map width
    num_layers: int = setting(24, ge=1)
    num_heads: int = setting(4, ge=1)
    intermediate_size: int = setting(512, ge=1)
    num_feedforward_networks: int = setting(4, ge=1)
    intra_bottleneck_size: int = setting(128, ge=1)
    use_bottleneck_attention: bool = False
    key_query_shared_bottleneck: bool = True
    normalization_type: str = setting("no_norm", choices=("no_norm", "layer_norm"))
    activation: str = setting("relu", choices=("relu", "gelu"))
    hidden_dropout: float = setting(0.0, ge=0.0, lt=1.0)
    attention_dropout: float = setting(0.1, ge=0.0, lt=1.0)
    max_sequence_length: int = setting(512, ge=1)  # size of the position table
    type_vocab_size: int = setting(2, ge=1)
    initializer_range: float = setting(0.02, gt=0.0)
    classifier_activation: bool = False  # tanh pooler on [CLS]
    # The MLM head's transform activation (dense -> act -> norm). Published checkpoints apply
    # their hidden_act there (transformers, google-research, tf-models `model_utils`), which
    # `mbert import` sets; mbert's own presets have always used gelu, whatever `activation` is.
    mlm_activation: str = setting("gelu", choices=("gelu", "relu"))
    # What the classification head reads: the [CLS] vector (BERT/MobileBERT) or the mean
    # of the real (unpadded) tokens' final vectors (better for small models whose NSP
    # pre-training never taught [CLS] to summarise the sentence).
    classifier_pooling: str = setting("cls", choices=("cls", "mean"))

    def validate(self) -> None:
        """Raises MbertError for values no encoder can be built from (key, value and valid range)."""
        check_settings(self, "encoder.")  # each field within its declared range; the rule below spans fields
        attention_width = self.hidden_size if self.kind == "bert" else self.intra_bottleneck_size
        if attention_width % self.num_heads:
            raise MbertError(
                f"attention width {attention_width} is not divisible by num_heads={self.num_heads}",
                hint="choose encoder.num_heads that divides the attention width")

    @property
    def is_opt(self) -> bool:
        """True for the paper's operational optimisations (NoNorm + ReLU)."""
        return self.normalization_type == "no_norm" and self.activation == "relu"
