"""A user folder with a module named like one stratum imports for itself (``numpy.py``,
``sqlite3.py``): the script runs plain, with plain python's output, in every way in
(``stratum.session.shadow``). Before, ``python -m stratum`` next to a ``numpy.py`` died with
``partially initialized module 'numpy'`` inside stratum where plain python printed the script's
output, and a ``sqlite3.py`` would have been run by stratum's trace store at exit."""
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

from stratum.session import shadow  # noqa: E402

MODES = {
    "plain": lambda s: [sys.executable, s],
    "stratum": lambda s: [sys.executable, "-m", "stratum", s],
    "env": lambda s: [sys.executable, s],
}


def _run(mode: str, folder: Path, script: str, cache: Path) -> tuple:
    env = difftest.build_env(mode, cache)
    if mode == "env":
        env["STRATUM"] = "1"
    r = subprocess.run(MODES[mode](script), cwd=folder, env=env, capture_output=True,
                       timeout=180)
    return r.returncode, r.stdout, r.stderr


def _same_everywhere(folder: Path, script: str, tmp_path: Path) -> tuple:
    plain = _run("plain", folder, script, None)
    for mode in ("stratum", "env"):
        for attempt in ("cold", "warm"):
            got = _run(mode, folder, script, tmp_path / f"cache-{mode}")
            assert got == plain, (mode, attempt, got, plain)
    return plain


def test_numpy_py_next_to_the_script(tmp_path):
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "numpy.py").write_text('print("my numpy")\nx = 3\n')
    (folder / "s.py").write_text("import numpy\nprint(numpy.x)\nimport pandas\n")
    code, out, err = _same_everywhere(folder, "s.py", tmp_path)
    assert code == 1 and out == b"my numpy\n3\n"
    assert b"has no attribute '__version__'" in err  # pandas meets the user's numpy, as plain


def test_sqlite3_py_runs_when_the_script_imports_it(tmp_path):
    """stratum's trace store imports sqlite3 at exit: the user's would run (its print too)."""
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "sqlite3.py").write_text('print("user sqlite3")\nVALUE = 7\n')
    (folder / "s.py").write_text(
        "import numpy as np\nprint(int(np.arange(4).sum()))\nimport sqlite3\n"
        "print(sqlite3.VALUE)\n")
    code, out, err = _same_everywhere(folder, "s.py", tmp_path)
    assert (code, out, err) == (0, b"6\nuser sqlite3\n7\n", b"")


def test_explain_says_why(tmp_path):
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "sqlite3.py").write_text("VALUE = 7\n")
    (folder / "s.py").write_text("import numpy as np\nprint(np.arange(3).sum())\n")
    env = difftest.build_env("stratum", tmp_path / "cache")
    r = subprocess.run([sys.executable, "-m", "stratum", "--explain", "s.py"], cwd=folder,
                       env=env, capture_output=True, timeout=180)
    assert r.returncode == 0 and r.stdout == b"3\n"
    assert b"not active" in r.stderr and b"'sqlite3'" in r.stderr


@pytest.mark.parametrize("name", ["test.py", "utils.py", "train.py", "model.py", "data.py"])
def test_common_file_names_stay_traced(tmp_path, name):
    """No false alarm on the names agents and people give their files."""
    folder = tmp_path / "proj"
    folder.mkdir()
    for other in ("utils.py", "config.py", "features.py", "submission.py", "tests.py"):
        (folder / other).write_text("X = 1\n")
    (folder / name).write_text("import numpy as np\nprint(np.arange(3).sum())\n")
    assert not {Path(n).stem for n in (name, "utils.py", "config.py", "features.py",
                                       "submission.py", "tests.py")} & shadow.OWN_MODULES
    env = difftest.build_env("stratum", tmp_path / "cache")
    r = subprocess.run([sys.executable, "-m", "stratum", "--explain", name], cwd=folder,
                       env=env, capture_output=True, timeout=180)
    assert r.returncode == 0 and r.stdout == b"3\n"
    assert b"not active" not in r.stderr
    trace = difftest.last_trace(tmp_path / "cache")
    assert trace is not None and trace["nodes"], "the run was not traced"


def test_own_modules_is_current():
    """Every module stratum can import in a script's process is in the list (regenerate it
    with ``python -m stratum.session.shadow`` when this fails)."""
    r = subprocess.run([sys.executable, "-m", "stratum.session.shadow"], capture_output=True,
                       text=True, timeout=300, env=difftest.build_env("plain", None))
    assert r.returncode == 0, r.stderr
    missing = set(r.stdout.split()) - shadow.OWN_MODULES
    assert not missing, f"not in shadow.OWN_MODULES: {sorted(missing)}"


def test_user_path_entries_end_at_the_standard_library(tmp_path):
    zip_entry = f"/usr/lib/python{sys.version_info[0]}{sys.version_info[1]}.zip"
    assert shadow.user_path_entries(["/a", "", "/b", zip_entry, "/c"]) == ["/a", "", "/b"]
    # PYTHONPATH naming an installation folder (site-packages, also later on the path): it
    # holds the real modules (seen in CI, where the tests put site-packages on PYTHONPATH)
    name = min(n for n in shadow.OWN_MODULES if n not in sys.modules)
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / f"{name}.py").write_text("")
    assert shadow.user_path_entries(["/a", str(site), zip_entry, str(site)]) == ["/a"]
    assert shadow.shadowed(["/nonexistent", str(site), zip_entry, str(site)]) is None
    assert shadow.shadowed([str(site), zip_entry]) == (str(site), name)
