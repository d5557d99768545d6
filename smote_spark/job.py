"""The smote-spark job: a config file and flags in, an oversampled table and a run report out."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
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
    hadoop_store,
    local_path,
    write_atomically,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass
class _Run:
    """What a run has learnt so far; becomes the run report."""

    config: JobConfig
    input_path: str
    output_path: str
    started_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    timings_s: dict[str, float] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)

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
        nothing written); 1 for anything else (traceback logged).
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
    except SmoteError as exc:
        logger.debug("run stopped", exc_info=True)
        return _fail(exc)
    except Exception:
        logger.exception("smote-spark failed")
        return EXIT_FAILED
    return EXIT_OK


def run(config: JobConfig) -> dict[str, Any]:
    """Check the locations, oversample the input and write it with its run report.

    Parameters
    ----------
    config : JobConfig
        A checked job config.

    Returns
    -------
    dict
        The run report, as written beside the output.

    Raises
    ------
    SmoteError
        `JobError` for a missing input or an existing output in ``error`` mode, or the
        library's error for data it cannot oversample; nothing is written in either case.
    """
    started = time.perf_counter()
    input_local = local_path(config.input.path)
    output_local = local_path(config.output.path)
    state = _Run(
        config,
        input_path=input_local or config.input.path,
        output_path=output_local or config.output.path,
    )
    _log_config(config)

    # Local locations are checked before Spark starts, so a mistake costs no JVM start-up.
    if input_local is not None and not os.path.exists(input_local):
        raise _missing_input(input_local)
    if output_local is not None:
        check_destination(LocalStore(), output_local, config.output.mode)

    spark, owned = _session(config.spark)
    try:
        store = _store_for(spark, output_local, state.output_path, config.output.mode)
        input_uri = LocalStore().spark_path(input_local) if input_local else state.input_path

        with state.step("read"):
            frame = _read(spark, config.input, input_uri)
        with state.step("oversample"):
            result = _oversample(frame, config.smote)
        _log_result(result.report)

        def write_data(path: str, mode: str = "errorifexists") -> None:
            with state.step("write"):
                _save(result.dataframe, config.output, path, mode)

        def report_text() -> str:
            state.timings_s["total"] = round(time.perf_counter() - started, 3)
            state.report = _report(state, result.report, spark)
            return json.dumps(state.report, indent=2) + "\n"

        if store is not None:
            write_atomically(store, state.output_path, config.output.mode, write_data, report_text)
        else:
            write_data(state.output_path, _spark_mode(config.output.mode))
            logger.warning("no JVM gateway, so no report file; the report: %s", report_text())
        result.release()
        logger.info("wrote %s and its report", state.output_path)
        return state.report
    finally:
        if owned:
            spark.stop()


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
    logger.info(
        "input %s (%s), output %s (%s, mode %s)",
        config.input.path,
        config.input.reader_format,
        config.output.path,
        config.output.format,
        config.output.mode,
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
    spark = builder.getOrCreate()
    return spark, True


def _checkout_root() -> str | None:
    try:
        importlib.metadata.distribution("smote-spark")
    except importlib.metadata.PackageNotFoundError:
        return str(Path(__file__).resolve().parent.parent)
    return None


def _store_for(
    spark: SparkSession, output_local: str | None, output: str, mode: WriteMode
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
    check_destination(store, output, mode)
    return store


def _read(spark: SparkSession, settings: InputConfig, uri: str) -> DataFrame:
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


def _save(frame: DataFrame, settings: OutputConfig, path: str, mode: str) -> None:
    writer = frame.write.format(settings.format).options(**settings.writer_options)
    writer.mode(mode).save(path)


def _spark_mode(mode: WriteMode) -> str:
    return "overwrite" if mode == "overwrite" else "errorifexists"


def _report(state: _Run, library_report: dict[str, Any], spark: SparkSession) -> dict[str, Any]:
    config = state.config
    return {
        **library_report,
        "status": "succeeded",
        "input": {"path": state.input_path, "format": config.input.reader_format},
        "output": {
            "path": state.output_path,
            "format": config.output.format,
            "mode": config.output.mode,
        },
        "application_id": _application_id(spark),
        "spark_version": spark.version,
        "started_at": state.started_at,
        "job_timings_s": dict(state.timings_s),
    }


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
