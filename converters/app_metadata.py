"""TFLite metadata that makes an exported file app-ready: tokenizer vocab, labels, input names.

Written with MediaPipe's own metadata writers (`metadata_writer.MetadataWriter`:
`add_bert_text_input` + `add_classification_output` for a classifier, `add_feature_output`
for a sentence embedder), so MediaPipe Tasks' `TextClassifier` / `TextEmbedder` load the
file as it is on Android, iOS, the web and Python: the BERT tokenizer with the run's vocab
inside, the label names, and the three input tensors tagged `ids` / `mask` / `segment_ids`.
MediaPipe lower-cases ASCII itself (it has no cased option), which is what
`mbert_cli.data.tokenizer` does too. The writers need one function the PyPI wheel lacks;
`converters.metadata_version` supplies it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from mediapipe.tasks.metadata import metadata_schema_py_generated as fb

from converters.signatures import cast_rows
from mbert_cli.data.classification import load_classification
from mbert_cli.data.vocab import read_vocab, resolve_vocab
from mbert_cli.errors import MbertError
from mbert_cli.modeling.encoders import INPUT_DTYPES

CLASSIFIER = "classifier"
EMBEDDER = "embedder"
KINDS = (CLASSIFIER, EMBEDDER)
# What each of the three BERT inputs is called in the converted file (the signature's
# argument names; the converter prefixes them, e.g. `serving_default_input_word_ids:0`).
INPUT_ROLES = {"ids": "input_word_ids", "mask": "input_mask", "segment_ids": "input_type_ids"}
_INSTALL_HINT = "install it with `make install` (or pip install --no-deps mediapipe==1.2.2), or pass --no-app-metadata"


@dataclass(frozen=True)
class AppSpec:
    """What an app-ready file carries besides the model."""

    kind: str  # classifier | embedder
    vocab_path: Path
    labels: tuple[str, ...] = ()  # class names in output order (classifier)
    name: str = "mbert"
    description: str = ""


@dataclass
class AppInfo:
    """The metadata of an app-ready file, as read back from it (manifest, `mbert predict`)."""

    kind: str
    labels: list[str]
    vocab: list[str] = field(repr=False)
    sha256: str  # of the metadata flatbuffer (the TFLITE_METADATA buffer)
    bytes_added: int  # metadata flatbuffer + packed vocab/label files
    min_parser_version: str
    input_names: dict[str, str] = field(default_factory=dict)  # metadata role -> tensor name

    def manifest_entry(self) -> dict:
        return {"kind": self.kind, "labels": self.labels, "vocab_size": len(self.vocab), "sha256": self.sha256,
                "bytes_added": self.bytes_added, "min_parser_version": self.min_parser_version,
                "inputs": self.input_names}


def mediapipe_vocab(vocab_path: str | Path) -> list[str]:
    """The vocab as MediaPipe reads it (`LoadVocabFromBuffer`: one token per non-empty line)."""
    return [t for t in read_vocab(vocab_path) if t]


def check_spec(spec: AppSpec, vocab_size: int, num_outputs: int | None) -> None:
    """One-line errors for what would make MediaPipe read the file differently from mbert.

    Args:
        spec: what the file will carry.
        vocab_size: rows of the model's word-embedding table.
        num_outputs: classes of the classifier's output (None for an embedder).
    """
    if spec.kind not in KINDS:
        raise MbertError(f"unknown app-ready kind {spec.kind!r}", hint=f"use one of: {', '.join(KINDS)}")
    lines = read_vocab(spec.vocab_path)
    if any(not t for t in lines):
        # MediaPipe skips empty lines, so every later token would get another id than in training.
        raise MbertError(f"vocab {spec.vocab_path} has an empty line ({lines.index('') + 1}); MediaPipe skips empty "
                         "lines, so its token ids would shift", hint="put a placeholder such as [unused0] on that line")
    if len(lines) != vocab_size:
        raise MbertError(f"vocab {spec.vocab_path} has {len(lines)} tokens but the model's word embedding has "
                         f"{vocab_size} rows", hint="export with the vocab the model was trained with (data.vocab)")
    if spec.kind == CLASSIFIER:
        if num_outputs is not None and len(spec.labels) != num_outputs:
            raise MbertError(f"{len(spec.labels)} label names ({', '.join(spec.labels)}) for a classifier with "
                             f"{num_outputs} outputs", hint="use the task data the model was fine-tuned on "
                                                            "(data.task_data), or pass --no-app-metadata")
        if any(not name or "\n" in name for name in spec.labels):
            raise MbertError("a label name is empty or spans lines", hint="name every class on one line")


def _writers():
    """MediaPipe's metadata writer module, with the missing parser-version function supplied."""
    try:
        from converters import metadata_version  # noqa: PLC0415

        metadata_version.install()
        from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils  # noqa: PLC0415
    except ImportError as err:
        raise MbertError(f"app-ready metadata needs the mediapipe package ({err.name or err})",
                         hint=_INSTALL_HINT) from None
    return metadata_writer, writer_utils


