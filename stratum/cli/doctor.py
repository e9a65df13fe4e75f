"""``python -m stratum doctor``: what is installed and what would be active in a run."""
from __future__ import annotations

import sys

from stratum import __version__
from stratum.config import CacheDirError, Settings, prepare_cache_dir


def _check(label: str, ok: bool, detail: str, out) -> bool:
    out.write(f"  [{'ok' if ok else '--'}] {label:<22} {detail}\n")
    return ok


def _startup_hook():
    """The ``stratum.pth`` start-up hook of this environment (what ``STRATUM=1`` needs), or None."""
    import os
    import site

    dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    for d in dirs:
        path = os.path.join(d, "stratum.pth")
        if os.path.isfile(path):
            return path
    return None


def doctor(out) -> int:
    settings = Settings.from_env()
    out.write(f"stratum {__version__} on Python {sys.version.split()[0]} ({sys.executable})\n")
    healthy = True
    import stratum

    shadowed = getattr(stratum, "_checkout_shadowed", None)
    if shadowed:
        _check("package", True, f"the installed copy {stratum.__path__[0]} (the source checkout "
               f"{shadowed} has no built extension)", out)
    try:
        from stratum import _native

        info = _native.build_info()
        _check("native module", True, f"stratum._native {info.get('version')}", out)
        trap_ok = bool(info.get("trap"))
        detail = "built in" if trap_ok else f"not built: {info.get('trap_error')}"
        if trap_ok:
            from interposer import trap

            trap_ok = trap.available()
            detail = "built in, loadable" if trap_ok else f"not loadable: {trap.unavailable_reason()}"
        _check("C frame hook (PEP 523)", trap_ok, detail, out)
    except ImportError as exc:
        problem = stratum.checkout_problem()
        healthy = _check("native module", False, f"missing ({problem or exc}): scripts run plain",
                         out)
    from interposer import rewrite

    healthy &= _check("interposer", rewrite.SUPPORTED,
                      "bytecode rewrite for CPython 3.11" if rewrite.SUPPORTED
                      else "this Python version is not supported: scripts run plain", out)
    pth = _startup_hook()
    _check("stratum.pth", pth is not None,
           f"{pth} (STRATUM=1 starts stratum in every python process)" if pth else
           "not in site-packages: STRATUM=1 does nothing (python -m stratum still works)", out)
    try:
        prepare_cache_dir(settings.cache_dir)
        _check("cache directory", True, str(settings.cache_dir), out)
    except CacheDirError as exc:
        healthy &= _check("cache directory", False, f"{exc} (runs uncached)", out)
    _check("cache", settings.cache_enabled, f"budget {settings.cache_size >> 20} MiB"
           if settings.cache_enabled else "disabled by STRATUM_CACHE=0", out)
    _check("STRATUM_DISABLE", not settings.disabled,
           "set: stratum does nothing" if settings.disabled else "not set", out)
    versions = []
    for name in ("numpy", "pandas", "sklearn", "scipy", "cffi"):
        try:
            module = __import__(name)
            versions.append(f"{name} {getattr(module, '__version__', '?')}")
        except ImportError:
            versions.append(f"{name} missing")
    out.write("  libraries: " + ", ".join(versions) + "\n")
    return 0 if healthy else 1
