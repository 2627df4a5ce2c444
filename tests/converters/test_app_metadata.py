"""App-ready exports checked by the real client: MediaPipe Tasks' TextClassifier on raw sentences."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mbert_cli.cli.app import app

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export_helpers import make_run
from export_helpers import one_error_line as _error
from mediapipe_helpers import classifier, classify, echo_flatbuffer, echo_model, mediapipe_token_ids

runner = CliRunner()
SEQ = 32
SAMPLE = 48


@pytest.fixture(scope="module")
def nano_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("app") / "run"
    make_run(run)
    return run


@pytest.fixture(scope="module")
def exported(nano_run):
    """The nano classifier run exported app-ready (the default) at seq 32 and dynamic."""
    run = nano_run
    out = run.parent / "out"
    for seq in (str(SEQ), "dynamic"):
        result = runner.invoke(app, ["export", "--run", str(run), "--from", "finetune-classification",
                                     "--quantize", "none", "dynamic", "int8", "--seq-len", seq,
                                     "--representative", "16", "--metric-examples", "32", "--max-drop", "100",
                                     "--out", str(out)])
        assert result.exit_code == 0, result.output
    return run, out, json.loads((out / "manifest.json").read_text())


def _sentences(n: int = SAMPLE) -> list[str]:
    from mbert_cli.data.classification import load_classification

    _train, dev, _ = load_classification("shipped")
    return [e.text_a for e in dev[:n]]


def _mbert_probabilities(path: Path, texts: list[str], seq: int | None) -> np.ndarray:
    """mbert's own evaluation of the file: its tokenizer, LiteRT, the file's signature."""
    from converters import verify
    from converters.signatures import cast_rows
    from mbert_cli.data.encoding import encode_pairs
    from mbert_cli.data.tokenizer import WordPieceTokenizer
    from mbert_cli.data.vocab import NANO_VOCAB

    tok = WordPieceTokenizer(NANO_VOCAB)
    runner_, _info = verify.load_signature(path.read_bytes(), "serving_default")
    rows = []
    for text in texts:
        n = seq or min(len(tok.tokenize([text])[0]) + 2, 128)  # dynamic: the sentence's own length
        feats = cast_rows(encode_pairs(tok, [text], None, n), "app")
        rows.append(verify.run_tflite(runner_, feats)["probabilities"][0])
    return np.asarray(rows, np.float64)


def test_manifest_records_the_metadata(exported):
    from converters import app_metadata

    _run, out, manifest = exported
    for entry in manifest["files"]:
        meta = entry["app_metadata"]
        assert meta["kind"] == "classifier" and meta["labels"] == ["negative", "positive"]
        info = app_metadata.read((out / entry["file"]).read_bytes())
        assert meta["sha256"] == info.sha256 and info.labels == ["negative", "positive"]
        assert len(info.vocab) == 4096 and entry["sha256"] != meta["sha256"]
        assert set(entry["signature"]["inputs"][k]["dtype"] for k in entry["signature"]["inputs"]) == {"int32"}
        assert list(entry["signature"]["outputs"]) == ["probabilities"]
        assert entry["task_metric"]["name"] == "accuracy"  # the gates ran on the final file


@pytest.mark.parametrize("mode", ["none", "dynamic", "int8"])
@pytest.mark.parametrize("seq", [SEQ, None], ids=["seq32", "dynamic"])
def test_mediapipe_agrees_with_mbert(exported, mode, seq):
    from mbert_cli.data.tokenizer import WordPieceTokenizer
    from mbert_cli.data.vocab import NANO_VOCAB

    _run, out, _manifest = exported
    path = out / f"finetune-classification_{mode}_seq{seq or 'dyn'}.tflite"
    texts = _sentences()
    clf = classifier(path)
    try:
        got = classify(clf, texts, ["negative", "positive"])
    finally:
        clf.close()
    want = _mbert_probabilities(path, texts, seq)
    agree = np.argmax(got, -1) == np.argmax(want, -1)
    if not agree.all():
        tok = WordPieceTokenizer(NANO_VOCAB)
        echo = echo_model(out.parent / "echo.tflite", NANO_VOCAB)
        deployed = mediapipe_token_ids(echo, [t for t, ok in zip(texts, agree, strict=True) if not ok])
        for (text, p, q), ids in zip([(t, a, b) for t, a, b, ok in zip(texts, got, want, agree, strict=True)
                                      if not ok], deployed, strict=True):
            print(f"DISAGREE {text!r}\n  MediaPipe {p} {tok.ids_to_tokens(ids)}\n"
                  f"  mbert     {q} {tok.ids_to_tokens(tok.tokenize([text])[0])}")
    assert agree.mean() >= 0.995, f"{int((~agree).sum())} of {len(texts)} disagree"
    # Same tokens, same graph: the probabilities match too (MediaPipe links its own TFLite).
    assert np.max(np.abs(got - want)) < 1e-4


def test_dynamic_file_serves_real_lengths_and_cuts_long_ones(exported):
    """MediaPipe feeds a dynamic file unpadded rows of any length; the graph keeps
    [CLS] + the first max_len-2 tokens + [SEP], as BERT truncates."""
    from converters import verify
    from converters.signatures import cast_rows
    from mbert_cli.data.encoding import encode_pairs
    from mbert_cli.data.tokenizer import WordPieceTokenizer
    from mbert_cli.data.vocab import NANO_VOCAB

    _run, out, _manifest = exported
    path = out / "finetune-classification_none_seqdyn.tflite"
    long_text = " ".join(_sentences(40))
    tok = WordPieceTokenizer(NANO_VOCAB)
    assert len(tok.tokenize([long_text])[0]) > 300
    clf = classifier(path)
    try:
        got = classify(clf, [long_text], ["negative", "positive"])[0]
    finally:
        clf.close()
    runner_, info = verify.load_signature(path.read_bytes(), "serving_default")
    assert info.inputs["input_word_ids"]["shape"] == [1, -1]
    want = verify.run_tflite(runner_, cast_rows(encode_pairs(tok, [long_text], None, 128), "app"))
    assert np.max(np.abs(got - want["probabilities"][0])) < 1e-4


def test_no_app_metadata_keeps_the_plain_file(nano_run, tmp_path):
    from converters import app_metadata

    run = nano_run
    result = runner.invoke(app, ["export", "--run", str(run), "--from", "finetune-classification", "--quantize",
                                 "none", "--seq-len", "16", "--metric-examples", "8", "--no-app-metadata",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    content = (tmp_path / "finetune-classification_none_seq16.tflite").read_bytes()
    assert app_metadata.read(content) is None
    entry = json.loads((tmp_path / "manifest.json").read_text())["files"][0]
    assert entry["app_metadata"] is None and entry["signature"]["inputs"]["input_mask"]["dtype"] == "float32"


def test_app_metadata_on_a_stage_that_is_no_classifier(tmp_path):
    run = tmp_path / "run"
    make_run(run, stage="student")
    out = tmp_path / "out"
    result = runner.invoke(app, ["export", "--run", str(run), "--from", "student", "--quantize", "none",
                                 "--seq-len", "16", "--app-metadata", "--out", str(out)])
    assert "is not a text classifier or an imported mean-pooled sentence encoder" in _error(result)
    assert not out.exists()


def test_multi_length_file_cannot_be_app_ready(nano_run, tmp_path):
    run = nano_run
    result = runner.invoke(app, ["export", "--run", str(run), "--from", "finetune-classification", "--quantize",
                                 "none", "--seq-len", "16,32", "--app-metadata", "--out", str(tmp_path / "o")])
    assert "first subgraph only" in _error(result)


def test_spec_checks(tmp_path):
    from converters.app_metadata import CLASSIFIER, AppSpec, check_spec
    from mbert_cli.data.vocab import NANO_VOCAB
    from mbert_cli.errors import MbertError

    spec = AppSpec(CLASSIFIER, NANO_VOCAB, ("a", "b", "c"))
    with pytest.raises(MbertError, match="3 label names"):
        check_spec(spec, 4096, 2)
    with pytest.raises(MbertError, match="word embedding has 4000 rows"):
        check_spec(AppSpec(CLASSIFIER, NANO_VOCAB, ("a", "b")), 4000, 2)
    gap = tmp_path / "vocab.txt"
    lines = NANO_VOCAB.read_text().splitlines()
    lines[7] = ""
    gap.write_text("\n".join(lines) + "\n")
    with pytest.raises(MbertError, match="empty line"):
        check_spec(AppSpec(CLASSIFIER, gap, ("a", "b")), 4096, 2)
    check_spec(AppSpec(CLASSIFIER, NANO_VOCAB, ("a", "b")), 4096, 2)


def test_minimum_parser_version_follows_the_schema():
    """The shim's rule (converters.metadata_version) on buffers built with the generated schema."""
    import flatbuffers
    from mediapipe.tasks.metadata import metadata_schema_py_generated as fb

    from converters.metadata_version import minimum_parser_version

    def version(**sub_fields):
        sub = fb.SubGraphMetadataT()
        for k, v in sub_fields.items():
            setattr(sub, k, v)
        meta = fb.ModelMetadataT()
        meta.subgraphMetadata = [sub]
        b = flatbuffers.Builder(0)
        b.Finish(meta.Pack(b), b"M001")
        return minimum_parser_version(bytes(b.Output()))

    bert = fb.ProcessUnitT()
    bert.optionsType = fb.ProcessUnitOptions.BertTokenizerOptions
    bert.options = fb.BertTokenizerOptionsT()
    regex = fb.ProcessUnitT()
    regex.optionsType = fb.ProcessUnitOptions.RegexTokenizerOptions
    regex.options = fb.RegexTokenizerOptionsT()
    vocab = fb.AssociatedFileT()
    vocab.type = fb.AssociatedFileType.VOCABULARY
    tensor = fb.TensorMetadataT()
    tensor.associatedFiles = [vocab]
    assert version() == "1.0.0"
    assert version(inputTensorMetadata=[tensor]) == "1.0.1"
    assert version(inputProcessUnits=[bert]) == "1.1.0"
    assert version(inputProcessUnits=[regex]) == "1.2.1"
    assert version(customMetadata=[fb.CustomMetadataT()]) == "1.5.0"
    with pytest.raises(ValueError):
        minimum_parser_version(b"not metadata")



