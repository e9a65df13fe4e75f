"""The whole differential corpus as one batch: ``python -m stratum run --jobs 2`` and
``--jobs 1`` give every script the exit code, stdout and stderr bytes of ``python script.py``.

The scripts are those tests/test_differential.py runs (``difftest.corpus_scripts()``, so
``STRATUM_DIFF_FILTER`` restricts both), with the same data and the same work dir: the session's
``corpus_workdir`` (a folder named ``work``) holding every corpus script, the ``helpers_*.py``
modules and the data in ``data/``, each script run by its relative path from that folder. Each
plain run (no arguments, stdin /dev/null, as a batch gives them) starts from a freshly rebuilt
folder; they are made once per session (``difftest.run_case(reuse_plain=True)``: the
differential suite, which runs after this module, does not make them again). A batch runs
every script in the one folder: matching these independent runs proves that no script depends
on what another left there, whatever order ``--jobs 2`` runs them in. The files the batch
leaves behind are compared too (the union of the files the plain runs wrote, which must not
overlap: two scripts writing one path would race under ``--jobs 2``).

Not batchable as written: the ``# ARGS:`` / ``# STDIN:`` headers (docs/batch.md,
"Limitations": scripts of a batch take no arguments of their own and read an empty
stdin). Those scripts are still in the batch, compared with a plain run without arguments and
with stdin /dev/null, which is what a batch gives them.

Each batch runs on a fresh cache dir and admits every reusable result (``STRATUM_ADMIT=all``,
``STRATUM_DIFF_ADMIT=benefit`` for the default admission, as in the differential suite), so
scripts reuse one another's nodes wherever a slow machine could.
"""
import json
import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import difftest  # noqa: E402

pytestmark = pytest.mark.differential

SCRIPTS = difftest.corpus_scripts()
# Scripts a batch cannot run as plain python would, each with the documented limitation
# (docs/batch.md) that makes it so. None today.
NOT_BATCHABLE: dict[str, str] = {}
NAMES = [s.name for s in SCRIPTS if s.stem not in NOT_BATCHABLE]
BATCH_TIMEOUT = 1800.0


def _populate(work: Path, data: Path) -> dict[str, bytes]:
    """Rebuild ``work`` as ``difftest.run_case`` does for these runs: the whole corpus folder
    (also the scripts a filter leaves out) and the data; {relpath: bytes} of those inputs."""
    every = difftest.corpus_folder_files()
    return difftest._copy_inputs(every[0], work, data, every)


@pytest.fixture(scope="module")
def plain_runs(corpus_workdir, corpus_data) -> dict[str, difftest.Result]:
    """Per script: ``python script`` (no arguments, stdin /dev/null) in a freshly rebuilt work
    dir, and the files it wrote there. The differential suite, run later in the same session,
    reuses those of its own plain runs that are the same (``reuse_plain``)."""
    runs = {}
    t0 = time.perf_counter()
    for script in SCRIPTS:
        if script.stem in NOT_BATCHABLE:
            continue
        r = difftest.run_case(script, corpus_workdir, "plain", None, args=[], stdin=b"",
                              data_dir=corpus_data, support_files=difftest.corpus_folder_files(),
                              reuse_plain=True)
        assert not r.deleted, f"{script.name} deletes inputs {r.deleted}: the others need them"
        runs[script.name] = r
    print(f"\nplain runs of {len(runs)} scripts: {time.perf_counter() - t0:.1f}s")
    return runs


def test_scripts_write_distinct_files(plain_runs):
    """Under ``--jobs 2`` two scripts writing one path would race, and one listing a folder
    another writes into would see a varying set: each file or folder a script creates at the
    top of the work dir is its own."""
    owner: dict[str, str] = {}
    clashes = []
    for name, result in plain_runs.items():
        for top in sorted({rel.split("/")[0] for rel in result.files}):
            if owner.setdefault(top, name) != name:
                clashes.append(f"{top}: written by {owner[top]} and {name}")
    assert not clashes, "\n".join(clashes)


