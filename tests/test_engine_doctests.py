"""The docstring examples of the engine modules run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "msbayes.design.config", "msbayes.design.endpoint", "msbayes.design.prior", "msbayes.design.scenarios",
    "msbayes.simulate.engine", "msbayes.simulate.twoarm", "msbayes.simulate.analyses", "msbayes.simulate.patient",
    "msbayes.oc.accumulate", "msbayes.oc.decision", "msbayes.oc.calibrate", "msbayes.oc.search", "msbayes.oc.dataset",
    "msbayes.oc.boundary", "msbayes.design.interims", "msbayes.simulate.twoarm_sequential",
    "msbayes.simulate.dosefinding_sequential",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0