def input_tensor_names(model_bytes: bytes) -> dict[str, str]:
    """Metadata role (ids, mask, segment_ids) -> the converted file's input tensor name."""
    _mw, writer_utils = _writers()
    names = writer_utils.get_input_tensor_names(bytearray(model_bytes))
    found = {}
    for role, arg in INPUT_ROLES.items():
        match = [n for n in names if n == arg or n.endswith(f"_{arg}:0") or n.endswith(f"_{arg}")]
        if len(match) != 1:
            raise MbertError(f"the converted file's inputs {names} do not name {arg} exactly once",
                             hint="export through converters.convert(), which names the inputs")
        found[role] = match[0]
    return found


def attach(model_bytes: bytes, spec: AppSpec) -> bytes:
    """`model_bytes` with MediaPipe metadata and the vocab (+ labels) packed in."""
    metadata_writer, _wu = _writers()
    names = input_tensor_names(model_bytes)
    writer = metadata_writer.MetadataWriter.create(bytearray(model_bytes))
    writer.add_general_info(spec.name, spec.description or None)
    with tempfile.TemporaryDirectory(prefix="mbert-app-") as folder:
        # The packed file's name is the path's basename: always vocab.txt, whatever the run called it.
        vocab = Path(folder) / "vocab.txt"
        vocab.write_bytes(Path(spec.vocab_path).read_bytes())
        writer.add_bert_text_input(metadata_writer.BertTokenizer(str(vocab)), names["ids"], names["mask"],
                                   names["segment_ids"])
        if spec.kind == CLASSIFIER:
            writer.add_classification_output(metadata_writer.Labels().add(list(spec.labels)))
        else:
            writer.add_feature_output(name="embedding", description="L2-normalised sentence embedding.")
        content, _json = writer.populate()
        # Its __del__ removes a temporary folder with `os`; run it now, not at interpreter exit.
        del writer
    return _fixed_zip_times(bytes(content))


# The date every packed file carries: zip's earliest, so the same model gives the same bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _fixed_zip_times(content: bytes) -> bytes:
    """`content` with its packed files re-zipped at `_ZIP_EPOCH`.

    MediaPipe's populator zips the vocab and labels with `ZipFile.writestr(name, ...)`, which
    stamps each entry with the current time, so two exports of the same weights differed by a
    few bytes. Re-zipping in the same order, uncompressed like the original, keeps the file
    reproducible (its sha256 in the manifest means something) and MediaPipe reads it alike.
    """
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        entries = [(info, zf.read(info)) for info in zf.infolist()]
    if not entries:
        return content
    out = io.BytesIO()
    out.write(content[:min(info.header_offset for info, _ in entries)])
    with zipfile.ZipFile(out, "a") as zf:
        for info, data in entries:
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            zf.writestr(fixed, data)
    return out.getvalue()