@pytest.mark.parametrize("jobs", ["2", "1"])
def test_corpus_batch_matches_plain_runs(jobs, corpus_workdir, corpus_data, plain_runs,
                                         tmp_path):
    work = corpus_workdir
    inputs = _populate(work, corpus_data)
    out = tmp_path / "out"
    admit = {"STRATUM_ADMIT": os.environ.get("STRATUM_DIFF_ADMIT", "all")}
    t0 = time.perf_counter()
    code, stdout, stderr = difftest.run_batch(work, tmp_path / "cache", "--jobs", jobs,
                                              "--out", str(out), *NAMES, env=admit,
                                              timeout=BATCH_TIMEOUT)
    print(f"\nbatch --jobs {jobs} of {len(NAMES)} scripts: {time.perf_counter() - t0:.1f}s")
    front = (f"\nstderr of the batch (--jobs {jobs}):\n"
             + stderr.decode("utf-8", "backslashreplace"))
    assert (out / "summary.json").is_file(), f"no summary.json (exit {code}){front}"
    rows = json.loads((out / "summary.json").read_text())
    assert [r["script"] for r in rows] == NAMES, front
    got = [(r["exit_code"], Path(r["stdout"]).read_bytes(), Path(r["stderr"]).read_bytes())
           for r in rows]
    want = [(p.exit_code, p.stdout, p.stderr) for p in (plain_runs[n] for n in NAMES)]
    if got != want:
        pytest.fail(difftest.describe_differences(NAMES, want, got, "plain",
                                                  f"batch --jobs {jobs}") + front, pytrace=False)
    assert code == (0 if all(w[0] == 0 for w in want) else 1), front
    assert stdout == b""  # with --out, nothing of the scripts on the batch's own stdout
    # the files the scripts left behind: those the plain runs wrote, together
    files, deleted = difftest.snapshot(work, inputs)
    expected = {rel: data for p in plain_runs.values() for rel, data in p.files.items()}
    same_value = {rel for rel in set(files) & set(expected)
                  if files[rel] != expected[rel] and _same_pickled_value(expected[rel], files[rel])}
    problems = difftest.compare(difftest.Result(b"", b"", 0, expected),
                                difftest.Result(b"", b"", 0, {**files, **{
                                    rel: expected[rel] for rel in same_value}}, deleted),
                                "plain", f"batch --jobs {jobs}")
    assert not problems, "\n".join(problems)


def _same_pickled_value(a: bytes, b: bytes) -> bool:
    """Two pickles of equal values (docs/reuse.md, "Known limitations": values reused
    separately from the cache do not share the objects they shared when computed, so a pickle
    of a structure holding both can differ in bytes, never in value). Scripts of a batch share
    one cache: one script's ``read_csv`` reused by another carries its own copy of the
    ``"python"`` storage string of pandas' ``StringDtype``, which plain python shares with the
    columns' dtypes."""
    import pickle

    if not (a.startswith(b"\x80") and b.startswith(b"\x80")):  # not protocol 2+ pickles
        return False
    try:
        return _equal(pickle.loads(a), pickle.loads(b))
    except Exception:  # noqa: BLE001 - not a pickle after all (or not loadable here)
        return False


def _equal(x, y) -> bool:
    import numpy as np
    import pandas as pd

    if type(x) is not type(y):
        return False
    check = {pd.DataFrame: pd.testing.assert_frame_equal,
             pd.Series: pd.testing.assert_series_equal,
             pd.Index: pd.testing.assert_index_equal}.get(type(x))
    if check is not None:
        try:
            check(x, y, check_exact=True)
        except AssertionError:
            return False
        return True
    if isinstance(x, np.ndarray):
        return x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")
    if isinstance(x, dict):
        return list(x) == list(y) and all(_equal(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return len(x) == len(y) and all(_equal(p, q) for p, q in zip(x, y))
    return bool(x == y)
