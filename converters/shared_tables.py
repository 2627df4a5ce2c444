"""One stored QuantizationParameters table per distinct value, shared by every tensor using it.

Why: in a multi-length file (one signature, one subgraph per length) the converter shares
the weight buffers but writes each subgraph's weight tensors their own per-channel
quantization table (a float32 scale and an int64 zero point per output channel), the same
bytes in every subgraph because the weights are the same. On mobilebert int8 that is
1.12 MB per extra signature (1.054x the single-length file). Flatbuffers let many tables
point at one object (as `Builder.CreateSharedString` does for strings), so the file is
re-packed with ai_edge_litert's object API (the schema verification already reads; a
superset of the converter's) and equal tables packed once. Why not patch offsets in the
converter's bytes: dropping the duplicate tables would move every object behind them; the
object API re-packs everything consistently. Re-packing mobilebert's 27 MB file takes about
half a second and ~80 MB more peak memory; the result is kept only when it is smaller.
Every mode gains: int8 and dynamic range share the weights' per-channel tables, float32
only the empty table each tensor carries (mobilebert: 10 kB).
"""

from __future__ import annotations

from typing import Any

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

_FILE_IDENTIFIER = b"TFL3"


def share_quantization(content: bytes) -> bytes:
    """`content` with byte-identical quantization tables stored once; unchanged when it has
    one subgraph (a single-length file: the converter's bytes as before), when the re-pack is
    not smaller, or when the file keeps data outside the flatbuffer (models over 2 GB store
    buffers by offset, which a re-pack would move)."""
    model = schema.Model.GetRootAs(content, 0)
    if model.SubgraphsLength() < 2 or _has_outside_data(model):
        return content
    obj = schema.ModelT.InitFromObj(model)
    shared_class = _shared_class(schema.QuantizationParametersT)
    tables: dict[tuple, Any] = {}
    for sub in obj.subgraphs or []:
        for tensor in sub.tensors or []:
            key = quantization_key(tensor.quantization)
            if key is not None:
                if key not in tables:
                    tables[key] = shared_class(tensor.quantization)
                tensor.quantization = tables[key]
    builder = flatbuffers.Builder(len(content) + 1024)
    builder.Finish(obj.Pack(builder), file_identifier=_FILE_IDENTIFIER)
    out = bytes(builder.Output())
    return out if len(out) < len(content) else content


def quantization_key(q: Any) -> tuple | None:
    """The stored value of a QuantizationParametersT (vectors' dtypes and bytes, axis); None
    for no table or one with custom details (left unshared)."""
    if q is None or q.details is not None or q.detailsType:
        return None

    def vec(x: Any) -> tuple | None:
        if x is None:
            return None
        a = np.asarray(x)
        return a.dtype.str, a.tobytes()

    return vec(q.min), vec(q.max), vec(q.scale), vec(q.zeroPoint), q.quantizedDimension


def _shared_class(base: type) -> type:
    """A QuantizationParametersT that packs once per builder and then returns that offset.

    A subclass (not a patched `Pack`) so nothing outside one re-pack changes. The back-to-front
    builder has written the first packing before any later table that refers to it, so the
    reused (unsigned, forward) offset is valid, as for a shared string.
    """

    class SharedQuantization(base):
        def __init__(self, q: Any):
            super().__init__(q.min, q.max, q.scale, q.zeroPoint, q.detailsType, q.details, q.quantizedDimension)
            self._packed: tuple[Any, int] | None = None

        def Pack(self, builder):  # noqa: N802 - the object API's name
            if self._packed is None or self._packed[0] is not builder:
                self._packed = (builder, super().Pack(builder))
            return self._packed[1]

    return SharedQuantization


def _has_outside_data(model: Any) -> bool:
    """True when a buffer or custom option lives past the flatbuffer (offset-buffer layout)."""
    for i in range(model.BuffersLength()):
        if model.Buffers(i).Offset():
            return True
    for s in range(model.SubgraphsLength()):
        sub = model.Subgraphs(s)
        for o in range(sub.OperatorsLength()):
            if sub.Operators(o).LargeCustomOptionsOffset():
                return True
    return False
