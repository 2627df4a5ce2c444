"""Device latency: TFLite's `benchmark_model` on phones over adb, one thread per device.

The adb work (push, ABI check, quoting, cleanup) belongs to `android_harness`; this module
decides what to run, parses what came back into BenchResult, and keeps one device's
failure from losing the other devices' results.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from android_harness.adb import Adb
from android_harness.device import DeviceInfo, DeviceSession, list_devices, resolve_devices
from android_harness.profiles import DeviceProfile
from android_harness.protocols import AdbClient, DeviceLister, DeviceResolver, SessionFactory
from benchmarks.benchmark_model_output import BenchmarkModelError, parse_benchmark_output
from benchmarks.environment import build_info
from benchmarks.host import plan_lengths, signature_lengths
from benchmarks.model_file import describe_model
from benchmarks.result import BenchReport, BenchResult, BuildInfo, Environment, Failure, ModelInfo, RunnerInfo, Settings
from mbert_cli import interrupts
from mbert_cli.errors import MbertError
from mbert_cli.io_utils import sha256_file
from mbert_cli.runtime import load_runtime

if TYPE_CHECKING:
    from benchmarks.host import LengthTarget


@dataclass
class DeviceSettings:
    """What to run on each device; `threads=None` takes the device profile's count."""

    threads: int | None = None
    runs: int = 50
    warmup: int = 5
    min_seconds: float = 0.0
    delegate: str = "xnnpack"
    op_profiling: bool = False
    keep: bool = False
    cool_down_temp: float | None = None
    cool_down_timeout: float = 300.0
    cool_down_poll: float = 5.0
    timeout: float | None = None
    # Device paths searched for benchmark_model when no local binary is given (None: the
    # harness's list, /data/local/tmp first, or $MBERT_BENCHMARK_PLACES).
    binary_places: tuple[str, ...] | None = None
    seq_lens: tuple[int, ...] | None = None  # measure each model at these lengths (see length_flags)


@dataclass
class DeviceBackend:
    """The android_harness entry points this runner uses (`android_harness.protocols`); tests pass doubles."""

    adb: AdbClient
    resolve_devices: DeviceResolver
    list_devices: DeviceLister
    session: SessionFactory


def harness_backend(adb_path: str | None = None, adb_port: int | None = None,
                    adb: AdbClient | None = None) -> DeviceBackend:
    """The real backend: android_harness over the system `adb` client (or `adb`, one already bound)."""
    # Adb() itself raises MbertError ("adb not found ...", with the install hint) when the client is missing.
    adb = adb or Adb(adb_path=adb_path, server_port=adb_port)
    return DeviceBackend(adb=adb, resolve_devices=resolve_devices, list_devices=list_devices, session=DeviceSession)


def run_devices(models: Sequence[str | Path], spec: str, binary: str | Path | None,
                settings: DeviceSettings | None = None, backend: DeviceBackend | None = None,
                adb_path: str | None = None, adb_port: int | None = None) -> BenchReport:
    """Benchmarks every model on every device `spec` names, devices in parallel.

    Args:
        models: local .tflite paths, all checked before anything is pushed.
        spec: a profile name (`pixel4`), a serial, or `all`.
        binary: the local arm64 `benchmark_model`; the harness checks its ABI. None: use one
            already on each device (the first of `settings.binary_places` whose ABI fits).
        settings: run budget, delegate, threads, cool-down.
        backend: the harness entry points (default: android_harness over real adb).
        adb_path: the adb client to use for the default backend (default: `adb` on PATH).
        adb_port: the adb server port for the default backend (adb's -P).

    Returns:
        A BenchReport: results per device and model in order, plus one Failure per device
        or model that produced none.
    """
    settings = settings or DeviceSettings()
    infos = [describe_model(m) for m in models]
    binary_path = _check_binary(binary) if binary is not None and str(binary) != "" else None
    backend = backend or harness_backend(adb_path, adb_port)
    targets = backend.resolve_devices(backend.adb, spec)
    if not targets:
        raise MbertError(f"no attached device matches '{spec}'",
                         hint="connect a phone with USB debugging on and check `mbert devices`")
    try:
        details = {d.serial: d for d in backend.list_devices(backend.adb)}
    except MbertError:
        details = {}
    build = build_info()
    binary_sha = sha256_file(binary_path) if binary_path is not None else None

    def one(target: tuple[str, DeviceProfile]) -> tuple[list[BenchResult], list[Failure], list[str]]:
        serial, profile = target
        notes: list[str] = []
        try:
            results, failures = _run_one_device(backend, serial, profile, details.get(serial), infos, binary_path,
                                                binary_sha, settings, build, notes)
            return results, failures, notes
        except MbertError as err:
            return [], [Failure(target=serial, message=err.message, hint=err.hint)], notes
        except Exception as err:  # noqa: BLE001 - one broken device must not lose the others
            return [], [Failure(target=serial, message=f"unexpected error: {type(err).__name__}: {err}",
                                hint="re-run with --debug on this device alone")], notes

    report = BenchReport(created_at=_now())
    with ThreadPoolExecutor(max_workers=len(targets), thread_name_prefix="mbert-device") as pool:
        for results, failures, notes in pool.map(one, targets):
            report.results.extend(results)
            report.failures.extend(failures)
            report.notes.extend(notes)
    return report


