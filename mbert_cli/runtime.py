"""The one place that chooses the TFLite runtime.

Order: `ai_edge_litert` (the maintained LiteRT wheel), then the legacy `tflite_runtime`
(last release 2.14: breaks with numpy 2 and cannot run ops from the TF 2.20 converter, so
it is only a fallback), then `tf.lite` from full TensorFlow (slow to import).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any


@dataclass(frozen=True)
class Runtime:
    """Which interpreter module is in use, and its version."""

    name: str
    version: str
    interpreter_cls: Any
    module: Any

    def interpreter(self, model_path: str | None = None, *, model_content: bytes | None = None,
                    num_threads: int | None = None, xnnpack: bool = True) -> Any:
        """Builds an interpreter; `xnnpack=False` selects the plain builtin kernels."""
        kwargs: dict[str, Any] = {}
        if model_path is not None:
            kwargs["model_path"] = str(model_path)
        if model_content is not None:
            kwargs["model_content"] = model_content
        if num_threads is not None:
            kwargs["num_threads"] = num_threads
        if not xnnpack:
            resolver = getattr(self.module, "OpResolverType", None)
            if resolver is not None:
                kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        return self.interpreter_cls(**kwargs)


@functools.lru_cache(maxsize=1)
def load_runtime() -> Runtime:
    """Returns the first runtime that imports, in the documented order."""
    try:
        from ai_edge_litert import interpreter as litert  # noqa: PLC0415

        version = _dist_version("ai-edge-litert")
        return Runtime("ai-edge-litert", version, litert.Interpreter, litert)
    except ImportError:
        pass
    try:
        from tflite_runtime import interpreter as tflr  # noqa: PLC0415

        return Runtime("tflite-runtime", _dist_version("tflite-runtime"), tflr.Interpreter, tflr)
    except ImportError:
        pass
    import tensorflow as tf  # noqa: PLC0415 - the last fallback: loaded only when neither LiteRT wheel imports

    return Runtime("tensorflow.lite", tf.__version__, tf.lite.Interpreter, tf.lite.experimental)


def _dist_version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"
