"""`mbert presets`: the named model presets as a table (no TensorFlow needed)."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from mbert_cli.cli.common import console, handles_errors
from mbert_cli.config.param_count import encoder_flops
from mbert_cli.config.presets import PRESETS


@handles_errors
def presets_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List model presets: role, layers, widths, norm/activation and parameter count."""
    rows = []
    for p in PRESETS.values():
        e = p.encoder
        rows.append({
            "name": p.name, "role": p.role, "kind": e.kind, "layers": e.num_layers,
            "hidden": e.hidden_size, "bottleneck": e.intra_bottleneck_size if e.kind == "mobilebert" else None,
            "ffn": f"{e.intermediate_size}x{e.num_feedforward_networks}", "heads": e.num_heads,
            "embedding": e.embedding_size, "vocab": e.vocab_size,
            "norm_act": f"{'NoNorm' if e.normalization_type == 'no_norm' else 'LayerNorm'}/{e.activation.upper() if e.activation == 'gelu' else 'ReLU'}",
            "parameters": p.parameter_count(), "gflops_seq128": round(encoder_flops(e, 128) / 1e9, 3),
            "description": p.description,
        })
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="mbert presets (encoder parameters, as tf-models-official counts them)")
    for col, justify in (("name", "left"), ("role", "left"), ("layers", "right"), ("hidden", "right"),
                         ("bottleneck", "right"), ("FFN", "right"), ("heads", "right"),
                         ("norm/act", "left"), ("parameters", "right"), ("GFLOPs@128", "right")):
        table.add_column(col, justify=justify)
    for r in rows:
        table.add_row(r["name"], r["role"], str(r["layers"]), str(r["hidden"]),
                      "-" if r["bottleneck"] is None else str(r["bottleneck"]), r["ffn"], str(r["heads"]),
                      r["norm_act"], f"{r['parameters']:,} ({r['parameters'] / 1e6:.2f}M)", f"{r['gflops_seq128']:.2f}")
    console().print(table)


def register(app: typer.Typer) -> None:
    app.command("presets")(presets_cmd)
