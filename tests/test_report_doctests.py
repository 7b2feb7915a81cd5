"""Run the docstring examples of msbayes.plots and msbayes.report (they must stay runnable)."""

from __future__ import annotations

import doctest
import importlib

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

MODULES = [
    "msbayes.plots.style", "msbayes.plots.posterior", "msbayes.plots.forest",
    "msbayes.plots.sensitivity", "msbayes.plots.ppc", "msbayes.plots.oc", "msbayes.plots.dose",
    "msbayes.plots.decision", "msbayes.plots.sequential", "msbayes.report.summary",
    "msbayes.report.sequential", "msbayes.report.word",
    "msbayes.report.compute", "msbayes.report.inputs", "msbayes.report.text",
    "msbayes.report.figures", "msbayes.report.cli", "msbayes.report.build",
    "msbayes.report.labels", "msbayes.fit.summarize",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    plt.close("all")
    assert res.failed == 0
    if name not in ("msbayes.report.build",):  # build's example needs real results dirs
        assert res.attempted > 0, f"{name} has no runnable example"
