"""`mbert config --show` prints every setting with its range; a bad value fails before any work."""

import json
import subprocess
import sys

from typer.testing import CliRunner

from mbert_cli.cli.app import app
from tests.conftest import ROOT

runner = CliRunner()


def test_config_show_json_lists_fields_with_values_and_ranges():
    result = runner.invoke(app, ["config", "--show", "--preset", "nano-teacher", "--set", "train.steps=7", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["key"]: r for r in json.loads(result.output)}
    assert rows["train.steps"] == {"key": "train.steps", "type": "int", "value": 7, "range": ">= 1"}
    assert rows["encoder.hidden_dropout"]["range"] == "[0, 1)" and rows["encoder.hidden_dropout"]["value"] == 0.1
    assert rows["distill.strategy"]["range"] == "one of: progressive, joint, auxiliary"


def test_config_show_table_and_bad_value_is_one_line():
    result = runner.invoke(app, ["config", "--show"])
    assert result.exit_code == 0 and "train.batch_size" in result.output and ">= 1" in result.output
    bad = runner.invoke(app, ["config", "--set", "train.batch_size=0"])
    assert bad.exit_code == 1
    assert "Error: train.batch_size=0 is invalid: valid range >= 1" in bad.output
    assert "Traceback" not in bad.output


def test_train_with_negative_steps_fails_before_any_work(tmp_path):
    run = tmp_path / "r"
    result = runner.invoke(app, ["train", "teacher", "--run", str(run), "--set", "train.steps=-5"])
    assert result.exit_code == 1
    assert "Error: train.steps=-5 is invalid: valid range >= 1" in result.output
    assert not run.exists()  # refused before a folder, config.yaml or checkpoint was written


def test_config_show_imports_no_tensorflow():
    code = ("import sys\nfrom mbert_cli.cli.app import app\ntry:\n    app(['config', '--show', '--json'])\n"
            "except SystemExit:\n    pass\nprint('TF=' + str('tensorflow' in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.rstrip().endswith("TF=False"), out.stdout[-500:] + out.stderr
