"""The merged-graph page (``trace merged --html``) as a person sees it, in headless Chromium.

Four scripts (one CSV, cheap feature steps and prints in a loop, four models each evaluated by
``cross_val_score`` on the same preprocessing, one re-run) are recorded; their page is opened at
1280x800. The page measures itself when opened as ``#selfcheck`` (the costliest stages inside
the window after the fit-to-screen, no horizontal overflow, legend items apart from each other
and from the stages, a distinct label per model); a screenshot must not be mostly white.
CI installs Chromium (``.ci/run``); without a chromium binary these tests are skipped.
"""
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import graphpage  # noqa: E402

BROWSER = graphpage.chromium()
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no chromium binary on PATH "
                                "(.ci/run installs the Debian package)")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("graph-page")
    work, cache = root / "work", root / "cache"
    work.mkdir()
    graphpage.write_scripts(work)
    graphpage.record(work, cache)
    path = work / "merged.html"
    graphpage.write_page(work, cache, path)
    return path


@pytest.fixture(scope="module")
def report(page):
    return graphpage.selfcheck(BROWSER, page)


def test_costliest_stages_are_visible_without_scrolling(report):
    assert report["costliest"], report
    for stage in report["costliest"]:
        assert stage["inside"], (stage, report["viewport"])
    assert report["costliest_visible"]
    assert report["scale"] >= 0.5, "fitted so small the labels cannot be read"
    assert report["node_overlaps"] == []


def test_no_horizontal_overflow(report):
    assert report["no_horizontal_overflow"], report["document_width"]
    assert report["document_width"] <= report["viewport"][0]


def test_legend_does_not_overlap(report):
    assert report["legend_items"] >= 4
    assert report["legend_overlaps"] == [] and report["legend_node_overlaps"] == []


def test_every_model_has_a_distinct_label(report):
    models = [m for m in report["models"] if m.startswith("cross_val_score(")]
    assert report["models_distinct"] and len(set(models)) == len(models) == 4
    for script, estimator in graphpage.ESTIMATORS.items():
        assert f"cross_val_score({estimator}) @ {script}:" in " ".join(models), models
    # the costliest stage is a model evaluation, not a microsecond getitem
    assert report["costliest"][0]["label"].startswith("cross_val_score(")


def test_screenshot_is_not_mostly_white(page, tmp_path):
    png = tmp_path / "merged-graph.png"
    graphpage.screenshot(BROWSER, page, png)
    seen = graphpage.ink(png)
    assert seen["size"] == (graphpage.WIDTH, graphpage.HEIGHT)
    # The old page (a thin chain of dots): 1.6 % ink, 16 % of 40-px tiles; this one about 12 %
    # and 37 %, with the stages down to the bottom third.
    assert seen["ink"] > 0.05 and seen["tiles"] > 0.25, seen
    assert min(seen["bands"]) > 0.02, seen


def test_page_is_pipeline_level_and_self_contained(page):
    html = page.read_text()
    labels = re.findall(r'data-label="([^"]*)"', html)
    assert "read_csv" in labels and "fit_transform StandardScaler" in labels
    assert len(labels) <= 10  # stages, not the ~115 recorded nodes
    assert not any(w in label for label in labels for w in ("print", "getitem ", "setitem "))
    assert re.search(r"\d+ cheap ops: ", html)
    # the table of time saved: one row per stage, most saved first
    table = html[html.index('id="saved-table"'):]
    saved = [float(v) for v in re.findall(r'<td data-v="([0-9.]+)">[0-9.]+</td></tr>', table)]
    assert len(saved) == len(labels) and saved == sorted(saved, reverse=True) and saved[0] > 0
    for external in ("http:", "https:", "<link", "src=", "@import"):
        assert external not in html