def test_attach_gives_the_same_bytes_at_any_time(monkeypatch):
    """The packed vocab's zip entry must not carry the export's clock (the soak compares sha256)."""
    import time

    from converters.app_metadata import AppSpec, attach, read
    from mbert_cli.data.vocab import NANO_VOCAB

    plain = echo_flatbuffer()
    spec = AppSpec(kind="embedder", vocab_path=NANO_VOCAB)
    first = attach(plain, spec)
    later = time.time() + 3 * 86400 + 7
    monkeypatch.setattr(time, "time", lambda: later)
    second = attach(plain, spec)
    assert first == second
    info = read(second)
    assert info is not None and info.vocab == [t for t in NANO_VOCAB.read_text().splitlines() if t]


def _externalised(content: bytes) -> bytes:
    """`content` in litert-quantizer's layout for large models: each buffer's bytes after the
    flatbuffer, 16-byte aligned, found by its (offset, size) fields."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    moved = {i: bytes(b.data.tobytes()) for i, b in enumerate(model.buffers) if b.data is not None and len(b.data)}
    for i in moved:
        model.buffers[i].data, model.buffers[i].offset, model.buffers[i].size = None, 1, 1  # placeholders
    head = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    tail, offsets, at = b"", {}, -(-len(head) // 16) * 16
    for i, data in moved.items():
        offsets[i] = at
        tail += b"\0" * (at - len(head) - len(tail)) + data
        at = -(-(at + len(data)) // 16) * 16
    for i, data in moved.items():
        model.buffers[i].offset, model.buffers[i].size = offsets[i], len(data)
    head2 = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    assert len(head2) == len(head)  # same field sizes: the offsets computed above still hold
    return head2 + tail


def test_weights_stored_after_the_flatbuffer_survive_the_metadata(tmp_path):
    """A library build of a real model keeps its weights after the flatbuffer; MediaPipe's
    populator dropped them (a file no runtime loads) until `inline_buffers` moved them in."""
    import tensorflow as tf

    from converters.app_metadata import AppSpec, attach
    from converters.quant_diagnosis import inline_buffers
    from mbert_cli.data.vocab import NANO_VOCAB
    from mbert_cli.runtime import load_runtime

    table = tf.constant(np.random.default_rng(0).normal(size=(4096, 24)).astype(np.float32))  # 393 kB

    class Lookup(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.int32, name=n)
                                      for n in ("input_word_ids", "input_type_ids", "input_mask")])
        def serve(self, input_word_ids, input_type_ids, input_mask):
            rows = tf.gather(table, input_word_ids) * tf.cast(input_mask, tf.float32)[..., None]
            return {"embedding": tf.reduce_sum(rows, axis=1) + tf.cast(input_type_ids[:, :1], tf.float32)}

    module = Lookup()
    plain = tf.lite.TFLiteConverter.from_concrete_functions([module.serve.get_concrete_function()], module).convert()
    external = _externalised(plain)
    runtime = load_runtime()
    ids = np.arange(3, 11, dtype=np.int32)[None]
    feed = {"input_word_ids": ids, "input_type_ids": np.zeros_like(ids), "input_mask": np.ones_like(ids)}

    def embed(content):
        return runtime.interpreter(model_content=content).get_signature_runner()(**feed)["embedding"]

    expected = embed(plain)
    np.testing.assert_array_equal(embed(external), expected)  # the layout is one the runtime reads
    spec = AppSpec(kind="embedder", vocab_path=NANO_VOCAB)
    with pytest.raises(Exception):  # noqa: B017 - what the populator did to it, in whatever words
        embed(attach(external, spec))
    fixed = attach(inline_buffers(external), spec)
    np.testing.assert_array_equal(embed(fixed), expected)
    assert len(fixed) > 4096 * 24 * 4
