"""Native categorical kernels vs the library (pytest-benchmark), 50k rows x 10 str columns.

    python -P -m pytest bench/test_kernels.py                      # measure
    python -P -m pytest bench/test_kernels.py --benchmark-disable  # run each body once

Each operation is benchmarked twice, ``[library]`` (kernels uninstalled) and ``[native]``;
compare the two medians (``bench/kernels_categorical.py`` prints the ratios side by side).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernels_categorical import cases, make_frame  # noqa: E402

from stratum import kernels as kernel_table  # noqa: E402

CASES = cases(make_frame())


@pytest.fixture(params=["library", "native"])
def mode(request):
    if request.param == "native":
        kernel_table.install()
    yield request.param
    kernel_table.uninstall()


@pytest.mark.parametrize("name", list(CASES))
def test_categorical(benchmark, mode, name):
    benchmark.group = name
    start = kernel_table.mark()
    benchmark(CASES[name])
    used = [reason is None for _, reason in kernel_table._log[start:]]
    assert any(used) == (mode == "native")
