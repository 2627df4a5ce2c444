"""The CLI answers at once, imports no TensorFlow for help, and reports errors in two lines."""

import json
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from mbert_cli.cli.app import app
from tests.conftest import ROOT

runner = CliRunner()
HEAVY = ("tensorflow", "tf_keras", "official", "ai_edge_litert", "matplotlib", "tensorflow_text")


@pytest.mark.parametrize("argv", [["--help"], ["presets", "--help"], ["presets"], ["version"]])
def test_light_commands_import_no_heavy_library(argv):
    code = (
        "import sys\n"
        "from mbert_cli.cli.app import app\n"
        "try:\n"
        f"    app({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "HEAVY=\n" in out.stdout or out.stdout.rstrip().endswith("HEAVY="), out.stdout + out.stderr


# `mbert --help` may cost this many times the help of a one-command Typer app (the
# framework's own import and rich rendering, which no CLI on Typer avoids). Generous: loading
# TensorFlow or the converters for help costs tens of times more.
HELP_OVER_BARE_TYPER = 4.0
BARE_TYPER_APP = "import typer\napp = typer.Typer()\n@app.command()\ndef main(name: str = 'x'):\n    'One command.'\napp()\n"


def test_help_costs_little_more_than_a_bare_typer_app():
    """Timed against a bare Typer app's --help, interleaved in the same test (best of three
    each), so the machine's load scales both and only the ratio is checked."""
    def seconds(argv: list[str]) -> float:
        start = time.perf_counter()
        out = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return time.perf_counter() - start

    bare, help_ = [], []
    for _ in range(3):
        bare.append(seconds(["-c", BARE_TYPER_APP, "--help"]))
        help_.append(seconds(["-m", "mbert_cli.cli.app", "--help"]))
    ratio = min(help_) / min(bare)
    assert ratio <= HELP_OVER_BARE_TYPER, \
        f"mbert --help took {min(help_):.2f}s, {ratio:.1f}x a bare Typer app's help ({min(bare):.2f}s)"


def test_every_command_group_has_help():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for group in ("train", "export", "bench", "eval", "devices", "demo", "presets", "version", "data"):
        assert group in result.output
        sub = runner.invoke(app, [group, "--help"])
        assert sub.exit_code == 0, (group, sub.output)


def test_presets_table_lists_parameter_counts():
    result = runner.invoke(app, ["presets", "--json"])
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["mobilebert"]["parameters"] == 24_581_888
    assert set(rows) >= {"ib-bert-large", "mobilebert", "mobilebert-tiny", "mobilebert-no-opt", "bert-base",
                         "nano-teacher", "nano-student"}
    table = runner.invoke(app, ["presets"], env={"COLUMNS": "200"})
    assert "24,581,888" in table.output


def test_version_json_names_runtime_packages():
    result = runner.invoke(app, ["version", "--json"])
    info = json.loads(result.output)
    assert info["mbert"]
    assert info["ai-edge-litert"] != "not installed"


def test_mbert_error_is_two_lines_and_exit_1(tmp_path):
    """A known error through the real command: `Error:` + `Hint:` on stderr, exit 1, nothing written;
    with --debug the exception itself comes out instead."""
    from mbert_cli.errors import MbertError

    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    args = ["train", "teacher", "--run", str(tmp_path / "r"), "--config", str(bad)]
    result = runner.invoke(app, args)
    lines = result.stderr.splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 2, lines
    assert lines[0].startswith("Error: ") and "malformed YAML" in lines[0] and lines[1].startswith("Hint: ")
    assert "Traceback" not in result.stderr and not (tmp_path / "r").exists()
    debug = runner.invoke(app, ["--debug", *args])
    assert isinstance(debug.exception, MbertError) and "Error: " not in debug.stderr
