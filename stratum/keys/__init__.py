"""Keys: the lineage key of every value (docs/reuse.md, docs/architecture.md).

A traced value carries the key of the operation that made it; anything else is keyed by content
(``keyrules``: per-type content feeders registered with ``lineage``), files by path, size, mtime
and content hash, estimators by class and parameters, randomness by seed or RNG state
(``randomness``), library settings that change results (``libsettings``), library versions
(``versions``), user functions by their code and the globals they read (``purity``, ``memo``).
``derive`` names a value derived from an output (fitted, mutated, i-th item). Depends only on
``stratum.config``, ``stratum._native`` and ``interposer``.
"""
