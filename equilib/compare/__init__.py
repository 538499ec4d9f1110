"""`equilib compare`: run solvers on games and write a report folder (table, figures, report.html).

- :mod:`equilib.compare.cli`: the command line (``equilib compare``, ``python -m equilib compare``).
- :mod:`equilib.compare.games`: the built-in games and ``module:function`` games.
- :mod:`equilib.compare.run`: one solver on one game: distances, counted costs, outcome, prediction.
- :mod:`equilib.compare.scan`: step-size scans, measured and predicted.
- :mod:`equilib.compare.report`: the whole comparison and the report files.
- :mod:`equilib.compare.table`, :mod:`equilib.compare.figures`, :mod:`equilib.compare.html`: its parts.
"""

from equilib.compare.cli import main

__all__ = ["main"]
