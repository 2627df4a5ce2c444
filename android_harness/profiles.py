"""Device profiles (`pixel4`, `generic`, ...) loaded from profiles.yaml.

A profile says how benchmark_model runs on a kind of phone (core mask, threads) and
which `getprop` values identify it, so `--device pixel4` finds the right phone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources

import yaml

from mbert_cli.errors import MbertError

GENERIC = "generic"


@dataclass(frozen=True)
class DeviceProfile:
    """How to benchmark on one kind of device."""

    name: str
    description: str
    soc: str
    abi: str            # expected ABI, or 'any'
    cpu_mask: str | None  # hex mask for taskset; None = no pinning
    threads: int
    match: dict = field(default_factory=dict)  # property -> list of accepted values

    def matches(self, props: dict) -> bool:
        """True when every property in `match` has one of the accepted values."""
        return all(str(props.get(key, "")) in values for key, values in self.match.items())


@functools.lru_cache(maxsize=1)
def _load() -> tuple[DeviceProfile, ...]:
    text = resources.files("android_harness").joinpath("profiles.yaml").read_text()
    profiles = []
    for name, spec in yaml.safe_load(text).items():
        match = {k: [str(x) for x in (v if isinstance(v, list) else [v])]
                 for k, v in (spec.get("match") or {}).items()}
        mask = spec.get("cpu_mask")
        profiles.append(DeviceProfile(
            name=name, description=spec.get("description", ""), soc=spec.get("soc", "unknown"),
            abi=spec.get("abi", "any"), cpu_mask=None if mask is None else str(mask),
            threads=int(spec.get("threads", 4)), match=match))
    return tuple(profiles)


def load_profiles() -> dict[str, DeviceProfile]:
    """All profiles by name, in file order."""
    return {p.name: p for p in _load()}


def get_profile(name: str) -> DeviceProfile:
    """The named profile; MbertError listing the valid names otherwise."""
    profiles = load_profiles()
    if name not in profiles:
        raise MbertError(f"unknown device profile {name!r}",
                         hint=f"use one of: {', '.join(profiles)}")
    return profiles[name]


def match_profile(props: dict) -> DeviceProfile:
    """The first specific profile whose properties match, else `generic`."""
    profiles = load_profiles()
    for profile in profiles.values():
        if profile.name != GENERIC and profile.match and profile.matches(props):
            return profile
    return profiles[GENERIC]
