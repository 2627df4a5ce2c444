"""docs/cli.md is the reference Typer generates from the app: a changed option without `make docs` fails."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_committed_cli_reference_is_current(tmp_path):
    generated = tmp_path / "cli.md"
    typer = Path(sys.executable).parent / "typer"
    out = subprocess.run([str(typer), "mbert_cli.cli.app", "utils", "docs", "--name", "mbert", "--output",
                          str(generated)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    committed = (ROOT / "docs" / "cli.md").read_text()
    assert committed == generated.read_text(), "docs/cli.md is stale: run `make docs`"