def read(model_bytes: bytes) -> AppInfo | None:
    """The app metadata of a file, or None when it has no TFLite metadata (or none mbert can use)."""
    model = schema.Model.GetRootAs(model_bytes, 0)
    buffer = None
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() == b"TFLITE_METADATA":
            buffer = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    if not buffer:
        return None
    meta = fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAsModelMetadata(buffer, 0))
    sub = (meta.subgraphMetadata or [None])[0]
    if sub is None:
        return None
    files = _packed_files(model_bytes)
    vocab_name = None
    for unit in sub.inputProcessUnits or []:
        if unit.optionsType == fb.ProcessUnitOptions.BertTokenizerOptions and unit.options.vocabFile:
            vocab_name = unit.options.vocabFile[0].name.decode("utf-8")
    outputs = sub.outputTensorMetadata or []
    label_files = [f.name.decode("utf-8") for o in outputs for f in (o.associatedFiles or [])
                   if f.type == fb.AssociatedFileType.TENSOR_AXIS_LABELS]
    kind = CLASSIFIER if label_files else EMBEDDER
    decode = (lambda name: files[name].decode("utf-8").splitlines()) if files else (lambda _n: [])
    inputs = [t.name.decode("utf-8") if t.name else "" for t in sub.inputTensorMetadata or []]
    return AppInfo(kind=kind, labels=decode(label_files[0]) if label_files and label_files[0] in files else [],
                   vocab=[t for t in decode(vocab_name) if t] if vocab_name in files else [],
                   sha256=hashlib.sha256(buffer).hexdigest(),
                   bytes_added=len(buffer) + sum(len(v) for v in files.values()),
                   min_parser_version=(meta.minParserVersion or b"").decode("utf-8"),
                   input_names={name: str(i) for i, name in enumerate(inputs)})


def _packed_files(model_bytes: bytes) -> dict[str, bytes]:
    """The associated files the populator zipped onto the end of the flatbuffer."""
    try:
        with zipfile.ZipFile(io.BytesIO(model_bytes)) as zf:
            return {name: zf.read(name) for name in zf.namelist()}
    except zipfile.BadZipFile:
        return {}


def app_rows(data):
    """`data` (converters.data.ExportData) with its rows in an app-ready file's int32 input dtypes."""
    return dataclasses.replace(data, representative=cast_rows(data.representative, "app"),
                               heldout=cast_rows(data.heldout, "app"))


def spec_for_run(config, stage: str, requested: bool | None, lengths=None,
                 say=lambda _msg: None, run_dir: str | Path | None = None) -> AppSpec | None:
    """The app-ready spec of a run's export, or None.

    Args:
        config: the run's RunConfig.
        stage: the stage exported.
        requested: True (`--app-metadata`: refuse what cannot be app-ready), False (off), or
            None (default: on for a single-sentence classifier and for an imported
            sentence-transformers encoder with mean pooling, skipped with a note otherwise).
        lengths: the export's LengthSpec; MediaPipe runs a file's first subgraph only, so a
            file with one signature per length cannot be app-ready (one length or dynamic can).
        say: receives the note when the default skips.
    """
    if requested is False:
        return None
    def skip(problem: str, hint: str) -> None:
        if requested:
            raise MbertError(f"--app-metadata: {problem}", hint=hint)
        say(f"no app metadata: {problem}")

    if stage == "finetune-classification":
        train, dev, names = load_classification(config.data.task_data, 1)
        if any(e.text_b is not None for e in train + dev):
            skip("the task classifies sentence pairs; MediaPipe's TextClassifier takes one text",
                 "pass --no-app-metadata")
            return None
        kind, labels = CLASSIFIER, tuple(names)
    elif (stage in ("teacher", "student") and config.encoder.classifier_pooling == "mean"
          and run_dir is not None and (Path(run_dir) / "import.json").is_file()):
        # Only an import carries a sentence-transformers pooling config (mbert_cli.importing);
        # a pre-trained mbert encoder was never trained to embed sentences.
        kind, labels = EMBEDDER, ()
    else:
        skip(f"stage {stage!r} is not a text classifier or an imported mean-pooled sentence encoder",
             "export --from finetune-classification, or pass --no-app-metadata")
        return None
    if lengths is not None and lengths.multi:
        skip(f"a file with one signature per length ({','.join(map(str, lengths.lengths))}): MediaPipe runs "
             "the first subgraph only", "use one --seq-len, or --seq-len dynamic (real sentence lengths)")
        return None
    return AppSpec(kind=kind, vocab_path=Path(resolve_vocab(config.data.vocab, config.encoder.vocab_size)),
                   labels=labels, name=f"mbert {stage}",
                   description="Text classifier exported by mbert." if kind == CLASSIFIER else
                   "Sentence embedder exported by mbert (mean pooling, L2 normalisation).")


def num_classes(model) -> int | None:
    """Width of a model's `logits` output (None when it has none), from one two-token call."""
    out = model({name: tf.ones([1, 2], dtype) for name, dtype in INPUT_DTYPES.items()}, training=False)
    return int(out["logits"].shape[-1]) if isinstance(out, dict) and "logits" in out else None
