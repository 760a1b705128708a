"""The one exception root of qa; the CLI turns each into one line on stderr and an exit code."""

from __future__ import annotations


class QAError(Exception):
    """Base of every error a user can cause or fix. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class InputError(QAError):
    """Bad input: a missing path, an empty folder, an unreadable question file."""

    exit_code = 2


class IndexMissingError(QAError):
    """No index where one was expected."""

    exit_code = 3


class IndexFormatError(QAError):
    """An index that is corrupt, from another format version, or built with another model."""

    exit_code = 4


class ModelError(QAError):
    """The embedding model cannot be loaded."""

    exit_code = 5


class RowsFailedError(QAError):
    """Some rows of a question file could not be read; the others were answered."""

    exit_code = 6


class NotFoundError(QAError):
    """Something asked for by id (an article) that the index does not hold."""

    exit_code = 2


class BusyError(QAError):
    """The server has more questions waiting than it accepts; ask again shortly."""

    exit_code = 1
