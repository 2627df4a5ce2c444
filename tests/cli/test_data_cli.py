"""`mbert data prepare` / `mbert data vocab` through the CLI: success and each bad input."""

import json

import pytest
from typer.testing import CliRunner

from mbert_cli.cli.app import app

runner = CliRunner()


def prepare(out, *extra):
    return runner.invoke(app, ["data", "prepare", "--preset", "nano-student", "--out", str(out), *extra])


def test_prepare_writes_records_config_and_prints_statistics(tmp_path):
    out = tmp_path / "pre"
    result = prepare(out, "--max-documents", "30")
    assert result.exit_code == 0, result.output
    assert "masked share" in result.output and "examples (train / eval)" in result.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["counts"]["documents"] == 30 and meta["seq_len"] == 64
    assert sorted(p.name for p in out.iterdir()) == [
        "config.yaml", "eval-00000-of-00001.tfrecord", "meta.json",
        "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"]
    assert "max_documents: 30" in (out / "config.yaml").read_text()


def test_prepare_into_a_run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.txt").write_text("A b c.\nD e f.\n\nG h i.\nJ k l.\n", encoding="utf-8")
    result = runner.invoke(app, ["data", "prepare", "--run", "runs/r1", "--corpus", "c.txt"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs/r1/data/pretrain/meta.json").is_file()


def _vocab(tmp_path, tokens):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return str(path)


BAD = {
    "missing corpus": (lambda p: ["--corpus", str(p / "nope.txt")], "corpus not found"),
    "empty corpus": (lambda p: ["--corpus", _write(p / "e.txt", b"\n\n")], "is empty"),
    "non-UTF-8 corpus": (lambda p: ["--corpus", _write(p / "l.txt", b"na\xefve caf\xe9\n")], "is not UTF-8"),
    "vocab without specials": (lambda p: ["--vocab", _vocab(p, ["[PAD]", "[UNK]"] + ["w"] * 4094)],
                               "lacks the special token(s) [CLS] [SEP] [MASK]"),
    "vocab of another size": (lambda p: ["--vocab", _vocab(p, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"])],
                              "has 6 tokens but the model's vocab_size is 4096"),
    "unknown preset": (lambda p: ["--preset", "nano-giant"], "unknown preset 'nano-giant'"),
    "malformed YAML": (lambda p: ["--config", _write(p / "c.yaml", b"data: [seq_len: 64\n")], "yaml"),
    "unknown --set key": (lambda p: ["--set", "data.seq_length=64"], "unknown config key 'data.seq_length'"),
    "mistyped --set value": (lambda p: ["--set", "data.seq_len=long"], "expects int"),
    "seq len over maximum": (lambda p: ["--set", "data.seq_len=1000"], "exceeds the preset's maximum 128"),
}


def _write(path, data):
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_error_line_and_writes_nothing(tmp_path, case):
    args, message = BAD[case]
    out = tmp_path / "out"
    result = prepare(out, *args(tmp_path))
    assert result.exit_code == 1, result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and message.lower() in error[0].lower(), result.output
    assert any(line.startswith("Hint:") for line in result.output.splitlines())
    assert "Traceback" not in result.output
    assert not out.exists()


def test_vocab_command_builds_an_exact_size_vocab(tmp_path):
    corpus = _write(tmp_path / "c.txt", b"the cat sat on the mat.\nthe dog sat.\n\na cat and a dog.\n")
    result = runner.invoke(app, ["data", "vocab", "--corpus", corpus, "--size", "200", "--out", str(tmp_path / "v.txt")])
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "v.txt").read_text().splitlines()) == 200
