"""`mbert predict`: raw text through MediaPipe Tasks from the file's own metadata, and its bad inputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mbert_cli.cli.app import app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "converters"))
from export_helpers import make_run
from export_helpers import one_error_line as _error

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    make_run(root / "run")
    out = root / "out"
    for flag in ("--app-metadata", "--no-app-metadata"):
        result = runner.invoke(app, ["export", "--run", str(root / "run"), "--from", "finetune-classification",
                                     "--quantize", "none", "--seq-len", "32" if flag.startswith("--app") else "16",
                                     "--metric-examples", "8", flag, "--out", str(out)])
        assert result.exit_code == 0, result.output
    return out / "finetune-classification_none_seq32.tflite", out / "finetune-classification_none_seq16.tflite"


def test_predict_sentences_and_file_as_json(files, tmp_path):
    import numpy as np

    from converters import verify
    from converters.signatures import cast_rows
    from mbert_cli.data.encoding import encode_pairs
    from mbert_cli.data.tokenizer import WordPieceTokenizer
    from mbert_cli.data.vocab import NANO_VOCAB

    model, _plain = files
    listing = tmp_path / "s.txt"
    listing.write_text("a tedious mess\n\nfunny and warm\n", encoding="utf-8")
    result = runner.invoke(app, ["predict", str(model), "A wonderful film.", "--file", str(listing), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["A wonderful film.", "a tedious mess", "funny and warm"]
    # The answer is the file's: same probabilities as LiteRT on mbert's tokenization.
    runner_, _ = verify.load_signature(model.read_bytes(), "serving_default")
    feats = cast_rows(encode_pairs(WordPieceTokenizer(NANO_VOCAB), [r["text"] for r in rows], None, 32), "app")
    want = verify.run_tflite(runner_, feats)["probabilities"]
    for row, p in zip(rows, want, strict=True):
        assert list(row["scores"]) == ["negative", "positive"]
        assert np.allclose([row["scores"]["negative"], row["scores"]["positive"]], p, atol=1e-4)
        assert row["label"] == ["negative", "positive"][int(np.argmax(p))]
    text = runner.invoke(app, ["predict", str(model), "A wonderful film."])
    assert text.exit_code == 0 and "negative" in text.stdout and "A wonderful film." in text.stdout


def test_file_without_metadata(files):
    _model, plain = files
    assert "has no app metadata" in _error(runner.invoke(app, ["predict", str(plain), "text"]))


def test_text_file_not_utf8(files, tmp_path):
    model, _plain = files
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9\n".encode("latin-1"))
    assert "is not UTF-8" in _error(runner.invoke(app, ["predict", str(model), "--file", str(bad)]))


@pytest.mark.parametrize("args, needle", [(["   "], "text 1 is empty"), ([], "no text to predict")])
def test_empty_text(files, args, needle):
    model, _plain = files
    assert needle in _error(runner.invoke(app, ["predict", str(model), *args]))


def test_label_count_and_vocab_mismatch(files, tmp_path):
    """A file whose packed labels or vocab do not fit its graph (re-packed by hand) is refused."""
    from converters.app_metadata import CLASSIFIER, AppSpec, attach
    from mbert_cli.data.vocab import NANO_VOCAB

    _model, plain = files
    three = tmp_path / "three.tflite"
    three.write_bytes(attach(plain.read_bytes(), AppSpec(CLASSIFIER, NANO_VOCAB, ("a", "b", "c"))))
    assert "3 label names for an output of 2 classes" in _error(runner.invoke(app, ["predict", str(three), "x"]))
    short = tmp_path / "vocab.txt"
    short.write_text("\n".join(NANO_VOCAB.read_text().splitlines()[:4000]) + "\n")
    small = tmp_path / "small.tflite"
    small.write_bytes(attach(plain.read_bytes(), AppSpec(CLASSIFIER, short, ("negative", "positive"))))
    assert "4000 tokens but the word embedding has 4096 rows" in _error(runner.invoke(app, ["predict", str(small), "x"]))
