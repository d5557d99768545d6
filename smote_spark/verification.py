"""Check a written SMOTE output against its input: every input row once, the planned extras."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smote_spark.errors import SmoteError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

logger = logging.getLogger(__name__)

# Internal column names; chosen so that they cannot clash with a user's columns by accident.
_LABEL, _MARK, _H1, _H2 = "__v_label", "__v_synthetic", "__v_xxhash64", "__v_murmur3"


class OutputVerificationError(SmoteError, RuntimeError):
    """The written output does not hold the input rows and the planned synthetic rows.

    The job exits with code 1 and leaves the destination as it was.
    """


@dataclass(frozen=True)
class ClassCheck:
    """What the check found for one class.

    Attributes
    ----------
    input_rows, output_rows : int
        Rows of the class in the input and in the written output.
    planned_synthetic : int
        Synthetic rows the run planned for the class.
    missing_rows : int
        Input rows (counted with multiplicity) that the output does not hold.
    extra_rows : int
        Output rows beyond the input rows: the synthetic rows, when all is well.
    unmarked_extra_rows : int
        Extra rows that the synthetic marker column says are original (0 without a marker).
    input_checksum, output_checksum : str
        Sum over the rows of the xxhash64 of all input columns, as decimal text; the
        difference is the checksum of the class's synthetic rows.
    """

    input_rows: int
    output_rows: int
    planned_synthetic: int
    missing_rows: int
    extra_rows: int
    unmarked_extra_rows: int
    input_checksum: str
    output_checksum: str

    @property
    def passed(self) -> bool:
        """Every input row is there exactly once and the extras are the planned ones."""
        return (
            self.missing_rows == 0
            and self.extra_rows == self.planned_synthetic
            and self.unmarked_extra_rows == 0
        )

    def problems(self) -> list[str]:
        """What is wrong, in words, without any row value."""
        found = []
        if self.missing_rows:
            found.append(f"{self.missing_rows} input row(s) missing or changed")
        if self.extra_rows != self.planned_synthetic:
            found.append(
                f"{self.extra_rows} row(s) beyond the input where {self.planned_synthetic} "
                "synthetic row(s) were planned"
            )
        if self.unmarked_extra_rows:
            found.append(f"{self.unmarked_extra_rows} extra row(s) marked as original")
        return found


def verify_output(
    input_df: DataFrame,
    output_df: DataFrame,
    label_col: str,
    planned_synthetic: Mapping[Any, int],
    synthetic_col: str | None = None,
) -> dict[str, ClassCheck]:
    """Check that ``output_df`` is ``input_df`` plus the planned synthetic rows per class.

    Parameters
    ----------
    input_df : DataFrame
        The input as the run read it.
    output_df : DataFrame
        The written output, read back with the columns of ``input_df`` (and the marker).
    label_col : str
        The class label column.
    planned_synthetic : mapping
        Synthetic rows planned per class; keys are labels or their ``str()`` (as in the run
        report). Classes left out are planned to gain none.
    synthetic_col : str, optional
        The boolean marker column, if the run wrote one; then the rows it marks as
        original must be exactly the input rows.

    Returns
    -------
    dict of str to ClassCheck
        Per class (keyed by ``str(label)``), what was found; all passed.

    Raises
    ------
    OutputVerificationError
        If an input row is missing or duplicated, a value changed, a column is missing, or
        a class's synthetic row count is not the planned one. The message names the classes
        and counts, never row values.

    Notes
    -----
    Rows are compared as multisets through a 96-bit hash of all input columns (xxhash64
    and murmur3), grouped with Spark aggregations: one shuffle of each side, nothing but
    one row per class collected. Two different rows sharing both hashes would go
    unnoticed; the odds are about n^2 / 2^97 for n rows. Without a marker column the
    content of the synthetic rows cannot be checked, only their number (a synthetic row
    equal to an input row is counted as synthetic, which is right). Map columns cannot be
    hashed by Spark and are refused.
    """
    from pyspark.sql import functions as F

    columns = list(input_df.columns)
    absent = [name for name in columns if name not in output_df.columns]
    if synthetic_col is not None and synthetic_col not in output_df.columns:
        absent.append(synthetic_col)
    if absent:
        raise OutputVerificationError(
            f"the written output lacks the column(s) {absent}; the output is not "
            "the run's and was not moved into place."
        )

    def keyed(frame: DataFrame, mark: Column) -> DataFrame:
        values = [_column(name) for name in columns]
        return frame.select(
            _column(label_col).alias(_LABEL),
            mark.alias(_MARK),
            F.xxhash64(*values).alias(_H1),
            F.hash(*values).alias(_H2),
        )

    marked = _column(synthetic_col) if synthetic_col else F.lit(None).cast("boolean")
    original = F.lit(False) if synthetic_col else F.lit(None).cast("boolean")
    keys = [_LABEL, _MARK, _H1, _H2]
    ins = keyed(input_df, original).groupBy(*keys).agg(F.count(F.lit(1)).alias("n_in"))
    outs = keyed(output_df, marked).groupBy(*keys).agg(F.count(F.lit(1)).alias("n_out"))
    # Distinct names on the two sides, so that a self-derived output cannot confuse the join.
    outs = outs.select(*[F.col(key).alias("o" + key) for key in keys], "n_out")
    on = [F.col(key).eqNullSafe(F.col("o" + key)) for key in keys]
    joined = ins.join(outs, on, "full_outer").select(
        *[F.coalesce(F.col(key), F.col("o" + key)).alias(key) for key in keys],
        F.coalesce(F.col("n_in"), F.lit(0)).alias("n_in"),
        F.coalesce(F.col("n_out"), F.lit(0)).alias("n_out"),
    )
    rows = _per_class(joined).collect()

    planned = {str(label): int(n) for label, n in planned_synthetic.items()}
    checks = {
        str(row[_LABEL]): ClassCheck(
            input_rows=int(row["input_rows"]),
            output_rows=int(row["output_rows"]),
            planned_synthetic=planned.get(str(row[_LABEL]), 0),
            missing_rows=int(row["missing_rows"]),
            extra_rows=int(row["extra_rows"]),
            unmarked_extra_rows=int(row["unmarked_extra_rows"]),
            input_checksum=str(row["input_checksum"]),
            output_checksum=str(row["output_checksum"]),
        )
        for row in rows
    }
    for label in planned.keys() - checks.keys():
        # A planned class with no row on either side: its planned rows are all missing.
        checks[label] = ClassCheck(0, 0, planned[label], 0, 0, 0, "0", "0")

    failed = {label: check for label, check in sorted(checks.items()) if not check.passed}
    if failed:
        described = "; ".join(
            f"class {label!r}: {', '.join(check.problems())}" for label, check in failed.items()
        )
        raise OutputVerificationError(
            f"the written output does not match the run ({described}); it was not "
            "moved into place. Rerun the job; if this repeats, check the storage."
        )
    logger.info(
        "verify: %s",
        ", ".join(
            f"class {label!r} {c.input_rows} input rows all present once, "
            f"{c.extra_rows} synthetic as planned"
            for label, c in sorted(checks.items())
        ),
    )
    return checks


def _per_class(joined: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    n_in, n_out = F.col("n_in"), F.col("n_out")
    # Decimal sums: a sum of longs overflows (an error under ANSI mode) on large tables.
    h1 = F.col(_H1).cast("decimal(38,0)")
    extra = F.greatest(n_out - n_in, F.lit(0))
    return joined.groupBy(_LABEL).agg(
        F.sum(n_in).alias("input_rows"),
        F.sum(n_out).alias("output_rows"),
        F.sum(F.greatest(n_in - n_out, F.lit(0))).alias("missing_rows"),
        F.sum(extra).alias("extra_rows"),
        F.sum(F.when(F.col(_MARK).eqNullSafe(F.lit(False)), extra).otherwise(0)).alias(
            "unmarked_extra_rows"
        ),
        F.coalesce(F.sum(h1 * n_in), F.lit(0)).alias("input_checksum"),
        F.coalesce(F.sum(h1 * n_out), F.lit(0)).alias("output_checksum"),
    )


def summary(checks: Mapping[str, ClassCheck]) -> dict[str, Any]:
    """The checks as JSON-ready data for the run report."""
    return {
        "passed": all(check.passed for check in checks.values()),
        "classes": {
            label: {
                "input_rows": c.input_rows,
                "output_rows": c.output_rows,
                "synthetic_rows": c.extra_rows,
                "planned_synthetic": c.planned_synthetic,
                "input_checksum": c.input_checksum,
                "output_checksum": c.output_checksum,
            }
            for label, c in sorted(checks.items())
        },
    }


def _column(name: str) -> Column:
    from pyspark.sql import functions as F

    # Backquoted, so that dots and other signs in a name are not read as syntax.
    return F.col("`" + name.replace("`", "``") + "`")
