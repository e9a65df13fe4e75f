import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "differential: byte-for-byte comparison of plain python vs python -m stratum "
        "over tests/corpus (select with -m differential)",
    )


@pytest.fixture(autouse=True)
def _fresh_process_warnings():
    """Each test is a run of its own: warnings said once per process may be said again."""
    from stratum import config

    getattr(config, "_said", set()).clear()


@pytest.fixture(scope="session")
def corpus_data(tmp_path_factory):
    """The corpus's data files, generated once per test session (tests/corpus/make_data.py)."""
    import sys
    from pathlib import Path

    corpus = Path(__file__).resolve().parent / "corpus"
    sys.path.insert(0, str(corpus))
    try:
        from make_data import make_data
    finally:
        sys.path.remove(str(corpus))
    d = tmp_path_factory.mktemp("corpus-data")
    make_data(d)
    return d


@pytest.fixture(scope="session")
def corpus_workdir(tmp_path_factory):
    """The one work dir path the corpus suites run their scripts in (rebuilt before each run),
    so their plain runs are the same runs (``difftest.run_case(reuse_plain=True)``); named
    ``work``, which misc_dunder_doc.py shows."""
    return tmp_path_factory.mktemp("corpus-work") / "work"
