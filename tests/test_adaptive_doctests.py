"""The docstring examples of the adaptive modules run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["msbayes.adaptive.combination", "msbayes.adaptive.selection", "msbayes.adaptive.enrichment",
           "msbayes.adaptive.multiarm", "msbayes.adaptive.rar", "msbayes.adaptive.fwer"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0
