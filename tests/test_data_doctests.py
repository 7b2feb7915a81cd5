"""The runnable examples in the data layer's docstrings run and give what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["builtin", "scales", "infer_n", "schema", "synthetic", "cli", "vocab", "__init__"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module("msbayes.data" if name == "__init__" else f"msbayes.data.{name}")
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert res.failed == 0
    if name not in ("vocab", "__init__"):
        assert res.attempted > 0
