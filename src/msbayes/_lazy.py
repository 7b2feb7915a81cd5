"""Module-level lazy exports (PEP 562) for packages whose members import heavy libraries.

>>> getattr_, dir_ = lazy_exports("json", {"dumps": ""}, ["dumps"])
>>> getattr_("dumps")([1])
'[1]'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(package: str, table: Mapping[str, str], all_names: Sequence[str],
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``table`` maps each name to the relative
    module (``".runner"``; ``""`` for ``package`` itself) that defines it, imported on first use.
    """

    def __getattr__(name: str) -> Any:
        if name in table:
            return getattr(importlib.import_module(table[name] or package, package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        mod = importlib.import_module(package)
        return sorted(set(vars(mod)) | set(all_names))

    return __getattr__, __dir__
