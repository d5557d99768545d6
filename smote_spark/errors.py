"""The project's exceptions: one root, and subclasses of ValueError/TypeError by kind."""

from __future__ import annotations


class SmoteError(Exception):
    """Root of every error that smote_spark raises on purpose.

    Messages name the parameter or column, the rule, what was found and what to do.
    """


class InvalidParameterError(SmoteError, ValueError):
    """A parameter (or config key) has a value that breaks its rule."""


class InvalidColumnError(SmoteError, ValueError):
    """A column that the parameters name is missing, duplicated or otherwise unusable."""


class ColumnTypeError(SmoteError, TypeError):
    """A feature or label column has a type that SMOTE cannot use."""


class InvalidDataError(SmoteError, ValueError):
    """The data cannot be oversampled as asked (too few rows, nulls, one class...)."""


class InputTypeError(SmoteError, TypeError):
    """The input is not a Spark DataFrame."""
