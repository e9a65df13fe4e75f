"""The libraries stratum traces, in the order their versions enter every key.

One list for the registry, lineage keys, purity checks, ``stratum.keys.versions`` and the
``STRATUM=1`` start-up (which must stay light: this module imports nothing).
"""
TRACED_LIBRARIES = ("numpy", "pandas", "sklearn", "scipy")
