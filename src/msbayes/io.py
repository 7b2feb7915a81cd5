"""Artefact I/O: atomic writes, hashes and provenance attributes.

Every file msbayes writes goes to a temporary name in the same directory and is renamed into
place, so an interrupted run never leaves a half-written artefact under the final name.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import __version__

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_to_csv",
    "atomic_to_netcdf",
    "sha256_bytes",
    "sha256_file",
    "sha256_text",
    "provenance",
]


def atomic_path(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` with a temporary path beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        # mkstemp creates 0600 files; give the artefact the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    def _w(p: Path) -> None:
        with open(p, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    return atomic_path(path, _w)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_to_csv(df: Any, path: str | os.PathLike, **kwargs: Any) -> Path:
    kwargs.setdefault("index", False)
    return atomic_path(path, lambda p: df.to_csv(p, **kwargs))


def atomic_to_netcdf(obj: Any, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Write an xarray Dataset or ArviZ InferenceData atomically (both have ``to_netcdf``)."""

    def _w(p: Path) -> None:
        p.unlink(missing_ok=True)
        obj.to_netcdf(str(p), **kwargs)

    return atomic_path(path, _w)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def provenance(
    *,
    config_text: str,
    seed: int | None,
    data_files: Iterable[str | os.PathLike] = (),
    data_sha256: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Attributes every artefact carries: version, config text and hash, data hash, seed.

    ``data_sha256`` may be given directly; otherwise it is the SHA-256 over the listed files'
    hashes in order (empty string if none). Values are netCDF-safe (str / int).
    """
    if data_sha256 is None:
        files = [Path(f) for f in data_files]
        data_sha256 = sha256_text("".join(sha256_file(f) for f in files)) if files else ""
    attrs: dict[str, Any] = {
        "msbayes_version": __version__,
        "config_text": config_text,
        "config_sha256": sha256_text(config_text),
        "data_sha256": data_sha256,
        "seed": -1 if seed is None else int(seed),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    for k, v in extra.items():
        attrs[k] = v if isinstance(v, (str, int, float)) else str(v)
    return attrs
