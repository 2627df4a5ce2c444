"""After `mbert import minilm` the rest of the chain runs unchanged: finetune --init, eval, export, bench (slow)."""

import json

import pytest
from typer.testing import CliRunner

from mbert_cli.cli.app import app

runner = CliRunner()


def _ok(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result


@pytest.mark.slow
def test_import_finetune_eval_export_bench(tmp_path):
    run = tmp_path / "minilm"
    _ok(["import", "minilm", "--run", str(run)])
    _ok(["train", "finetune", "--init", str(run / "teacher"), "--no-progress", "--set", "finetune.steps=6",
         "--set", "finetune.max_examples=96", "--set", "data.seq_len=32", "--set", "train.log_every=3"])
    result = _ok(["eval", "--run", str(run), "--task", "classification"])
    metrics = json.loads(result.stdout[result.stdout.index("{"):])
    assert metrics["stage"] == "finetune-classification" and metrics["examples"] == 96
    _ok(["export", "--run", str(run), "--quantize", "none", "dynamic", "--seq-len", "32",
         "--metric-examples", "64"])
    manifest = json.loads((run / "export" / "manifest.json").read_text())
    files = sorted((run / "export").glob("*.tflite"))
    assert len(files) == 2, manifest
    result = _ok(["bench", *map(str, files), "--device", "host", "--runs", "3", "--warmup", "1"])
    assert "float32" in result.stdout or "none" in result.stdout or files[0].name in result.stdout
