"""Runs an app-ready file the way an app does: MediaPipe Tasks on raw text, from the file alone.

`mbert predict` answers with this module, so it answers what the app will answer: the
tokenizer, label names and output come from the file's own metadata
(`converters.app_metadata`), and MediaPipe's `TextClassifier` / `TextEmbedder` (the C++ graph
the Android and iOS libraries run) tokenize and infer. Files are checked first, so a file
an app would misread is refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from converters import app_metadata
from mbert_cli.errors import MbertError

_EXPORT_HINT = "export it app-ready with `mbert export --run RUN` (the default for a fine-tuned classifier)"


@dataclass
class Prediction:
    """One text's answer: label and probabilities (classifier), or the embedding (embedder)."""

    text: str
    label: str | None = None
    scores: dict[str, float] = field(default_factory=dict)  # label -> probability, in label order
    embedding: list[float] | None = None

    def to_dict(self) -> dict:
        if self.embedding is not None:
            return {"text": self.text, "norm": float(np.linalg.norm(self.embedding)), "embedding": self.embedding}
        return {"text": self.text, "label": self.label, "scores": self.scores}


@dataclass
class AppModel:
    """An app-ready file, checked, with its MediaPipe task open."""

    path: Path
    info: app_metadata.AppInfo
    task: object

    def close(self) -> None:
        self.task.close()


def check_file(path: str | Path) -> app_metadata.AppInfo:
    """The file's app metadata after the checks an app would fail on; one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise MbertError(f"model file not found: {path}", hint="pass the path of an exported .tflite")
    content = path.read_bytes()
    try:
        info = app_metadata.read(content)
    except Exception:  # noqa: BLE001 - any flatbuffer/parse error means the same thing here
        raise MbertError(f"{path} is not a TFLite file mbert can read", hint=_EXPORT_HINT) from None
    if info is None:
        raise MbertError(f"{path} has no app metadata (tokenizer vocab, labels)", hint=_EXPORT_HINT)
    if not info.vocab:
        raise MbertError(f"{path} carries no BERT tokenizer vocab", hint=_EXPORT_HINT)
    rows, width = _embedding_rows(content), _output_width(content)
    if rows is not None and rows != len(info.vocab):
        raise MbertError(f"{path}: the packed vocab has {len(info.vocab)} tokens but the word embedding has {rows} "
                         "rows", hint="re-export with the vocab the model was trained with (data.vocab)")
    if info.kind == app_metadata.CLASSIFIER and width is not None and width != len(info.labels):
        raise MbertError(f"{path}: {len(info.labels)} label names for an output of {width} classes",
                         hint="re-export from the run whose task data names every class")
    return info


def load(path: str | Path) -> AppModel:
    """Checks `path` and opens the MediaPipe task its metadata calls for."""
    info = check_file(path)
    try:
        from mediapipe.tasks.python.core import base_options  # noqa: PLC0415
        from mediapipe.tasks.python.text import text_classifier, text_embedder  # noqa: PLC0415
    except ImportError as err:
        raise MbertError(f"`mbert predict` runs MediaPipe Tasks, which is not installed ({err.name})",
                         hint="make install (or pip install --no-deps mediapipe==1.2.2)") from None
    base = base_options.BaseOptions(model_asset_path=str(path))
    try:
        if info.kind == app_metadata.CLASSIFIER:
            options = text_classifier.TextClassifierOptions(base_options=base, max_results=-1)
            task = text_classifier.TextClassifier.create_from_options(options)
        else:
            options = text_embedder.TextEmbedderOptions(base_options=base, l2_normalize=False, quantize=False)
            task = text_embedder.TextEmbedder.create_from_options(options)
    except (RuntimeError, ValueError) as err:
        raise MbertError(f"MediaPipe cannot load {path}: {str(err).splitlines()[0][:300]}", hint=_EXPORT_HINT) from None
    return AppModel(Path(path), info, task)


def read_texts(path: str | Path) -> list[str]:
    """One text per non-blank line of a UTF-8 file."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise MbertError(f"text file not found: {path}", hint="pass a UTF-8 file with one sentence per line") from None
    except UnicodeDecodeError as err:
        raise MbertError(f"{path} is not UTF-8 (byte {err.start})", hint="save it as UTF-8, one sentence per line") \
            from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise MbertError(f"{path} has no sentences", hint="put one sentence per line")
    return lines


def check_texts(texts: list[str]) -> None:
    if not texts:
        raise MbertError("no text to predict", hint='pass sentences as arguments (mbert predict MODEL "text") or --file')
    for i, text in enumerate(texts, start=1):
        if not text.strip():
            raise MbertError(f"text {i} is empty", hint="pass a sentence with at least one word")


def predict(model: AppModel, texts: list[str]) -> list[Prediction]:
    """The app's answer for each text."""
    check_texts(texts)
    out = []
    for text in texts:
        if model.info.kind == app_metadata.CLASSIFIER:
            cats = model.task.classify(text).classifications[0].categories
            scores = {c.category_name: float(c.score) for c in cats}
            ordered = {name: scores.get(name, 0.0) for name in model.info.labels}
            out.append(Prediction(text, max(ordered, key=ordered.get), ordered))
        else:
            vec = model.task.embed(text).embeddings[0].embedding
            out.append(Prediction(text, embedding=[float(x) for x in vec]))
    return out


def _tensors(content: bytes):
    return schema, schema.Model.GetRootAs(content, 0)


def _embedding_rows(content: bytes) -> int | None:
    """Rows of the word-embedding table: the largest 2-D table a GATHER reads (positions and
    types are smaller tables; a quantized table may come through DEQUANTIZE), None if none."""
    schema, model = _tensors(content)
    codes = [max(model.OperatorCodes(i).BuiltinCode(), model.OperatorCodes(i).DeprecatedBuiltinCode())
             for i in range(model.OperatorCodesLength())]
    sub = model.Subgraphs(0)
    rows = []
    for o in range(sub.OperatorsLength()):
        op = sub.Operators(o)
        if codes[op.OpcodeIndex()] != schema.BuiltinOperator.GATHER:
            continue
        params = sub.Tensors(op.Inputs(0))
        if params.ShapeLength() == 2:
            rows.append(int(params.Shape(0)))
    return max(rows) if rows else None


def _output_width(content: bytes) -> int | None:
    _schema, model = _tensors(content)
    sub = model.Subgraphs(0)
    if sub.OutputsLength() != 1:
        return None
    tensor = sub.Tensors(sub.Outputs(0))
    return int(tensor.Shape(tensor.ShapeLength() - 1)) if tensor.ShapeLength() else None
