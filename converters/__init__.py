"""Export: Keras model or run directory -> verified TFLite flatbuffers + manifest.json.

Public API: `convert()` (a model in memory), `export_run()` (a run folder), `ExportOptions`.
Private passes, one rewrite per module: `attention_mask` (clipped additive mask), `lengths`
(the lengths a file serves: one, one signature per length, or dynamic),
`signatures` (named serving function), `quantize` (recipes), `opt_substitution`
(LayerNorm/GELU -> NoNorm/ReLU), `export_model` (what of a restored stage is exported),
`verify`, `manifest`. Checkpoints are read through `mbert_cli.training.checkpoints`.
No Typer or rich here: the CLI lives in `mbert_cli/cli/export.py`.
"""

from converters.converter import ConvertedFile, ExportOptions, convert, write_files
from converters.export_run import ExportReport, export_run
from converters.lengths import LengthSpec, parse_lengths
from converters.quantize import MODES

__all__ = ["ConvertedFile", "ExportOptions", "ExportReport", "LengthSpec", "MODES", "convert", "export_run",
           "parse_lengths", "write_files"]
