"""A loopback adb device on 127.0.0.1 that the real `adb` client attaches like a phone.

Start one by hand with `python -m android_harness.loopback --port 5585`, then
`adb connect 127.0.0.1:5585`. Its timings come from the host CPU: results made through
it are marked by `getprop ro.mbert.loopback` = 1. Its shell runs real host commands as
the user who started it (in the sandbox folder), and it listens on 127.0.0.1 only: on a
shared machine anyone who can reach the port can run commands as you.
"""

from android_harness.loopback.device import FAULTS, LoopbackDevice

__all__ = ["FAULTS", "LoopbackDevice"]
