"""The adb layer: the real `adb` client, device profiles, benchmark runs on a phone.

Also ships a loopback adb device (`android_harness.loopback`) so the whole path is
testable without a phone. Nothing here imports TensorFlow.
"""
