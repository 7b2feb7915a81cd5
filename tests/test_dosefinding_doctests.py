"""The docstring examples of the dose-finding modules run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "msbayes.design.dosefinding", "msbayes.design.doseresponse", "msbayes.simulate.mcpmod",
    "msbayes.simulate.bayes_emax", "msbayes.simulate.dosefinding",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0
