"""What a run imports that plain python does not: every module is start-up time (or exit time)
the script's run pays, so stratum imports the modules of its rarer paths where they are used.

A run of a script that calls no library, traced and recorded, must not import the modules
only these need: an interrupted script (``signal``), a busy database (``random``), a replay
recipe (``pickle``), a cache write or the CPU budget (``tempfile``, ``shutil``), a subcommand
(``argparse``), the engine (``numpy``); nor a bytecode library (the rewriter reads and writes
code objects itself). Measured with ``python -X importtime``."""
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

NOT_IMPORTED = {"signal", "random", "pickle", "tempfile", "shutil", "argparse", "numpy",
                "bytecode"}

# The script's atexit handler runs once the run is over and its trace recorded.
SCRIPT = "import atexit, sys\natexit.register(lambda: print(' '.join(sorted(sys.modules))))\n"


def test_a_run_without_library_calls_imports_only_what_it_needs(tmp_path):
    (tmp_path / "s.py").write_text(SCRIPT)
    r = subprocess.run([sys.executable, "-m", "stratum", "s.py"], cwd=tmp_path,
                       env=difftest.build_env("stratum", tmp_path / "cache"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and not r.stderr, r.stderr
    modules = set(r.stdout.split())
    # stratum was on and recorded the run: the check below looks at a real run
    assert {"stratum.session.activation", "stratum.trace.store"} <= modules
    assert difftest.last_trace(tmp_path / "cache") is not None
    assert not modules & NOT_IMPORTED, sorted(modules & NOT_IMPORTED)
