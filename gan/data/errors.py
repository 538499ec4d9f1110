"""The errors of :mod:`gan.data`: a data set asked for wrongly, or its files missing."""

from __future__ import annotations

__all__ = ["DataError", "DatasetNotFoundError"]


class DataError(ValueError):
    """A data set is asked for wrongly (name, options) or its files are unreadable."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """The files of a data set are not where they were looked for."""
