"""`python -m android_harness.loopback --port 5585 [--sandbox DIR] [--fault NAME]`."""

from __future__ import annotations

import argparse
import signal
import threading

from android_harness.loopback.device import FAULTS, LoopbackDevice


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m android_harness.loopback",
        description="Serve a loopback adb device on 127.0.0.1 until Ctrl-C; attach it with "
                    "`adb connect 127.0.0.1:PORT`. Its shell runs host commands as you in the sandbox: "
                    "anyone who can reach the port can, so use it on a machine you trust.")
    parser.add_argument("--port", type=int, default=5585, help="TCP port (default 5585)")
    parser.add_argument("--sandbox", help="folder standing in for /data/local/tmp "
                                          "(default: a temporary folder, removed on exit)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME[=VALUE]",
                        help=f"fault switch, repeatable: {', '.join(FAULTS)} (slow=SECONDS)")
    parser.add_argument("--no-benchmark-model", action="store_true",
                        help="start without the benchmark_model it otherwise offers at /data/local/tmp")
    args = parser.parse_args(argv)
    try:
        device = LoopbackDevice(port=args.port, sandbox=args.sandbox, faults=args.fault,
                                benchmark_model=not args.no_benchmark_model)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    stop = threading.Event()
    # Ctrl-C and SIGTERM only set a flag: the device then stops in order, never with a
    # KeyboardInterrupt raised at some arbitrary line.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with device:
        print(f"loopback adb device on {device.address} (sandbox {device.sandbox}"
              f"{', faults ' + ','.join(device.faults) if device.faults else ''}); "
              f"run: adb connect {device.address}   (Ctrl-C stops)", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
