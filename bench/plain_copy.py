"""The baseline for job timings: a plain Spark read-and-write of the same table.

Usage: spark-submit bench/plain_copy.py INPUT OUTPUT [csv|parquet|json|orc]
"""

from __future__ import annotations

import sys

from pyspark.sql import SparkSession


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    fmt = sys.argv[3] if len(sys.argv) > 3 else "parquet"
    spark = SparkSession.builder.appName("plain-copy").getOrCreate()
    try:
        reader = spark.read.format(fmt)
        if fmt == "csv":
            reader = reader.options(header="true", inferSchema="true")
        reader.load(source).write.mode("overwrite").parquet(target)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