def _run_one_device(backend: DeviceBackend, serial: str, profile: DeviceProfile, info: DeviceInfo | None,
                    models: list[ModelInfo], binary: Path | None, binary_sha: str | None, settings: DeviceSettings,
                    build: BuildInfo, notes: list[str] | None = None):
    threads = settings.threads if settings.threads is not None else profile.threads or 1
    if threads < 1:
        raise MbertError(f"--threads {threads} is invalid: valid range >= 1", hint="pass --threads 1 or more")
    run_settings = Settings(threads=threads, delegate=settings.delegate, warmup_runs=settings.warmup,
                            runs=settings.runs, min_seconds=settings.min_seconds, op_profiling=settings.op_profiling)
    results: list[BenchResult] = []
    failures: list[Failure] = []
    runs = _length_runs(models, settings.seq_lens)
    with backend.session(backend.adb, serial, profile, keep=settings.keep) as session:
        loopback = session.is_loopback()
        runner = RunnerInfo(kind="device", serial=serial, profile=profile.name, loopback=loopback,
                            device_model=info.model if info else None)
        if binary is not None:
            remote_binary = session.prepare_binary(str(binary))
            note = f"{serial}: ran {binary} (pushed, sha256 {binary_sha[:12]})"
        else:
            found = session.find_binary(settings.binary_places)
            remote_binary, binary_sha = found.path, found.sha256
            note = f"{serial}: ran the benchmark_model found on the device at {found.path} ({found.abi}, " \
                   f"sha256 {binary_sha[:12]})"
        if notes is not None:
            notes.append(note)
        env = Environment(
            cpu_model=profile.soc, android_version=info.android_version if info else None,
            android_build=info.build if info else None, device_model=info.model if info else None,
            abi=info.abi if info else None, runtime_name="benchmark_model",
            runtime_version=f"{remote_binary} sha256:{binary_sha[:12]}",
            os="loopback (host LiteRT)" if loopback else "Android",
        )
        pushed: dict[str, str] = {}
        for index, (model, target, length_flags) in enumerate(runs):
            # Ctrl-C/SIGTERM: stop between models; leaving the session removes this run's files.
            interrupts.check()
            warnings = []
            try:
                if settings.cool_down_temp is not None and session.cool_down(
                        settings.cool_down_temp, settings.cool_down_timeout, settings.cool_down_poll) is None:
                    warnings.append("cool-down skipped: the device reports no battery temperature")
                if model.path not in pushed:
                    pushed[model.path] = session.push_model(model.path)
                remote = pushed[model.path]
                # benchmark_model's own default is 1 s minimum; pass ours so host and device agree.
                raw = session.run_benchmark_model(
                    remote_binary, remote, threads=threads, warmup_runs=settings.warmup, num_runs=settings.runs,
                    delegate=settings.delegate, op_profiling=settings.op_profiling, timeout=settings.timeout,
                    extra_flags=[f"--min_secs={settings.min_seconds:g}", *length_flags])
                parsed = parse_benchmark_output(raw.stdout, raw.stderr, raw.exit_code)
            except BenchmarkModelError as err:
                # The tool ran and this model failed: the next model may well run.
                failures.append(Failure(target=f"{serial} {model.name}", message=err.message, hint=err.hint))
                continue
            except MbertError as err:
                # The device failed (gone, full, timed out): the remaining models would fail the
                # same way, each after its own timeout, so they are reported as not run.
                failures.append(Failure(target=f"{serial} {model.name}", message=err.message, hint=err.hint))
                rest = runs[index + 1:]
                failures.extend(Failure(target=f"{serial} {m.name}", message=f"not run: {err.message}",
                                        hint=err.hint) for m, _t, _f in rest)
                break
            coverage = parsed.coverage(settings.delegate)
            if coverage.partial:
                warnings.append(f"partial delegation: {coverage.delegate} ran {coverage.delegated_nodes}/"
                                f"{coverage.total_nodes} nodes in {coverage.partitions} partitions")
            elif parsed.partially_delegated:
                warnings.append(f"partial delegation: the {settings.delegate} delegate ran only part of the graph")
            warnings.extend(_thermal_warnings(raw.thermal_before, raw.thermal_after))
            results.append(BenchResult(
                model=model, runner=runner, settings=run_settings, inference=parsed.latency_stats(),
                init_ms=parsed.init_us / 1e3, first_inference_ms=parsed.first_inference_us / 1e3,
                warmup_mean_ms=parsed.warmup_avg_us / 1e3, memory=parsed.memory(), coverage=coverage,
                environment=env, build=build, thermal_before=dict(raw.thermal_before or {}),
                thermal_after=dict(raw.thermal_after or {}), warnings=warnings, command=_command_text(raw.command),
                created_at=_now(), seq_len=target.seq_len if target else None,
                requested_seq_len=target.requested if target else None, signature=target.signature if target else None,
            ))
    return results, failures


