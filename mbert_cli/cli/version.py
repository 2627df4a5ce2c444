"""`mbert version`: package and runtime versions, without importing TensorFlow unless asked."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version

import typer

from mbert_cli import __version__
from mbert_cli.cli.common import console, handles_errors

_DISTS = ("tensorflow", "tf-keras", "tf-models-official", "tensorflow-text", "ai-edge-litert", "typer", "rich")


def versions() -> dict[str, str]:
    """Installed versions read from package metadata (cheap: no imports)."""
    out = {"mbert": __version__}
    for dist in _DISTS:
        try:
            out[dist] = dist_version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


@handles_errors
def version_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Print mbert's version and the versions of the libraries it runs on."""
    info = versions()
    if as_json:
        print(json.dumps(info, indent=2))
        return
    out = console()
    for name, ver in info.items():
        out.print(f"{name:20s} {ver}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("version")(version_cmd)
