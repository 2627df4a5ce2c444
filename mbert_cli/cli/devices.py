"""`mbert devices`: attached Android devices, their ABI, and the profile `bench` would use."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer
from rich.table import Table

from mbert_cli.cli.common import console, handles_errors


@handles_errors
def devices_cmd(
    adb: Annotated[str | None, typer.Option(
        "--adb", help="The adb client to use. Default: adb on PATH.", show_default=False)] = None,
    adb_port: Annotated[int | None, typer.Option(
        "--adb-port", help="adb server port (adb -P). Default: adb's own (5037).", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List attached Android devices with model, Android version, ABI and matching profile."""
    from benchmarks.device import harness_backend  # noqa: PLC0415

    backend = harness_backend(adb, adb_port)
    rows = [dataclasses.asdict(d) for d in backend.list_devices(backend.adb)]  # android_harness DeviceInfo
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    out = console()
    if not rows:
        out.print("No devices attached. Enable USB debugging and check `adb devices`.", markup=False)
        return
    table = Table(title="attached devices")
    for col in ("serial", "state", "model", "android", "abi", "profile"):
        table.add_column(col)
    for r in rows:
        model = f"{r['model']} (loopback)" if r["loopback"] else str(r["model"])
        table.add_row(r["serial"], str(r["state"]), model, str(r["android_version"]), str(r["abi"]),
                      str(r["profile"] or "-"))
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("devices")(devices_cmd)
