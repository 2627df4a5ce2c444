"""The minimum metadata parser version of a TFLite metadata buffer, supplied to MediaPipe's writers.

Why this module exists: `mediapipe` 1.2.2's metadata writers (`mediapipe.tasks.python.metadata`)
import `mediapipe.tasks.cc.metadata.python._pywrap_metadata_version`, a pybind11 wrapper of
`mediapipe/tasks/cc/metadata/metadata_version.cc` that the PyPI wheel does not ship, so they
fail to import. The writer calls exactly one function of it, `GetMinimumMetadataParserVersion`,
to stamp `min_parser_version` into the metadata: the newest schema version among the schema
members the buffer uses (a reader older than that would miss a field). `minimum_parser_version`
computes the same value from the wheel's own generated schema, member by member as the C++ does,
and `install()` registers it under the missing module's name so the writers run unchanged.
(The other route, building the flatbuffer by hand from the generated schema, would copy the
writers' tensor pairing, label files and vocab packing; supplying one function keeps theirs.)
"""

from __future__ import annotations

import importlib
import sys
import types

from mediapipe.tasks.metadata import metadata_schema_py_generated as fb

MODULE_NAME = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"
_METADATA_IDENTIFIER = b"M001"

# The schema version that introduced each member (metadata_schema.fbs's change log, as
# metadata_version.cc lists them); a buffer with none of them needs only 1.0.0.
_VOCABULARY_FILE = (1, 0, 1)
_PROCESS_UNITS = (1, 1, 0)  # SubGraphMetadata.input_process_units / output_process_units
_BERT_OR_SENTENCEPIECE = (1, 1, 0)
_TENSOR_GROUPS = (1, 2, 0)
_REGEX_TOKENIZER = (1, 2, 1)
_AUDIO_PROPERTIES = (1, 3, 0)
_SCANN_INDEX_FILE = (1, 4, 0)
_FILE_VERSION = (1, 4, 1)
_CUSTOM_METADATA = (1, 5, 0)
_BASE = (1, 0, 0)


def minimum_parser_version(metadata_buffer: bytes) -> str:
    """`"1.1.0"`-style minimum parser version of a serialized `ModelMetadata` flatbuffer.

    Raises:
        ValueError: the buffer is not a TFLite metadata flatbuffer.
    """
    buf = bytes(metadata_buffer)
    if len(buf) < 8 or buf[4:8] != _METADATA_IDENTIFIER:
        raise ValueError("The model metadata is not a valid FlatBuffer buffer.")
    meta = fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAsModelMetadata(buf, 0))
    found = [_BASE, *_files(meta.associatedFiles, fb)]
    for sub in meta.subgraphMetadata or []:
        found.extend(_subgraph(sub, fb))
    return ".".join(map(str, max(found)))


def _files(files, fb) -> list[tuple[int, int, int]]:
    out = []
    for f in files or []:
        if f.type == fb.AssociatedFileType.VOCABULARY:
            out.append(_VOCABULARY_FILE)
        if f.type == fb.AssociatedFileType.SCANN_INDEX_FILE:
            out.append(_SCANN_INDEX_FILE)
        if f.version is not None:
            out.append(_FILE_VERSION)
    return out


def _units(units, fb) -> list[tuple[int, int, int]]:
    kinds = {fb.ProcessUnitOptions.BertTokenizerOptions: _BERT_OR_SENTENCEPIECE,
             fb.ProcessUnitOptions.SentencePieceTokenizerOptions: _BERT_OR_SENTENCEPIECE,
             fb.ProcessUnitOptions.RegexTokenizerOptions: _REGEX_TOKENIZER}
    return [kinds[u.optionsType] for u in units or [] if u.optionsType in kinds]


def _tensor(tensor, fb) -> list[tuple[int, int, int]]:
    out = _files(tensor.associatedFiles, fb) + _units(tensor.processUnits, fb)
    content = tensor.content
    if content is not None and content.contentPropertiesType == fb.ContentProperties.AudioProperties:
        out.append(_AUDIO_PROPERTIES)
    return out


def _subgraph(sub, fb) -> list[tuple[int, int, int]]:
    out = []
    for tensor in (sub.inputTensorMetadata or []) + (sub.outputTensorMetadata or []):
        out.extend(_tensor(tensor, fb))
    out.extend(_files(sub.associatedFiles, fb))
    for units in (sub.inputProcessUnits, sub.outputProcessUnits):
        if units is not None:  # present, even empty, as the C++ tests the field (not its size)
            out.append(_PROCESS_UNITS)
            out.extend(_units(units, fb))
    if sub.inputTensorGroups is not None or sub.outputTensorGroups is not None:
        out.append(_TENSOR_GROUPS)
    if sub.customMetadata is not None:
        out.append(_CUSTOM_METADATA)
    return out


def install() -> None:
    """Registers `minimum_parser_version` as the missing pybind module (no-op if the wheel has it)."""
    try:
        importlib.import_module(MODULE_NAME)
        return
    except ImportError:
        pass
    parts = MODULE_NAME.split(".")
    for i in range(3, len(parts)):  # mediapipe.tasks.cc, ...cc.metadata, ...cc.metadata.python
        name = ".".join(parts[:i])
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = []  # a namespace with nothing on disk: only what is registered here
            sys.modules[name] = package
    module = types.ModuleType(MODULE_NAME, "mbert's Python GetMinimumMetadataParserVersion (converters.metadata_version)")
    module.GetMinimumMetadataParserVersion = minimum_parser_version
    sys.modules[MODULE_NAME] = module
    setattr(sys.modules[".".join(parts[:-1])], parts[-1], module)
