"""benchmarks/environment.py: the CPU's model, speed flags and core count read from /proc/cpuinfo."""

from benchmarks.environment import SPEED_FLAGS, cpu_flags, cpu_summary

# Two sockets of one core with two hardware threads each, as /proc/cpuinfo lists them.
CPUINFO = """processor\t: 0
model name\t: Test CPU 9000
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu sse avx2 amx_int8 fma avx512f avx512_vnni avx512_vnni_extra

processor\t: 1
model name\t: Test CPU 9000
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu sse avx2 amx_int8 fma avx512f avx512_vnni avx512_vnni_extra

processor\t: 2
model name\t: Test CPU 9000
physical id\t: 1
core id\t\t: 0
flags\t\t: fpu sse avx2 amx_int8 fma avx512f avx512_vnni avx512_vnni_extra
"""


def test_flags_are_the_speed_flags_present_in_a_fixed_order(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text(CPUINFO)
    assert cpu_flags(info) == ["avx2", "fma", "avx512f", "avx512_vnni", "amx_int8"]  # no partial-name matches


def test_a_cpu_without_speed_flags_or_without_cpuinfo_has_none(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm aes\n")  # ARM: no x86 flags line
    assert cpu_flags(info) == []
    assert cpu_flags(tmp_path / "absent") == []


def test_summary_counts_physical_cores_not_hardware_threads(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text(CPUINFO)
    cpu = cpu_summary(info)
    assert cpu["model"] == "Test CPU 9000"
    assert cpu["cores"] == 2  # processors 0 and 1 are one core's two threads
    assert cpu["threads"] >= 1
    assert set(cpu["flags"]) <= set(SPEED_FLAGS)


def test_this_machines_cpu_is_described():
    cpu = cpu_summary()
    assert cpu["model"] and cpu["threads"] >= 1
    assert cpu["cores"] is None or cpu["cores"] >= 1
