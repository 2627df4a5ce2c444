"""What the adb path costs: the loopback device against the host runner on the same model.

    python -m studies.adb_overhead --make-models    # mobilebert dynamic, seq 128
    python -m studies.adb_overhead                  # = --tiny: nano-student dynamic, seq 64
    python -m studies.adb_overhead MODEL.tflite... [--threads 1] [--runs 50]

Needs the `adb` client; says so and exits 0 without.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from studies import _models
from studies._common import model_args, resolve_models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_args(parser, default_make=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args(argv)
    if shutil.which("adb") is None:
        print("skipped: the adb client is not installed (apt-get install adb)")
        return 0
    from android_harness.attach import loopback_adb, write_stand_in_binary
    from android_harness.device import DeviceSession, list_devices, resolve_devices

    if not args.models and not args.make_models:
        args.tiny = True  # the default: the adb path's cost does not need the big model
    models = resolve_models(args, variants=[_models.SUITE_DYNAMIC], tiny_variants=[_models.TINY_DYNAMIC])

    from benchmarks.device import DeviceBackend, DeviceSettings, run_devices
    from benchmarks.host import HostSettings, run_host

    binary = write_stand_in_binary(Path(tempfile.mkdtemp(prefix="mbert-study-bin-")) / "benchmark_model")
    print(f"{'model':38s} {'host min':>9s} {'adb min':>9s} {'min x':>6s} {'host mean':>10s} {'adb mean':>9s} "
          f"{'mean x':>7s} {'host wall s':>12s} {'adb wall s':>11s} {'overhead s':>11s}")
    with loopback_adb(1) as (adb, _serials):
        backend = DeviceBackend(adb=adb, resolve_devices=resolve_devices, list_devices=list_devices,
                                session=DeviceSession)
        for model in models:
            t0 = time.perf_counter()
            (host,) = run_host([model], HostSettings(threads=args.threads, runs=args.runs, warmup=args.warmup))
            host_wall = time.perf_counter() - t0
            t0 = time.perf_counter()
            report = run_devices([model], "all", binary, DeviceSettings(threads=args.threads, runs=args.runs,
                                                                        warmup=args.warmup), backend=backend)
            adb_wall = time.perf_counter() - t0
            name = Path(model).name
            if not report.results:
                print(f"{name:38s} adb path failed: {report.failures[0].message}")
                continue
            h, d = host.inference, report.results[0].inference
            # benchmark_model prints min/avg but (older builds) no median: compare like with like.
            print(f"{name:38s} {h.min_ms:9.3f} {d.min_ms:9.3f} {d.min_ms / h.min_ms:5.2f}x {h.mean_ms:10.3f} "
                  f"{d.mean_ms:9.3f} {d.mean_ms / h.mean_ms:6.2f}x {host_wall:12.2f} {adb_wall:11.2f} "
                  f"{adb_wall - host_wall:11.2f}")
    print("adb min/mean: the loopback benchmark_model's own timer; wall: the whole call incl. push and thermals")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
