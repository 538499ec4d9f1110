"""``gan compare``: GAN runs of several solvers and seeds, side by side in one report.

:func:`gan.compare.cli.run_compare` is the command; :mod:`~gan.compare.runs` finds, launches,
resumes and reads run folders, :mod:`~gan.compare.table` aggregates them (mean and standard
deviation over seeds), :mod:`~gan.compare.figures` draws them and :mod:`~gan.compare.report`
writes the folder.
"""

from .runs import CompareError, Run, read_run
from .table import Row, rows

__all__ = ["CompareError", "Run", "Row", "read_run", "rows"]
