"""A loopback adb device on 127.0.0.1 that the real `adb` client attaches like a phone.

Start one by hand with `python -m android_harness.loopback --port 5585`, then
`adb connect 127.0.0.1:5585`. Its timings come from the host CPU: results made through
it are marked by `getprop ro.mbert.loopback` = 1.
"""

from android_harness.loopback.device import FAULTS, LoopbackDevice

__all__ = ["FAULTS", "LoopbackDevice"]
