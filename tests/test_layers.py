"""The package layout (docs/architecture.md) holds: imports go down the layers, never up; no
module imports another module's private (underscore) names; no import cycles between modules;
every layer package says what it is for; nothing stored on disk names a stratum module.

Imports are read from the source with ``ast``, the ones inside functions included (a lazy
import is a dependency all the same)."""
from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys


ROOT = pathlib.Path(__file__).resolve().parent.parent

#: Lowest first. A module may import modules of its own layer or of a lower one. The same table
#: is in docs/architecture.md.
LAYERS: list[tuple[str, ...]] = [
    ("stratum._native", "interposer"),  # capture: the Rust extension and the interposer
    ("stratum.config",),                # settings from the environment, cache dir checks, warn
    ("stratum.keys",),                  # lineage keys
    ("stratum.cache",),                 # the reuse store
    ("stratum.trace",),                 # trace store, merged graph
    ("stratum.kernels",),               # native kernels
    ("stratum.cpu",),                   # the machine-wide CPU budget, cores per operation
    ("stratum.engine",),                # dispatch of one call
    ("stratum.replay",),                # replay, executor
    ("stratum.session",),               # activation, the three ways in
    ("stratum.batch", "stratum.server"),  # many scripts as one job; the warm server
    ("stratum.distributed",),           # a batch on a Dask cluster
    ("stratum.cli",),                   # python -m stratum ...
    ("stratum", "stratum.__main__", "stratum._startup"),  # the public facade, entry points
]
#: Importing the package itself (``from stratum import __version__``) is allowed everywhere.
ALWAYS = {"stratum"}
PACKAGES = ("stratum", "interposer")


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            out[_module_name(path)] = path
    return out


MODULES = _modules()


def layer_of(module: str) -> int:
    best, found = -1, None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), i
    assert found is not None, f"{module} is in no layer: add it to LAYERS"
    return found


def _resolve(name: str) -> str:
    """The module an imported dotted name is (``stratum.keys.lineage.Lineage`` -> the module)."""
    while name not in MODULES and "." in name:
        name = name.rpartition(".")[0]
    return name


def imports(module: str) -> list[tuple[int, str, str | None]]:
    """(line, imported module, imported name or None) for every import of ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    out.append((node.lineno, _resolve(alias.name), None))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in MODULES:  # ``from stratum.keys import lineage``: a module
                    out.append((node.lineno, full, None))
                else:
                    out.append((node.lineno, _resolve(base), alias.name))
    return out


def _private(name: str | None) -> bool:
    return bool(name) and name.startswith("_") and not name.startswith("__") \
        and name != "_native"


def test_every_module_is_in_a_layer():
    for module in MODULES:
        layer_of(module)


def test_imports_go_down_the_layers():
    bad = []
    for module in MODULES:
        mine = layer_of(module)
        for line, target, _name in imports(module):
            if target in ALWAYS or target == module:
                continue
            if layer_of(target) > mine:
                bad.append(f"{MODULES[module].relative_to(ROOT)}:{line}: {module} "
                           f"(layer {mine}) imports {target} (layer {layer_of(target)})")
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_no_private_names_across_modules():
    """``from x import _y`` of another module; and in stratum/, ``x._y`` on an imported module
    (interposer's rewritten code calls its own dispatch helpers by design)."""
    bad = []
    for module in MODULES:
        path = MODULES[module]
        for line, target, name in imports(module):
            if target != module and _private(name):
                bad.append(f"{path.relative_to(ROOT)}:{line}: from {target} import {name}")
        if not module.startswith("stratum"):
            continue
        tree = ast.parse(path.read_text())
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module \
                    and node.module.split(".")[0] in PACKAGES:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if full in MODULES:
                        aliases[alias.asname or alias.name] = full
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in MODULES:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr) \
                    and isinstance(node.value, ast.Name) and node.value.id in aliases \
                    and aliases[node.value.id] != module:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: "
                           f"{aliases[node.value.id]}.{node.attr}")
    assert not bad, "private names used across modules:\n" + "\n".join(bad)


def test_no_import_cycles():
    """Between stratum's modules (interposer's ``channels`` <-> ``frames`` is left as it is)."""
    graph = {m: {t for _l, t, _n in imports(m)
                 if t in MODULES and t != m and t not in ALWAYS and t.startswith("stratum")}
             for m in MODULES if m.startswith("stratum")}
    # Tarjan's strongly connected components
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_every_layer_package_says_what_it_is_for():
    for prefixes in LAYERS:
        for prefix in prefixes:
            path = ROOT.joinpath(*prefix.split("."), "__init__.py")
            if path.exists() and prefix.startswith("stratum."):
                doc = ast.get_docstring(ast.parse(path.read_text()))
                assert doc and len(doc) > 40, f"{path.relative_to(ROOT)}: no docstring"


def test_docs_table_matches():
    text = (ROOT / "docs" / "architecture.md").read_text()
    for prefixes in LAYERS:
        for prefix in prefixes:
            assert f"`{prefix}`" in text, f"docs/architecture.md does not name {prefix}"


SCRIPT = """
import numpy as np, pandas as pd
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
rng = np.random.RandomState(0)
df = pd.DataFrame(rng.rand(60, 3), columns=list("abc"))
df["y"] = df.a * 2 + df.b
X = df[["a", "b", "c"]]
model = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X, df["y"])
print(round(float(model.score(X, df["y"])), 6), len(df))
"""


def test_nothing_on_disk_names_a_stratum_module(tmp_path):
    """Cache entries and trace-store blobs hold library objects and plain data only: no pickle
    names a stratum class or function, so moving stratum's modules keeps existing cache
    directories and trace stores valid (else a pickle-compat mapping would be needed)."""
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "STRATUM_CACHE_DIR": str(tmp_path / "cache"),
           "STRATUM_ADMIT": "all"}
    for _ in range(2):
        run = subprocess.run([sys.executable, "-m", "stratum", str(script)], env=env,
                             capture_output=True, cwd=tmp_path, timeout=240)
        assert run.returncode == 0, run.stderr.decode()
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert any("objects" in p.parts for p in files)
    for path in files:
        if path.name.startswith("secret"):
            continue
        data = path.read_bytes()
        assert b"stratum." not in data.replace(b"stratum.py", b""), path


def test_one_node_schema():
    """The engine's ``Node`` is what the trace store keeps, field for field, in its order; the
    CLI's ``trace --json`` shows a subset of it."""
    import dataclasses

    from stratum.engine.engine import Node
    from stratum.trace.store import JSON_NODE_FIELDS, NODE_FIELDS

    assert tuple(f.name for f in dataclasses.fields(Node)) == NODE_FIELDS
    assert set(JSON_NODE_FIELDS) <= set(NODE_FIELDS)


def test_one_list_of_traced_libraries():
    from interposer import registry
    from stratum.keys import lineage, versions

    assert registry.LIB_ROOTS == frozenset(registry.TRACED_LIBRARIES)
    assert lineage._LIBS is registry.TRACED_LIBRARIES
    tag = versions.version_tag()
    assert [p.partition("=")[0] for p in tag.split(";")[2:]] == list(registry.TRACED_LIBRARIES)


def test_old_startup_name_still_starts_stratum():
    """A venv whose ``stratum.pth`` predates the move imports ``stratum._startup``."""
    text = (ROOT / "stratum" / "_startup.py").read_text()
    assert "import stratum.session.startup" in text
    pth = (ROOT / "native" / "pth" / "purelib" / "stratum.pth").read_text()
    assert "stratum.session.startup" in pth
