"""`python -m android_harness.loopback --port 5585 [--sandbox DIR] [--fault NAME]`."""

from __future__ import annotations

import argparse
import signal
import threading

from android_harness.loopback.device import FAULTS, LoopbackDevice
from mbert_cli.errors import MbertError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m android_harness.loopback",
        description="Serve a loopback adb device on 127.0.0.1 until Ctrl-C; attach it with "
                    "`adb connect 127.0.0.1:PORT`. Its shell runs host commands as you in the sandbox, "
                    "so like a phone it asks for adb's RSA authentication: only an adb client holding "
                    "an authorised key (by default your ~/.android/adbkey) gets in.")
    parser.add_argument("--port", type=int, default=5585, help="TCP port (default 5585)")
    parser.add_argument("--sandbox", help="folder standing in for /data/local/tmp "
                                          "(default: a temporary folder, removed on exit)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME[=VALUE]",
                        help=f"fault switch, repeatable: {', '.join(FAULTS)} (slow=SECONDS)")
    parser.add_argument("--no-benchmark-model", action="store_true",
                        help="start without the benchmark_model it otherwise offers at /data/local/tmp")
    parser.add_argument("--authorized-key", action="append", metavar="FILE",
                        help="public keys allowed in (adbkey.pub / adb_keys format, one per line), "
                             "repeatable; default: your ~/.android/adbkey.pub, made with its pair if absent")
    args = parser.parse_args(argv)
    try:
        device = LoopbackDevice(port=args.port, sandbox=args.sandbox, faults=args.fault,
                                benchmark_model=not args.no_benchmark_model,
                                authorized_keys=args.authorized_key)
    except (OSError, ValueError, MbertError) as exc:
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
