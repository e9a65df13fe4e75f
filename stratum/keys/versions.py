"""The library versions that are part of every key, without importing anything."""
from __future__ import annotations

import sys

from interposer.registry import TRACED_LIBRARIES
from stratum import __version__


def version_tag() -> str:
    parts = [f"python={sys.version.split()[0]}", f"stratum={__version__}"]
    for name in TRACED_LIBRARIES:
        module = sys.modules.get(name)
        parts.append(f"{name}={getattr(module, '__version__', '-')}")
    return ";".join(parts)
