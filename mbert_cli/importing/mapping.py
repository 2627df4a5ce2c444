"""The shared part of every importer: a name map (source tensor -> mbert variable + reshape), checked.

A format module lists `Entry`s (written from the source's own module structure); `apply`
checks every shape against the model mbert built from the checkpoint's config, assigns
the values and records what was mapped and what was dropped for `import.json`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np

from mbert_cli.errors import MbertError

# Reshapes between a 2-D dense weight and tf-models' per-head einsum kernels.
# torch nn.Linear stores [out, in]; TF1 dense kernels are [in, out].
COPY, TRANSPOSE, QKV, QKV_BIAS, ATTN_OUT = "copy", "transpose", "qkv", "qkv_bias", "attn_out"
TF1_QKV, TF1_ATTN_OUT = "tf1_qkv", "tf1_attn_out"


@dataclass(frozen=True)
class Entry:
    """One source tensor and the mbert variable it becomes (`target` is a `named_variables` key)."""

    source: str
    target: str
    transform: str = COPY


# The MLM head's transform (dense + LayerNorm) is laid out alike in HF BERT and HF MobileBERT.
HF_MLM_TRANSFORM = [
    Entry("cls.predictions.transform.dense.weight", "masked_lm/transform/dense/kernel", TRANSPOSE),
    Entry("cls.predictions.transform.dense.bias", "masked_lm/transform/dense/bias"),
    Entry("cls.predictions.transform.LayerNorm.weight", "masked_lm/transform/LayerNorm/gamma"),
    Entry("cls.predictions.transform.LayerNorm.bias", "masked_lm/transform/LayerNorm/beta"),
]
HF_MLM_BIAS = Entry("cls.predictions.bias", "masked_lm/output_bias/bias")

# Present in some HF files, never needed: recorded in import.json as dropped.
HF_IGNORABLE = {
    "embeddings.position_ids": "buffer (position indices), not a weight",
    "cls.predictions.decoder.weight": "tied to embeddings.word_embeddings.weight (mbert's MLM head reads the embedding)",
    "cls.predictions.decoder.bias": "tied to cls.predictions.bias",
    "cls.seq_relationship.": "NSP head: mbert's NSP head has its own pooler layer, so a new one is initialised",
}


def to_mbert(value: np.ndarray, transform: str, heads: int) -> np.ndarray:
    """Source layout -> mbert (tf-models) layout."""
    if transform == COPY:
        return value
    if transform == TRANSPOSE:
        return value.T
    if transform == QKV:  # torch [N*H, in] -> [in, N, H]
        return value.T.reshape(value.shape[1], heads, -1)
    if transform == TF1_QKV:  # TF1 [in, N*H] -> [in, N, H]
        return value.reshape(value.shape[0], heads, -1)
    if transform == QKV_BIAS:
        return value.reshape(heads, -1)
    if transform == ATTN_OUT:  # torch [out, N*H] -> [N, H, out]
        return value.T.reshape(heads, -1, value.shape[0])
    if transform == TF1_ATTN_OUT:  # TF1 [N*H, out] -> [N, H, out]
        return value.reshape(heads, -1, value.shape[1])
    raise ValueError(transform)


def from_mbert(value: np.ndarray, transform: str) -> np.ndarray:
    """mbert layout -> source layout (the inverse of `to_mbert`, for export to the HF layout)."""
    if transform == COPY:
        return value
    if transform == TRANSPOSE:
        return value.T
    if transform == QKV:
        return value.reshape(value.shape[0], -1).T
    if transform == QKV_BIAS:
        return value.reshape(-1)
    if transform == ATTN_OUT:
        return value.reshape(-1, value.shape[-1]).T
    raise ValueError(transform)


@dataclass
class ImportReport:
    """What an import did, written to `runs/NAME/import.json` and printed."""

    source: str
    format: str
    architecture: str
    mapped: list[dict] = field(default_factory=list)  # {source, target, transform, shape}
    dropped: dict[str, str] = field(default_factory=dict)  # source tensor -> why
    new: dict[str, str] = field(default_factory=dict)  # mbert part left at its initial values -> why
    heads: dict[str, str] = field(default_factory=dict)  # mlm / nsp / pooler -> mapped | absent | dropped
    parameters_mapped: int = 0
    source_dtypes: dict[str, int] = field(default_factory=dict)  # stored dtype -> tensor count (all cast to float32)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def named_variables(pretrainer) -> dict:
    """The pre-training model's variables keyed by a stable name: `encoder/...`, `masked_lm/...`, `next_sentence/...`.

    Keys drop the model's own name scope (which depends on what else was built in the
    process), so they equal the tf-models layer paths (`transformer_layer_0/attention/...`).
    """
    out, seen = {}, set()
    parts = (("encoder", pretrainer.encoder), ("masked_lm", pretrainer.masked_lm), ("next_sentence", pretrainer.nsp_head))
    for prefix, layer in parts:
        for var in layer.weights:
            if id(var) in seen:  # the MLM head holds the encoder's embedding table too
                continue
            seen.add(id(var))
            name = var.name.split(":")[0]
            if prefix != "encoder":
                name = name.split(f"{layer.name}/", 1)[-1]
            elif name.startswith(f"{layer.name}/"):
                name = name[len(layer.name) + 1:]
            # MobileBERT's embedding layer has an automatic name, uniquified per model built.
            name = re.sub(r"^mobile_bert_embedding_\d+/", "mobile_bert_embedding/", name)
            key = f"{prefix}/{name}"
            if key in out:
                raise RuntimeError(f"two variables named {key}")
            out[key] = var
    return out


def apply(entries: list[Entry], tensors: dict[str, np.ndarray], variables: dict, heads: int,
          report: ImportReport, file_label: str, config_label: str) -> None:
    """Assigns every entry's tensor to its variable, checking presence and shape first (all or nothing)."""
    staged = []
    for e in entries:
        if e.source not in tensors:
            raise MbertError(f"tensor {e.source!r} is missing from {file_label}",
                             hint=f"the file is incomplete or from another model than {config_label} describes; "
                                  "use the checkpoint that belongs to that config")
        if e.target not in variables:
            raise RuntimeError(f"name map points at unknown variable {e.target}")  # a bug in a map, not user input
        value = np.asarray(tensors[e.source])
        var = variables[e.target]
        try:
            converted = to_mbert(value, e.transform, heads)
        except ValueError:
            converted = None
        if converted is None or tuple(converted.shape) != tuple(var.shape):
            raise MbertError(f"tensor {e.source!r} has shape {tuple(value.shape)}, which does not fit the model "
                             f"{config_label} describes (needs {tuple(var.shape)} as {e.target})",
                             hint=f"{config_label} and {file_label} come from different models; use matching files")
        staged.append((var, converted.astype(np.float32), e, value.shape))
    for var, converted, e, shape in staged:
        var.assign(converted)
        report.mapped.append({"source": e.source, "target": e.target, "transform": e.transform,
                              "shape": list(shape)})
        report.parameters_mapped += int(converted.size)


def reject_unexpected(tensors: dict, used: set[str], ignorable: dict[str, str], report: ImportReport,
                      file_label: str, config_label: str) -> None:
    """Known extra tensors (tied copies, buffers, dropped heads) are recorded; any other one is an error."""
    for name in sorted(tensors):
        if name in used:
            continue
        reason = next((why for prefix, why in ignorable.items() if name.startswith(prefix) or name == prefix), None)
        if reason is None:
            raise MbertError(f"unexpected tensor {name!r} in {file_label}: the model {config_label} describes has no "
                             "such weight",
                             hint="the file is from another architecture or a different config; pass the matching "
                                  "config, or --format for the right layout")
        report.dropped[name] = reason
