"""The smote-spark job: a config file and flags in, an oversampled table and a run report out."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smote_spark.config import (
    InputConfig,
    JobConfig,
    JobError,
    OutputConfig,
    SparkConfig,
    WriteMode,
    load_config,
    option_text,
)
from smote_spark.errors import (
    ColumnTypeError,
    InvalidColumnError,
    InvalidDataError,
    InvalidParameterError,
    SmoteError,
)
from smote_spark.settings import SmoteSettings
from smote_spark.storage import (
    LocalStore,
    Store,
    check_destination,
    check_table_destination,
    hadoop_store,
    local_path,
    replace_file,
    report_path,
    table_exists,
    write_atomically,
    write_table_atomically,
)
from smote_spark.verification import OutputVerificationError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, DataFrameWriter, SparkSession
    from pyspark.sql.types import StructType

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass
class _Run:
    """What a run has learnt so far; becomes the run report."""

    config: JobConfig
    input_location: str
    output_location: str
    report_location: str | None
    started_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    timings_s: dict[str, float] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time one step and log its wall time."""
        start = time.perf_counter()
        yield
        self.timings_s[name] = round(time.perf_counter() - start, 3)
        logger.info("step %s took %.1f s", name, self.timings_s[name])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job; return its exit code.

    Parameters
    ----------
    argv : sequence of str or None
        Command-line arguments without the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    int
        0 when the output and report are written; 2 for a bad config, missing input,
        an existing output in ``error`` mode or data SMOTE cannot use (one line on stderr,
        nothing written); 1 for a failed ``verify`` (one line on stderr, the destination
        left as it was) and for anything else (traceback logged).
    """
    try:
        config = load_config(argv)
    except SystemExit as exc:  # argparse: --help, or a malformed command line
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except JobError as exc:
        return _fail(exc)
    _configure_logging(config.log_level)
    try:
        run(config)
    except OutputVerificationError as exc:
        print(f"verify error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except SmoteError as exc:
        logger.debug("run stopped", exc_info=True)
        return _fail(exc)
    except Exception:
        logger.exception("smote-spark failed")
        return EXIT_FAILED
    return EXIT_OK


def run(config: JobConfig) -> dict[str, Any]:
    """Check the locations, oversample the input and write it with its run report.

    The data is written to a hidden location first (a sibling directory, or a staging
    table), verified and drawn there if asked, and only then moved into place.

    Parameters
    ----------
    config : JobConfig
        A checked job config.

    Returns
    -------
    dict
        The run report, as written beside the output (or to ``output.report_path``).

    Raises
    ------
    OutputVerificationError
        If ``verify`` is on and the written data is not the input plus the planned
        synthetic rows; the destination is left as it was.
    SmoteError
        `JobError` for a missing input or an existing output in ``error`` mode, or the
        library's error for data it cannot oversample; nothing is written in either case.
    """
    started = time.perf_counter()
    source, target = config.input, config.output
    input_local = local_path(source.path) if source.path is not None else None
    output_local = local_path(target.path) if target.path is not None else None
    output_location = output_local or target.path or f"table {target.table}"
    report_given = target.report_path or (report_path(target.path) if target.path else None)
    report_local = local_path(report_given) if report_given else None
    state = _Run(
        config,
        input_location=input_local or source.location,
        output_location=output_location,
        report_location=report_local or report_given,
    )
    _log_config(config)

    # Local locations are checked before Spark starts, so a mistake costs no JVM start-up.
    if input_local is not None and not os.path.exists(input_local):
        raise _missing_input(input_local)
    if output_local is not None:
        check_destination(LocalStore(), output_local, target.mode, report_local)
    elif report_local is not None:
        check_destination(LocalStore(), report_local, target.mode, None)
    if config.report_dir is not None:
        _check_plots()

    spark, owned = _session(config.spark)
    try:
        store: Store | None = None
        if target.table is not None:
            check_table_destination(spark, target.table, target.mode)
        else:
            store = _store_for(spark, output_local, output_location, target.mode, report_given)

        with state.step("read"):
            frame = _read(spark, source, input_local)
        with state.step("oversample"):
            result = _oversample(frame, config.smote)
        _log_result(result.report)
        _check_partition_columns(target, result.dataframe.columns)
        schema = result.dataframe.schema
        appending = target.mode == "append" and store is not None and target.path is not None
        if appending and store is not None and store.exists(output_location):
            _check_appendable(spark, target, schema)

        def check(staged: str) -> None:
            if not (config.verify or config.report_dir):
                return
            written = _read_staged(spark, target, staged, schema)
            if config.verify:
                with state.step("verify"):
                    state.checks = _verify(frame, written, config.smote, result.report)
            if config.report_dir is not None:
                with state.step("pictures"):
                    _pictures(frame, written, config, result.report)

        def report_text() -> str:
            state.timings_s["total"] = round(time.perf_counter() - started, 3)
            state.report = _report(state, result.report, spark)
            return json.dumps(state.report, indent=2) + "\n"

        _place(spark, state, store, result.dataframe, check, report_text)
        result.release()
        logger.info(
            "wrote %s (mode %s) and its report in %.1f s",
            output_location,
            target.mode,
            time.perf_counter() - started,
        )
        return state.report
    finally:
        if owned:
            spark.stop()


def _place(
    spark: SparkSession,
    state: _Run,
    store: Store | None,
    output: DataFrame,
    check: Callable[[str], None],
    report_text: Callable[[], str],
) -> None:
    """Write ``output`` to a hidden location, ``check`` it there, then move it in."""
    target = state.config.output

    def write_table(name: str) -> None:
        with state.step("write"):
            _writer(output, target).saveAsTable(name)

    def write_path(path: str) -> None:
        with state.step("write"):
            _writer(output, target).mode("errorifexists").save(path)

    if target.table is not None:
        write_table_atomically(spark, target.table, target.mode, write_table, check)
        _place_report(spark, state, report_text())
    elif store is not None:
        where = state.output_location
        write_atomically(
            store, where, target.mode, write_path, report_text, check, state.report_location
        )
    else:
        # Spark Connect: no filesystem handle, so no hidden location to check first.
        with state.step("write"):
            _writer(output, target).mode(_spark_mode(target.mode)).save(state.output_location)
        check(state.output_location)
        logger.warning("no JVM gateway, so no report file; the report: %s", report_text())


def _check_plots() -> None:
    from smote_spark.pictures import PlotsUnavailableError, require_matplotlib

    try:
        require_matplotlib()
    except PlotsUnavailableError as exc:
        raise JobError("config error", str(exc)) from None


def _check_partition_columns(target: OutputConfig, columns: list[str]) -> None:
    absent = [name for name in target.partition_by or [] if name not in columns]
    if absent:
        raise JobError(
            "config error",
            f"output.partition_by: column(s) {absent} are not in the output, whose columns "
            f"are {columns}; name output columns (the label is a good choice).",
        )


def _check_appendable(spark: SparkSession, target: OutputConfig, schema: StructType) -> None:
    """Refuse to append rows that would not read back as one table with what is there."""
    path = target.path
    try:
        reader = spark.read.format(target.format).options(**target.writer_options)
        existing = reader.load(path).schema
    except Exception as exc:  # any failure to read it back: Spark's or py4j's
        raise JobError(
            "output error",
            f"output.path: {path} holds data that cannot be read as {target.format} "
            f"({type(exc).__name__}); append only to output of the same format.",
        ) from None

    # Columns by name (partition columns are read back last), with their types except for
    # csv (read back as text) and partition columns (whose types Spark infers from paths).
    untyped = set(target.partition_by or []) if target.format != "csv" else None

    def columns(found: StructType) -> list[tuple[str, str]]:
        return sorted(
            (f.name, "" if untyped is None or f.name in untyped else f.dataType.simpleString())
            for f in found.fields
        )

    if columns(existing) != columns(schema):
        raise JobError(
            "output error",
            f"output.path: {path} holds columns {columns(existing)}, but this run writes "
            f"{columns(schema)}; append only output of the same schema, or use another path.",
        )


def _read_staged(
    spark: SparkSession, target: OutputConfig, staged: str, schema: StructType
) -> DataFrame:
    """The data just written, read back with the schema it was written with."""
    if target.table is not None:
        return spark.read.table(staged)
    reader = spark.read.format(target.format).options(**target.writer_options)
    names = ["`" + name.replace("`", "``") + "`" for name in schema.names]
    return reader.schema(schema).load(staged).select(*names)


def _verify(
    frame: DataFrame, written: DataFrame, settings: SmoteSettings, report: dict[str, Any]
) -> dict[str, Any]:
    from smote_spark.verification import summary, verify_output

    before, after = report["counts_before"], report["counts_after"]
    planned = {label: after[label] - before.get(label, 0) for label in after}
    checks = verify_output(frame, written, settings.label_col, planned, settings.synthetic_col)
    return summary(checks)


def _pictures(
    frame: DataFrame, written: DataFrame, config: JobConfig, report: dict[str, Any]
) -> None:
    from smote_spark.pictures import write_pictures

    assert config.report_dir is not None
    settings = config.smote
    features = settings.input_cols
    if features is None:
        excluded = {settings.label_col, *(settings.exclude_cols or [])}
        features = [name for name in frame.columns if name not in excluded]
    write_pictures(
        frame,
        written,
        settings.label_col,
        config.report_dir,
        features=features,
        synthetic_col=settings.synthetic_col,
        seed=int(report.get("seed") or 0),
    )


def _place_report(spark: SparkSession, state: _Run, text: str) -> None:
    """The report of a table output: to ``output.report_path`` if given, else the log."""
    location = state.report_location
    if location is None:
        logger.info("run report (set output.report_path to keep it in a file): %s", text)
        return
    local = local_path(location)
    store = LocalStore() if local is not None else hadoop_store(spark, location)
    if store is None:
        logger.warning("no JVM gateway, so no report file; the report: %s", text)
        return
    replace_file(store, local or location, text)


def _configure_logging(level: str) -> None:
    # basicConfig does nothing when the host (pytest, a notebook) already set up logging.
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("smote_spark").setLevel(level)


def _fail(exc: SmoteError) -> int:
    print(f"{_error_kind(exc)}: {exc}", file=sys.stderr)
    return EXIT_USAGE


def _error_kind(exc: SmoteError) -> str:
    if isinstance(exc, JobError):
        return exc.kind
    kinds: list[tuple[type[SmoteError], str]] = [
        (InvalidParameterError, "parameter error"),
        (ColumnTypeError, "column type error"),
        (InvalidColumnError, "column error"),
        (InvalidDataError, "data error"),
    ]
    return next((kind for cls, kind in kinds if isinstance(exc, cls)), "error")


def _missing_input(path: str) -> JobError:
    return JobError(
        "input error",
        f"input.path: {path} does not exist; check the path (relative paths are resolved "
        f"against the current directory, {os.getcwd()}).",
    )


def _log_config(config: JobConfig) -> None:
    source, target = config.input, config.output
    logger.info(
        "input %s%s, output %s (%s, mode %s%s)%s",
        source.location,
        f" ({source.reader_format})" if source.path is not None else "",
        target.location,
        target.format,
        target.mode,
        f", partitioned by {target.partition_by}" if target.partition_by else "",
        ", verified before it is moved into place" if config.verify else "",
    )
    logger.info("smote parameters: %s", config.smote.model_dump())


def _log_result(report: dict[str, Any]) -> None:
    logger.info(
        "minority label %r, seed %s, neighbour mode %s",
        report.get("minority_label"),
        report.get("seed"),
        report.get("neighbour_mode"),
    )
    logger.info("rows per class before: %s", report.get("counts_before"))
    logger.info("rows per class after: %s", report.get("counts_after"))
    logger.info("synthetic rows: %s", report.get("synthetic_rows"))


def _session(settings: SparkConfig) -> tuple[SparkSession, bool]:
    """The active session if there is one (not ours to stop), else a new one (ours)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        logger.info("using the active Spark session; the spark section is not applied")
        return active, False

    conf = {name: option_text(value) for name, value in settings.conf.items()}
    if "PYSPARK_PYTHON" not in os.environ:
        # Local Python workers then run the job's interpreter, with its packages.
        os.environ["PYSPARK_PYTHON"] = sys.executable
        conf.setdefault("spark.pyspark.python", sys.executable)
    checkout = _checkout_root()
    if checkout is not None:
        # Not installed: workers find the package where the driver found it.
        conf.setdefault("spark.executorEnv.PYTHONPATH", checkout)
    conf.setdefault("spark.log.level", "WARN")
    # A progress bar would run into the one-line error users read at the end of the log.
    conf.setdefault("spark.ui.showConsoleProgress", "false")

    builder = SparkSession.builder.appName(settings.app_name)
    if settings.master is not None:
        builder = builder.master(settings.master)
    for name, value in conf.items():
        builder = builder.config(name, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:
        if settings.master is not None and "master" in str(exc).lower():
            raise JobError(
                "config error",
                f"spark.master: Spark cannot use {settings.master!r}; give local[N], "
                "spark://host:port, yarn, k8s://... or leave it out under spark-submit.",
            ) from None
        raise
    return spark, True


def _checkout_root() -> str | None:
    try:
        importlib.metadata.distribution("smote-spark")
    except importlib.metadata.PackageNotFoundError:
        return str(Path(__file__).resolve().parent.parent)
    return None


def _store_for(
    spark: SparkSession,
    output_local: str | None,
    output: str,
    mode: WriteMode,
    report: str | None,
) -> Store | None:
    """The filesystem of the output, checked for ``error`` mode; None to write directly."""
    if output_local is not None:
        return LocalStore()
    store = hadoop_store(spark, output)
    if store is None:
        logger.warning(
            "no JVM gateway for %s (Spark Connect?): writing directly, not atomically", output
        )
        return None
    check_destination(store, output, mode, report)
    return store


def _read(spark: SparkSession, settings: InputConfig, input_local: str | None) -> DataFrame:
    if settings.table is not None:
        if not table_exists(spark, settings.table):
            raise JobError(
                "input error",
                f"input.table: {settings.table} is not in the catalog; check the name "
                f"(the current database is {spark.catalog.currentDatabase()!r}).",
            )
        return spark.read.table(settings.table)
    uri = LocalStore().spark_path(input_local) if input_local else str(settings.path)
    return _read_path(spark, settings, uri)


def _read_path(spark: SparkSession, settings: InputConfig, uri: str) -> DataFrame:
    from pyspark.errors import PySparkException

    unreadable: tuple[type[BaseException], ...] = (PySparkException,)
    try:
        from py4j.protocol import Py4JJavaError

        unreadable += (Py4JJavaError,)
    except ImportError:  # Spark Connect clients have no py4j
        pass
    try:
        return (
            spark.read.format(settings.reader_format).options(**settings.reader_options).load(uri)
        )
    except unreadable as exc:
        text = str(exc)
        if "PATH_NOT_FOUND" in text or "Path does not exist" in text:
            raise _missing_input(uri) from None
        # Spark reads schemas (parquet footers, orc tails) here: a file it cannot parse.
        raise JobError(
            "input error",
            f"input.path: {uri} could not be read as {settings.reader_format} "
            f"({_spark_reason(text)}); check that the file is complete and that "
            "input.format matches it.",
        ) from None


def _spark_reason(text: str) -> str:
    """The line of a Spark error that names its condition, e.g. ``[FAILED_READ_FILE...]``."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    named = [line for line in lines if re.search(r"\[[A-Z][A-Z_.]+\]", line)]
    if named:
        reason = named[0]
        return reason[reason.index("[") :][:300]
    return (lines or ["unknown error"])[0][:300]


def _oversample(frame: DataFrame, settings: SmoteSettings) -> Any:
    # Imported here so that --help and config errors never load Spark or the library core.
    from smote_spark.resampling import oversample

    return oversample(frame, settings)


def _writer(frame: DataFrame, settings: OutputConfig) -> DataFrameWriter:
    writer = frame.write.format(settings.format).options(**settings.writer_options)
    if settings.partition_by:
        writer = writer.partitionBy(*settings.partition_by)
    return writer


def _spark_mode(mode: WriteMode) -> str:
    return {"error": "errorifexists", "overwrite": "overwrite", "append": "append"}[mode]


def _report(state: _Run, library_report: dict[str, Any], spark: SparkSession) -> dict[str, Any]:
    config = state.config
    return {
        **library_report,
        "status": "succeeded",
        "input": _input_facts(state),
        "output": _output_facts(state),
        "verification": state.checks or None,
        "pictures": os.path.abspath(config.report_dir) if config.report_dir else None,
        "application_id": _application_id(spark),
        "spark_version": spark.version,
        "started_at": state.started_at,
        "job_timings_s": dict(state.timings_s),
    }


def _input_facts(state: _Run) -> dict[str, Any]:
    source = state.config.input
    if source.table is not None:
        return {"table": source.table}
    return {"path": state.input_location, "format": source.reader_format}


def _output_facts(state: _Run) -> dict[str, Any]:
    target = state.config.output
    where = {"table": target.table} if target.table else {"path": state.output_location}
    facts: dict[str, Any] = {**where, "format": target.format, "mode": target.mode}
    if target.partition_by:
        facts["partition_by"] = list(target.partition_by)
    if target.table and state.report_location:
        facts["report_path"] = state.report_location
    return facts


def _application_id(spark: SparkSession) -> str | None:
    try:
        return str(spark.sparkContext.applicationId)
    except Exception:
        pass
    try:
        return spark.conf.get("spark.app.id")
    except Exception:
        return None


if __name__ == "__main__":
    sys.exit(main())
