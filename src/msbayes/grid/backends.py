"""Execution backends: run tasks (cell x chunk range) and yield results as they complete.

``sequential`` (in-process, for debugging), ``loky`` (joblib's process pool, the default),
``dask`` (``dask.distributed``: connect to ``scheduler`` or start a ``LocalCluster``) and
``ray`` (optional extra). Every backend is opened *before* any work, so an unreachable
scheduler or a missing package fails early with a clear message, and yields results in
completion order so the parent can persist and report them live. Results never depend on
the backend: each task carries its own seeds.

Examples
--------
>>> from msbayes.grid.backends import open_backend
>>> with open_backend("sequential") as be:
...     sorted(be.map_unordered(abs, [-2, 1]))
[1, 2]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from msbayes.config import ConfigError

__all__ = ["BackendName", "BACKENDS", "Backend", "open_backend", "resolve_n_jobs", "available_cpus",
           "plan_workers", "LOKY_IDLE_TIMEOUT"]

BackendName = Literal["sequential", "loky", "dask", "ray"]
BACKENDS: tuple[str, ...] = ("sequential", "loky", "dask", "ray")


#: seconds an idle loky worker waits for work before exiting (joblib's default is 300): a
#: killed parent does not leave workers holding its output pipes for minutes
LOKY_IDLE_TIMEOUT = 10


def available_cpus() -> int:
    """CPUs this process may use (affinity mask and cgroup quota respected)."""
    try:
        from joblib import cpu_count

        return max(1, int(cpu_count()))
    except Exception:  # noqa: BLE001 - joblib is a pinned dependency; be safe anyway
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)


def resolve_n_jobs(n_jobs: int | None, *, field: str = "n_jobs") -> int:
    """Number of workers: ``-1`` (or None) = all CPUs, ``k >= 1`` = k; anything else is refused.

    Examples
    --------
    >>> resolve_n_jobs(3)
    3
    """
    if n_jobs is None or n_jobs == -1:
        return available_cpus()
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ConfigError(f"{field}: must be -1 (all CPUs) or a positive number of workers; got {n_jobs!r}",
                          [(field, f"allowed: -1 or an integer >= 1; got {n_jobs!r}")])
    return n_jobs


def plan_workers(n_jobs: int | None, *, force: bool = False, field: str = "--n-jobs") -> tuple[int, str | None]:
    """Workers to start and a note if the request was capped at the CPUs available.

    More workers than CPUs only slow a CPU-bound grid down (and multiply its memory), so
    the count is capped unless ``force`` (``--force-jobs``).

    Examples
    --------
    >>> plan_workers(1)
    (1, None)
    """
    n = resolve_n_jobs(n_jobs, field=field)
    cpus = available_cpus()
    if n > cpus and not force:
        return cpus, (f"note: {field} {n} capped at the {cpus} CPU(s) available "
                      f"(use --force-jobs to start {n} workers)")
    return n, None


@dataclass
class Backend:
    """An opened backend. Use :func:`open_backend` (a context manager) to make one."""

    name: str
    n_workers: int
    scheduler: str | None = None
    _client: Any = field(default=None, repr=False)
    _cluster: Any = field(default=None, repr=False)

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """Yield ``fn(item)`` for each item, in completion order."""
        items = list(items)
        if not items:
            return iter(())
        if self.name == "sequential" or (self.name == "loky" and self.n_workers == 1):
            return (fn(x) for x in items)
        if self.name == "loky":
            from joblib import Parallel, delayed

            par = Parallel(n_jobs=self.n_workers, backend="loky", return_as="generator_unordered",
                           batch_size=1, pre_dispatch="2*n_jobs", idle_worker_timeout=LOKY_IDLE_TIMEOUT)
            return iter(par(delayed(fn)(x) for x in items))
        if self.name == "dask":
            return self._dask_map(fn, items)
        if self.name == "ray":
            return self._ray_map(fn, items)
        raise AssertionError(self.name)  # pragma: no cover

    def _dask_map(self, fn, items):
        from distributed import as_completed

        futures = self._client.map(fn, items, pure=False)
        try:
            with self._client.as_current():
                for fut in as_completed(futures):
                    yield fut.result()
        finally:
            self._client.cancel(futures)

    def _ray_map(self, fn, items):  # pragma: no cover - ray is an optional extra
        import ray

        remote = ray.remote(fn)
        pending = [remote.remote(x) for x in items]
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield ray.get(done[0])
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        if self.name == "ray":  # pragma: no cover
            import ray

            if ray.is_initialized():
                ray.shutdown()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_backend(name: str, *, n_jobs: int | None = -1, scheduler: str | None = None,
                 connect_timeout: float = 10.0, dask_processes: bool = True) -> Backend:
    """Open a backend, failing early (``ConfigError``) if it cannot run.

    Parameters
    ----------
    name : {"sequential", "loky", "dask", "ray"}
    n_jobs : int
        Workers (``-1``: all CPUs). For dask without ``scheduler`` the LocalCluster gets this
        many single-threaded workers; with a ``scheduler`` the cluster's own workers are used.
    scheduler : str, optional
        ``dask``: scheduler address (``tcp://host:8786``); ``ray``: cluster address.
    connect_timeout : float
        Seconds to wait for a scheduler before giving up.
    dask_processes : bool
        LocalCluster workers as processes (default) or threads in this process.
    """
    if name not in BACKENDS:
        raise ConfigError(f"backend: unknown backend {name!r} (allowed: {', '.join(BACKENDS)})",
                          [("backend", f"allowed: {', '.join(BACKENDS)}")])
    if scheduler is not None and name not in ("dask", "ray"):
        raise ConfigError(f"--scheduler: only used by the dask or ray backends, not {name!r}",
                          [("scheduler", "needs backend dask or ray")])
    n = 1 if name == "sequential" else resolve_n_jobs(n_jobs)
    if name in ("sequential", "loky"):
        return Backend(name, n)
    if name == "dask":
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - a pinned dependency
            raise ConfigError("backend dask: dask.distributed is not installed",
                              [("backend", "dask not installed")]) from exc
        if scheduler:
            try:
                client = Client(scheduler, timeout=f"{connect_timeout}s", set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"--scheduler: cannot reach dask scheduler at {scheduler!r} "
                                  f"within {connect_timeout:g} s ({type(exc).__name__}: {exc})",
                                  [("scheduler", "unreachable")]) from None
            info = client.scheduler_info()
            workers = max(1, len(info.get("workers", {})))
            return Backend(name, workers, scheduler, _client=client)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=dask_processes,
                               dashboard_address=None)
        client = Client(cluster, set_as_default=False)
        return Backend(name, n, None, _client=client, _cluster=cluster)
    # ray
    try:
        import ray
    except ImportError:
        raise ConfigError("backend ray: ray is not installed; install the optional extra "
                          "(pip install 'msbayes[ray]') or use --backend loky|dask",
                          [("backend", "ray not installed")]) from None
    try:  # pragma: no cover - ray is an optional extra
        if not ray.is_initialized():
            ray.init(address=scheduler, num_cpus=None if scheduler else n, ignore_reinit_error=True,
                     include_dashboard=False)
    except Exception as exc:  # pragma: no cover
        raise ConfigError(f"--scheduler: cannot start/connect ray ({exc})",
                          [("scheduler", "unreachable")]) from None
    return Backend(name, n, scheduler)  # pragma: no cover
