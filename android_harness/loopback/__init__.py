"""A loopback adb device on 127.0.0.1 that the real `adb` client attaches like a phone.

Start one by hand with `python -m android_harness.loopback --port 5585`, then
`adb connect 127.0.0.1:5585`. Its timings come from the host CPU: results made through
it are marked by `getprop ro.mbert.loopback` = 1. Its shell runs real host commands as
the user who started it (in the sandbox folder), so, like a phone, it asks for adb's RSA
authentication: only an adb client that signs its AUTH token with an authorised key (by
default the starting user's `~/.android/adbkey`) gets a shell; any other local user who
finds the port is turned away, since a device with no one to ask refuses every new key.
"""

from android_harness.loopback.device import FAULTS, LoopbackDevice

__all__ = ["FAULTS", "LoopbackDevice"]
