"""Encoder (and head) configuration: the numbers that decide a model's architecture.

Teacher, student and the BERT baseline differ only by these values, as in
tf-models-official: `normalization_type` and `activation` select LayerNorm/GELU (teacher,
"w/o OPT") or NoNorm/ReLU (the OPT student).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EncoderConfig:
    """Arguments of `MobileBERTEncoder` (kind='mobilebert') or `BertEncoder` (kind='bert')."""

    kind: str = "mobilebert"  # mobilebert | bert
    vocab_size: int = 30522
    embedding_size: int = 128  # token embedding width (trigram input -> hidden_size)
    hidden_size: int = 512  # inter-block feature-map width
    num_layers: int = 24
    num_heads: int = 4
    intermediate_size: int = 512
    num_feedforward_networks: int = 4
    intra_bottleneck_size: int = 128
    use_bottleneck_attention: bool = False
    key_query_shared_bottleneck: bool = True
    normalization_type: str = "no_norm"  # no_norm | layer_norm
    activation: str = "relu"  # relu | gelu
    hidden_dropout: float = 0.0
    attention_dropout: float = 0.1
    max_sequence_length: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    classifier_activation: bool = False  # tanh pooler on [CLS]
    # What the classification head reads: the [CLS] vector (BERT/MobileBERT) or the mean
    # of the real (unpadded) tokens' final vectors (better for small models whose NSP
    # pre-training never taught [CLS] to summarise the sentence).
    classifier_pooling: str = "cls"  # cls | mean

    def validate(self) -> None:
        """Raises MbertError for values no encoder can be built from."""
        from mbert_cli.errors import MbertError  # noqa: PLC0415

        if self.kind not in ("mobilebert", "bert"):
            raise MbertError(f"encoder.kind must be 'mobilebert' or 'bert', got {self.kind!r}",
                             hint="set encoder.kind=mobilebert or encoder.kind=bert")
        if self.normalization_type not in ("no_norm", "layer_norm"):
            raise MbertError(f"encoder.normalization_type must be no_norm or layer_norm, got {self.normalization_type!r}",
                             hint="use --set encoder.normalization_type=no_norm (OPT) or layer_norm")
        if self.classifier_pooling not in ("cls", "mean"):
            raise MbertError(f"encoder.classifier_pooling must be cls or mean, got {self.classifier_pooling!r}",
                             hint="use --set encoder.classifier_pooling=cls or mean")
        if self.activation not in ("relu", "gelu"):
            raise MbertError(f"encoder.activation must be relu or gelu, got {self.activation!r}",
                             hint="use --set encoder.activation=relu (OPT) or gelu")
        for name in ("vocab_size", "embedding_size", "hidden_size", "num_layers", "num_heads",
                     "intermediate_size", "num_feedforward_networks", "intra_bottleneck_size",
                     "max_sequence_length", "type_vocab_size"):
            if getattr(self, name) <= 0:
                raise MbertError(f"encoder.{name} must be positive, got {getattr(self, name)}",
                                 hint=f"set encoder.{name} to a positive integer")
        attention_width = self.hidden_size if self.kind == "bert" else self.intra_bottleneck_size
        if attention_width % self.num_heads:
            raise MbertError(
                f"attention width {attention_width} is not divisible by num_heads={self.num_heads}",
                hint="choose encoder.num_heads that divides the attention width")

    @property
    def is_opt(self) -> bool:
        """True for the paper's operational optimisations (NoNorm + ReLU)."""
        return self.normalization_type == "no_norm" and self.activation == "relu"
