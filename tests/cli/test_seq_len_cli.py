"""`mbert export --seq-len 16,32` and `mbert bench --seq-len ... --lengths-from ...` end to end,
and every bad length / data input as one line with nothing written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.result import BenchReport
from mbert_cli.cli.app import app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "converters"))
from export_helpers import make_run
from export_helpers import one_error_line as _error

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a bench without --json writes ./bench/...


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A nano fine-tuned run exported at 16,32 (float32 and int8) through the CLI."""
    root = tmp_path_factory.mktemp("seq-cli")
    run = root / "s"
    make_run(run)
    out = root / "out"
    result = runner.invoke(app, ["export", "--run", str(run), "--from", "finetune-classification",
                                 "--quantize", "none", "int8", "--seq-len", "32,16", "--representative", "16",
                                 "--metric-examples", "16", "--max-drop", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return run, out, result


def test_export_list_writes_one_file_per_mode_with_a_signature_per_length(exported):
    _run, out, result = exported
    names = sorted(p.name for p in out.glob("*.tflite"))
    assert names == ["finetune-classification_int8_seq16-32.tflite", "finetune-classification_none_seq16-32.tflite"]
    manifest = json.loads((out / "manifest.json").read_text())
    for entry in manifest["files"]:
        assert entry["seq_lens"] == [16, 32] and entry["seq_len"] == 32 and not entry["dynamic"]
        assert [s["key"] for s in entry["signatures"]] == ["seq16", "seq32"]
        assert entry["size_bytes"] == (out / entry["file"]).stat().st_size
        # every length passed parity and the accuracy gate on the run's own task data
        assert all(s["task_metric"]["name"] == "accuracy" for s in entry["signatures"])
        assert all(s["parity"]["top1_agreement"] >= 0.9 for s in entry["signatures"])
    assert "seq 16,32" in result.stdout


@pytest.mark.parametrize("value, needle", [
    ("32,1000", "sequence length 1000 is beyond the model's position table (128 positions)"),
    ("0", "sequence length 0 is not positive"),
    ("32,x", "'x' is not a whole number"),
    ("32,16,32", "lists 32 more than once"),
])
def test_export_bad_lengths_one_line_nothing_written(exported, tmp_path, value, needle):
    run, _out, _ = exported
    out = tmp_path / "bad"
    result = runner.invoke(app, ["export", "--run", str(run), "--quantize", "none", "--seq-len", value,
                                 "--out", str(out)])
    assert needle in _error(result)
    assert not out.exists()


def test_bench_curve_and_task_lengths(exported, tmp_path):
    from converters.lengths import bucket_for
    from mbert_cli.data.classification import load_classification
    from mbert_cli.data.tokenizer import WordPieceTokenizer
    from mbert_cli.data.vocab import NANO_VOCAB

    _run, out, _ = exported
    model = out / "finetune-classification_none_seq16-32.tflite"
    js, png = tmp_path / "r.json", tmp_path / "r.png"
    result = runner.invoke(app, ["bench", str(model), "--seq-len", "8,16,32", "--lengths-from", "shipped",
                                 "--runs", "10", "--warmup", "1", "--out", str(js), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    report = BenchReport.from_json(js.read_text())
    assert [(r.requested_seq_len, r.seq_len, r.signature) for r in report.results] == \
        [(8, 16, "seq16"), (16, 16, "seq16"), (32, 32, "seq32")]
    assert all(r.coverage.partitions and r.coverage.delegated_nodes for r in report.results)
    (task,) = report.task_lengths
    # Independently: the validation split tokenized with the nano vocab, [CLS]/[SEP] added.
    _train, dev, _ = load_classification("shipped")
    lengths = [len(ids) + 2 for ids in WordPieceTokenizer(NANO_VOCAB).tokenize([e.text_a for e in dev])]
    expected = {}
    for n in lengths:
        b = bucket_for(n, (8, 16, 32)) or 32
        expected[str(b)] = expected.get(str(b), 0) + 1
    assert task.requests == len(dev) and task.served == expected
    assert task.truncated == sum(n > 32 for n in lengths) and task.fixed_seq_len == 32
    samples = sorted(x for r in report.results for x in r.samples_ms)
    assert samples[0] <= task.p50_ms <= task.p90_ms <= samples[-1]
    for needle in ("served by", "seq16 @ 16", "task's own lengths", "fixed p50", "p50 ratio"):
        assert needle in result.stdout, needle
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, needle", [
    (["--seq-len", "16,64"], "--seq-len 64 is longer than"),
    (["--seq-len", "-4"], "sequence length -4 is not positive"),
    (["--seq-len", "sixteen"], "'sixteen' is not a whole number"),
    (["--seq-len", "16,16"], "lists 16 more than once"),
    (["--seq-len", "dynamic"], "'dynamic' is not a whole number"),
    (["--lengths-from", "shipped"], "--lengths-from needs --seq-len"),
    (["--seq-len", "16", "--lengths-from", "EMPTY_TSV"], "has no examples"),
    (["--seq-len", "16", "--lengths-from", "EMPTY_TXT"], "has no rows"),
    (["--seq-len", "16", "--lengths-from", "missing.tsv"], "data file not found"),
])
def test_bench_bad_input_one_line_nothing_written(exported, tmp_path, args, needle):
    _run, out, _ = exported
    (tmp_path / "empty.tsv").write_text("sentence\tlabel\n")
    (tmp_path / "empty.txt").write_text("\n\n")
    args = [{"EMPTY_TSV": str(tmp_path / "empty.tsv"), "EMPTY_TXT": str(tmp_path / "empty.txt")}.get(a, a)
            for a in args]
    result = runner.invoke(app, ["bench", str(out / "finetune-classification_none_seq16-32.tflite"), *args,
                                 "--runs", "2", "--warmup", "0"])
    assert needle in _error(result)
    assert not (tmp_path / "bench").exists()
