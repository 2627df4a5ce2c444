"""Layer-wise learning-rate decay for fine-tuning: lower layers of a pre-trained encoder move less.

As in BEiT's fine-tuning: the task head (and the pooler above the layers) trains at the full
rate, transformer layer i of L at `decay ** (L - i)` of it, the embeddings at
`decay ** (L + 1)` (ELECTRA's differs only in giving the pooler a depth of its own).
tf-models-official's AdamW has no per-variable rate, and scaling the gradients instead would
do nothing (Adam divides the scale out), so each depth gets its own AdamW over its own
variables, which the training loop already supports (one global clip).
"""

from __future__ import annotations

from dataclasses import dataclass

from mbert_cli.modeling.encoders import transformer_layers


@dataclass
class LayerGroup:
    """Variables trained at `scale` times the fine-tuning rate; `name` keys its optimizer in checkpoints."""

    name: str
    scale: float
    variables: list


def layer_groups(model, encoder, decay: float) -> list[LayerGroup]:
    """The model's trainable variables split by depth; one group named 'optimizer' when decay is 1.

    Depth 0 is the embeddings (every encoder variable outside the layers and the pooler),
    depth i + 1 transformer layer i, depth L + 1 the pooler and everything outside the encoder.
    """
    variables = list(model.trainable_variables)
    if decay == 1.0:
        return [LayerGroup("optimizer", 1.0, variables)]
    layers = transformer_layers(encoder)
    top = len(layers) + 1
    depth = {v.ref(): 0 for v in encoder.trainable_variables}
    for i, layer in enumerate(layers):
        depth.update({v.ref(): i + 1 for v in layer.trainable_variables})
    pooler = getattr(encoder, "pooler_layer", None)
    if pooler is not None:
        depth.update({v.ref(): top for v in pooler.trainable_variables})
    by_depth: dict[int, list] = {}
    for v in variables:
        by_depth.setdefault(depth.get(v.ref(), top), []).append(v)
    return [LayerGroup("optimizer" if d == top else f"optimizer_depth{d}", decay ** (top - d), vs)
            for d, vs in sorted(by_depth.items(), reverse=True)]
