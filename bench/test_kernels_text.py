"""Native text-vectorizer kernels vs scikit-learn (pytest-benchmark), 50k generated short texts.

    pytest bench/test_kernels_text.py --benchmark-columns=median,min,rounds
    pytest bench/test_kernels_text.py --benchmark-disable   # CI: run each body once

Each vectorizer's ``fit_transform`` in a ``library`` and a ``native`` variant (same group);
median ratios side by side: ``python bench/text_kernels.py``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from text_kernels import configs, make_docs  # noqa: E402

from stratum import kernels  # noqa: E402

DOCS = make_docs(50_000)
CONFIGS = configs()


@pytest.fixture(params=["library", "native"])
def mode(request):
    kernels.uninstall()
    if request.param == "native":
        kernels.install()
    start = kernels.mark()
    yield request.param
    events = kernels._log[start:]
    kernels.uninstall()
    used = any(why is None for _kernel, why in events)
    assert used == (request.param == "native"), events


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fit_transform(benchmark, name, mode):
    benchmark.group = name
    X = benchmark.pedantic(lambda: CONFIGS[name]().fit_transform(DOCS), rounds=3, iterations=1,
                           warmup_rounds=0)
    assert X.shape[0] == len(DOCS)
