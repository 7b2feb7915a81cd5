"""The report: ``report.html`` (self-contained), ``figures/`` and ``tables/`` from the artefacts.

>>> from msbayes.report import build_report  # doctest: +SKIP
>>> build_report(fit_dir="results/reanalysis", sim_dir="results/sims/two_arm",
...              out_dir="results/report")  # doctest: +SKIP
"""

from .build import build_report
from .inputs import ReportInputError, ReportMismatchWarning

__all__ = ["build_report", "ReportInputError", "ReportMismatchWarning"]
