def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "differential: byte-for-byte comparison of plain python vs python -m stratum "
        "over tests/corpus (select with -m differential)",
    )
