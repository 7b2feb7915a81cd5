"""The docstring examples of the sequential modules run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["msbayes.sequential.boundaries", "msbayes.sequential.simulate"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert res.failed == 0 and res.attempted > 0
