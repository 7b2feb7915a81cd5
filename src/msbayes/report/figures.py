"""Write a matplotlib figure as PNG (300 dpi), SVG and PDF atomically; return PNG bytes.

Files are written with :data:`msbayes.plots.style.PUBLICATION_RC`: TrueType (Type 42) fonts
embedded in the PDF (submission portals reject Type 3) and SVG text kept as ``<text>``
elements, so labels stay editable.

Examples
--------
>>> import matplotlib.pyplot as plt, tempfile, pathlib
>>> from msbayes.report.figures import save_figure
>>> fig, ax = plt.subplots(figsize=(2, 1.5)); _ = ax.plot([0, 1], [0, 1])
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> png, paths = save_figure(fig, d, "demo", formats=("png", "svg"))
>>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n", sorted(p.suffix for p in paths)
(True, ['.png', '.svg'])
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ..io import atomic_path
from ..plots.style import PUBLICATION_RC

__all__ = ["FORMATS", "save_figure", "Format"]

Format = Literal["png", "svg", "pdf"]
FORMATS: tuple[str, ...] = ("png", "svg", "pdf")
_META = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
DPI = 300


def save_figure(
    fig: Figure, out_dir: Path, stem: str, *, formats: Sequence[Format] = FORMATS,
    close: bool = True,
) -> tuple[bytes, list[Path]]:
    """Save ``fig`` as ``out_dir/stem.<fmt>`` for each format; return (PNG bytes, paths).

    The PNG (300 dpi) is also returned for embedding in the HTML, rendered in memory when
    ``"png"`` is not among ``formats``.
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"formats: unknown {bad}; allowed: {list(FORMATS)}")
    paths = []
    buf = io.BytesIO()
    with plt.rc_context(PUBLICATION_RC):
        fig.savefig(buf, format="png", dpi=DPI, metadata=_META["png"])
        png = buf.getvalue()
        for f in formats:
            target = Path(out_dir) / f"{stem}.{f}"
            if f == "png":
                atomic_path(target, lambda p: p.write_bytes(png))
            else:
                atomic_path(target, lambda p, f=f: fig.savefig(p, format=f, dpi=DPI,
                                                               metadata=_META[f]))
            paths.append(target)
    if close:
        plt.close(fig)
    return png, paths