def _length_runs(models: list[ModelInfo], seq_lens: Sequence[int] | None) -> list[tuple[ModelInfo, LengthTarget | None, list[str]]]:
    """(model, LengthTarget or None, benchmark_model flags) per run: one per model, or one per
    model and length: `--signature_to_run_for=seqN` for a file with a signature per length,
    `--input_layer=... --input_layer_shape=1,N:...` for a resizable one (the real tool's flags)."""
    if not seq_lens:
        return [(m, None, []) for m in models]
    out = []
    for m in models:
        interp = load_runtime().interpreter(m.path, xnnpack=False)
        sigs = signature_lengths(interp)
        for t in plan_lengths(m.path, sigs, seq_lens, m.seq_len):
            if t.resize:
                details = interp.get_signature_runner(t.signature).get_input_details()
                names = [d["name"] for d in details.values()]
                shapes = [",".join(str(x) for x in [d["shape"][0], t.seq_len, *d["shape"][2:]]) for d in details.values()]
                flags = [f"--input_layer={','.join(names)}", f"--input_layer_shape={':'.join(shapes)}"]
            else:
                flags = [f"--signature_to_run_for={t.signature}"] if len(sigs) > 1 else []
            out.append((m, t, flags))
    return out


def _check_binary(binary: str | Path | None) -> Path:
    if binary is None or str(binary) == "":
        raise MbertError("no benchmark_model binary given",
                         hint="pass --benchmark-binary PATH or set MBERT_BENCHMARK_BINARY (arm64 build from the "
                              "TFLite releases)")
    p = Path(binary)
    if not p.is_file():
        raise MbertError(f"benchmark_model binary not found: {p}",
                         hint="download the arm64 benchmark_model from the TFLite releases, or build it with Bazel")
    return p


def _battery_c(thermal: dict[str, Any] | None) -> float | None:
    """Battery temperature in Celsius, as android_harness's `DeviceSession.thermal()` reports it."""
    value = (thermal or {}).get("battery_temp_c")
    return float(value) if isinstance(value, (int, float)) else None


def _thermal_status(thermal: dict[str, Any] | None) -> int | None:
    """Android thermal status (0 none, 1 light, 2 moderate, 3 severe, ...); None if unknown."""
    value = (thermal or {}).get("thermal_status")
    return int(value) if isinstance(value, (int, float)) else None


def _thermal_warnings(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    status = _thermal_status(after)
    out = []
    if status:
        out.append(f"thermal status {status} after the run (>0 means the phone may throttle)")
    b, a = _battery_c(before), _battery_c(after)
    if b is not None and a is not None and a - b >= 3.0:
        out.append(f"battery warmed {a - b:.1f} C during the run")
    return out


def _command_text(command: list[str] | str) -> str:
    return shlex.join(command) if isinstance(command, (list, tuple)) else str(command)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
