"""The machine a benchmark ran on: a figure means little without it.

Library versions come from the installed distributions' metadata, so nothing is imported.
"""
from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

LIBRARIES = ("numpy", "pandas", "scikit-learn", "stratum")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30), 1)
    except (ValueError, OSError, AttributeError):
        return None


def describe() -> dict:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    if versions["stratum"] is None:  # running from a source tree
        from stratum import __version__

        versions["stratum"] = __version__
    try:
        load = round(os.getloadavg()[0], 1)  # other jobs on the machine skew absolute seconds
    except OSError:
        load = None
    return {"cores": os.cpu_count(), "cpu": _cpu_model(), "ram_gib": _ram_gib(), "load_1min": load,
            "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "implementation": sys.implementation.name,
            **versions}


def one_line(m: dict) -> str:
    libs = ", ".join(f"{k} {m.get(k)}" for k in LIBRARIES if m.get(k))
    load = f", load average {m['load_1min']}" if m.get("load_1min") is not None else ""
    return (f"{m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, {m['os']}{load}; "
            f"CPython {m['python']}, {libs}")
