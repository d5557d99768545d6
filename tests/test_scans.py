"""How often the job reads the input: the counts read the label alone, the class is
extracted in one pass, the write reads every row once more, and the input is never cached.

A feature computed by a Python UDF that counts its calls (an accumulator) shows how many
times Spark produced each input value.
"""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType

from smote_spark import oversample
from smote_spark.targets import count_classes

ROWS, MINORITY = 400, 40


@pytest.mark.parametrize("mode", ["exact", "lsh"])
def test_the_input_is_read_once_for_the_class_and_once_for_the_output(
    spark: SparkSession, mode: str, tmp_path
) -> None:
    calls = spark.sparkContext.accumulator(0)

    def counted(x):  # no type hints: they would make Spark look for a pandas UDF
        calls.add(1)
        return x * 0.5

    feature = F.udf(counted, DoubleType())
    label = F.when(F.col("id") % (ROWS // MINORITY) == 0, 1).otherwise(0)
    df = spark.range(ROWS).select(
        label.alias("y"), F.col("id").cast("double").alias("a"), feature("id").alias("b")
    )

    counts = count_classes(df, "y")
    assert counts == {0: ROWS - MINORITY, 1: MINORITY}
    assert calls.value == 0  # the label alone was computed

    result = oversample(df, label_col="y", seed=3, neighbour_mode=mode)
    assert calls.value == MINORITY  # the class's rows, once, for every eager step

    result.dataframe.write.parquet(str(tmp_path / "out"))
    result.release()
    assert calls.value == MINORITY + ROWS  # and every row once more for the output
    assert not df.is_cached
    assert spark.read.parquet(str(tmp_path / "out")).count() == ROWS + MINORITY
