"""`mbert export` through the Typer app: a real export, and every bad input as one clear line."""

from __future__ import annotations

import json
import shutil
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
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli-runs") / "s"
    make_run(run)
    return run


def test_export_writes_verified_files_and_manifest(run_dir, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["export", "--run", str(run_dir), "--from", "finetune-classification",
                                 "--quantize", "none", "dynamic", "--seq-len", "32", "--representative", "16",
                                 "--metric-examples", "16", "--max-drop", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.glob("*.tflite"))
    assert names == ["finetune-classification_dynamic_seq32.tflite", "finetune-classification_none_seq32.tflite"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["mode"] for e in manifest["files"]] == ["dynamic", "none"]
    # The run's own task data (shipped reviews, training's tokenizer) feeds parity and accuracy.
    assert manifest["data"]["source"] == "task:shipped" and manifest["data"]["heldout_examples"] == 16
    assert all(e["task_metric"]["name"] == "accuracy" for e in manifest["files"])
    assert "dynamic" in result.stdout and "MB" in result.stdout


@pytest.mark.parametrize("args, needle", [
    (["--quantize", "int4"], "unknown quantization mode 'int4'"),
    (["--quantize", "none", "--seq-len", "1000"], "sequence length 1000"),
    (["--quantize", "none", "--from", "finetune-squad"], "no checkpoint for stage 'finetune-squad'"),
    (["--quantize", "none", "--from", "pretrain"], "unknown stage 'pretrain'"),
])
def test_bad_arguments(run_dir, tmp_path, args, needle):
    out = tmp_path / "out"
    result = runner.invoke(app, ["export", "--run", str(run_dir), "--out", str(out), *args])
    assert needle in _error(result)
    assert not out.exists() or not any(out.iterdir())


def test_output_not_writable(run_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["export", "--run", str(run_dir), "--quantize", "none", "--out", str(blocker / "sub")])
    assert "cannot create output folder" in _error(result)
    assert not (blocker / "sub").exists()


def test_run_without_checkpoint(tmp_path):
    from mbert_cli.config import resolve_config, save_run_config

    save_run_config(resolve_config("nano-student"), tmp_path / "r" / "config.yaml")
    result = runner.invoke(app, ["export", "--run", str(tmp_path / "r"), "--quantize", "none"])
    assert "no checkpoint" in _error(result)
    assert not (tmp_path / "r" / "export").exists()


def test_missing_run(tmp_path):
    result = runner.invoke(app, ["export", "--run", str(tmp_path / "nope"), "--quantize", "none"])
    assert "does not exist" in _error(result)


def test_config_cannot_be_rebuilt(run_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(run_dir, bad)
    text = (bad / "config.yaml").read_text().replace("kind: mobilebert", "kind: transformer-xl")
    (bad / "config.yaml").write_text(text)
    result = runner.invoke(app, ["export", "--run", str(bad), "--quantize", "none"])
    assert "cannot rebuild the run" in _error(result)
    assert not (bad / "export").exists() or not any((bad / "export").iterdir())


def test_checkpoint_from_another_config(run_dir, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    text = (other / "config.yaml").read_text().replace("hidden_size: 64", "hidden_size: 32")
    (other / "config.yaml").write_text(text)
    result = runner.invoke(app, ["export", "--run", str(other), "--quantize", "none", "--seq-len", "32"])
    assert "does not fit the model" in _error(result)
    assert not any((other / "export").glob("*.tflite"))
