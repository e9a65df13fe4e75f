"""Script arguments of ``run`` and ``bench``: a directory stands for the scripts in it."""
from __future__ import annotations

import ast
import os


def expand(paths: list[str]) -> list[str]:
    """Scripts as given; a directory stands for its ``*.py`` files, sorted, without the helper
    modules its other files import (``import helpers_fe`` makes ``helpers_fe.py`` a helper:
    python would not run it as a script either)."""
    out = []
    for p in paths:
        if not os.path.isdir(p):
            out.append(p)
            continue
        files = sorted(f for f in os.listdir(p)
                       if f.endswith(".py") and os.path.isfile(os.path.join(p, f)))
        imported = set()
        for f in files:
            imported |= _imported_names(os.path.join(p, f))
        out += [os.path.join(p, f) for f in files if f[:-3] not in imported]
    return out


def _imported_names(path: str) -> set[str]:
    """Top-level names of the modules a file imports (absolute imports only)."""
    try:
        with open(path, "rb") as fh:
            tree = ast.parse(fh.read(), path)
    except (OSError, SyntaxError, ValueError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.partition(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.partition(".")[0])
    return names
