"""Grid runner: expand a design config into cells, run them on a backend (sequential, loky,
dask, ray) with per-cell random streams, persist each finished chunk atomically (resume,
grow), and assemble ``oc.nc`` / ``oc.csv``.

Examples
--------
>>> from msbayes.grid import run_grid, expand_grid
>>> callable(run_grid) and callable(expand_grid)
True
"""

from .backends import BACKENDS, open_backend
from .hooks import EngineHooks, default_hooks
from .runner import RunStats, run_grid
from .spec import Cell, GridAxis, GridSpec, expand_grid
from .store import CellStore, StoreMismatchError

__all__ = [
    "BACKENDS",
    "Cell",
    "CellStore",
    "EngineHooks",
    "GridAxis",
    "GridSpec",
    "RunStats",
    "StoreMismatchError",
    "default_hooks",
    "expand_grid",
    "open_backend",
    "run_grid",
]
