"""The smote-spark job: a config file and flags in, an oversampled table and a run report out.

The job is the only place that reads files, parses the command line, configures logging and
owns a Spark session. Its steps: load and check the config (before Spark starts), check the
output location, build the session, read the input, call `smote_spark.oversample.oversample`,
write the result and its run report atomically, and stop the session it started.

Run it with ``spark-submit jobs/smote_job.py --config conf/blood_transfusion.yaml`` or, once
the package is installed, ``smote-spark --config ...`` / ``python -m smote_spark.job ...``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlparse
from urllib.request import url2pathname

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smote_spark.errors import (
    ColumnTypeError,
    InvalidColumnError,
    InvalidDataError,
    InvalidParameterError,
    SmoteError,
)
from smote_spark.settings import SmoteSettings, describe_validation_error

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

InputFormat = Literal["parquet", "csv", "json", "orc"]
OutputFormat = Literal["parquet", "csv"]
WriteMode = Literal["error", "overwrite"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
# YAML gives booleans and numbers for option values; Spark takes them all as strings.
OptionValue = str | bool | int | float

FORMAT_BY_SUFFIX: dict[str, InputFormat] = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".orc": "orc",
}
CSV_DEFAULTS: dict[str, str] = {"header": "true", "inferSchema": "true"}
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


# ---------------------------------------------------------------------------------------------
# Config


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputConfig(_Section):
    """Where and how to read the input table.

    Parameters
    ----------
    path : str
        A local path (relative to the current directory) or a URI such as ``hdfs://...``.
    format : {"parquet", "csv", "json", "orc"} or None
        ``None`` guesses from the path's extension, else parquet.
    options : dict
        Spark reader options; csv defaults to ``header=true, inferSchema=true``.
    """

    path: str = Field(min_length=1)
    format: InputFormat | None = None
    options: dict[str, OptionValue] = Field(default_factory=dict)

    @property
    def reader_format(self) -> InputFormat:
        """The format given, or the one the path's extension names, or parquet."""
        if self.format is not None:
            return self.format
        suffix = Path(urlparse(self.path).path.rstrip("/")).suffix.lower()
        return FORMAT_BY_SUFFIX.get(suffix, "parquet")

    @property
    def reader_options(self) -> dict[str, str]:
        """The options as Spark strings, csv defaults filled in."""
        defaults = CSV_DEFAULTS if self.reader_format == "csv" else {}
        return _merge_options(defaults, self.options)


class OutputConfig(_Section):
    """Where and how to write the oversampled table.

    Parameters
    ----------
    path : str
        A local path (relative to the current directory) or a URI such as ``hdfs://...``.
    format : {"parquet", "csv"}
        Output format; csv is written with a header row.
    mode : {"error", "overwrite"}
        ``error`` refuses to touch an existing output; ``overwrite`` replaces it atomically.
    options : dict
        Spark writer options.
    """

    path: str = Field(min_length=1)
    format: OutputFormat = "parquet"
    mode: WriteMode = "error"
    options: dict[str, OptionValue] = Field(default_factory=dict)

    @property
    def writer_options(self) -> dict[str, str]:
        """The options as Spark strings, a csv header by default."""
        defaults = {"header": "true"} if self.format == "csv" else {}
        return _merge_options(defaults, self.options)


class SparkConfig(_Section):
    """How to build the Spark session when the job starts one.

    Parameters
    ----------
    app_name : str
        Spark application name.
    master : str or None
        Spark master URL; ``None`` leaves it to spark-submit (or ``local[*]``).
    conf : dict
        Extra Spark configuration, applied when the session is built.
    """

    app_name: str = Field(default="smote-spark", min_length=1)
    master: str | None = None
    conf: dict[str, OptionValue] = Field(default_factory=dict)


class JobConfig(_Section):
    """The whole job config: the sections of the YAML file, after flags are applied."""

    input: InputConfig
    output: OutputConfig
    smote: SmoteSettings = Field(default_factory=SmoteSettings)
    spark: SparkConfig = Field(default_factory=SparkConfig)
    log_level: LogLevel = "INFO"


def _merge_options(defaults: dict[str, str], given: dict[str, OptionValue]) -> dict[str, str]:
    # Spark option names are case-insensitive, so a given "Header" replaces the default.
    given_names = {name.lower() for name in given}
    merged = {name: value for name, value in defaults.items() if name.lower() not in given_names}
    merged.update({name: _option_text(value) for name, value in given.items()})
    return merged


def _option_text(value: OptionValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class JobError(SmoteError, ValueError):
    """A problem with the job's config, input or output location; exits with code 2.

    Parameters
    ----------
    kind : str
        What went wrong, e.g. ``"config error"``; it starts the line printed on stderr.
    message : str
        The rest of that line: which key or path, the rule, what was found, what to do.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# Each flag overrides one config key; the help text and the README table come from here.
FLAG_KEYS: dict[str, tuple[str, str]] = {
    "input": ("input", "path"),
    "input_format": ("input", "format"),
    "output": ("output", "path"),
    "output_format": ("output", "format"),
    "mode": ("output", "mode"),
    "label": ("smote", "label_col"),
    "features": ("smote", "input_cols"),
    "percentage": ("smote", "percentage"),
    "k": ("smote", "k"),
    "seed": ("smote", "seed"),
    "neighbour_mode": ("smote", "neighbour_mode"),
    "minority_label": ("smote", "minority_label"),
    "synthetic_col": ("smote", "synthetic_col"),
    "app_name": ("spark", "app_name"),
    "master": ("spark", "master"),
}


# The keys without a default, and the flag that can give each (a whole missing section
# needs its path first).
REQUIRED_FLAGS: dict[tuple[str, ...], str] = {
    ("input",): "--input",
    ("input", "path"): "--input",
    ("output",): "--output",
    ("output", "path"): "--output",
}


def build_parser() -> argparse.ArgumentParser:
    """The command line: ``--config`` plus one flag per overridable config key.

    Returns
    -------
    argparse.ArgumentParser
        Values stay strings; the config model checks and converts them, so a flag and a
        config key obey the same rule.
    """
    parser = argparse.ArgumentParser(
        prog="smote-spark",
        description="Oversample the minority class of a table with SMOTE, on Spark.",
        epilog="Relative local paths are resolved against the current directory. "
        "Exit codes: 0 done, 2 bad config, input or data (nothing written), 1 other failure.",
    )
    parser.add_argument("--config", metavar="FILE", help="YAML job config")
    for dest, key in FLAG_KEYS.items():
        flag = "--" + dest.replace("_", "-")
        parser.add_argument(flag, dest=dest, metavar="VALUE", help=f"sets {'.'.join(key)}")
    parser.add_argument("--log-level", dest="log_level", metavar="LEVEL", help="sets log_level")
    return parser


def load_config(argv: Sequence[str] | None = None) -> JobConfig:
    """Parse the flags, read the config file they name, apply the flags, validate.

    Parameters
    ----------
    argv : sequence of str or None
        Command-line arguments without the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    JobConfig
        The checked config. No Spark work happens here.

    Raises
    ------
    JobError
        With kind ``"config error"`` for an unreadable file, bad YAML, an unknown key, a
        missing value or a value that breaks its rule; the message names the key.
    SystemExit
        From argparse, for ``--help`` (code 0) or a malformed command line (code 2).
    """
    args = build_parser().parse_args(argv)
    values = _read_config_file(args.config) if args.config else {}
    _apply_flags(values, args)
    try:
        return JobConfig.model_validate(values)
    except ValidationError as exc:
        raise JobError("config error", _describe_config_error(exc)) from None


def _read_config_file(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise JobError(
            "config error",
            f"cannot read config file {path!r}: {exc.strerror or exc}; check the --config path.",
        ) from None
    try:
        # safe_load builds plain data only; a config file can never run code.
        values = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise JobError(
            "config error", f"{path}: not valid YAML{where}: {problem}; fix the file."
        ) from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise JobError(
            "config error",
            f"{path}: the top level must be a mapping of sections (input, output, smote, "
            f"spark, log_level), found a {type(values).__name__}.",
        )
    return values


def _apply_flags(values: dict[str, Any], args: argparse.Namespace) -> None:
    for dest, (section, key) in FLAG_KEYS.items():
        given = getattr(args, dest)
        if given is None:
            continue
        target = values.setdefault(section, {})
        if not isinstance(target, dict):
            # Leave it to the model, which reports the section's wrong type by name.
            continue
        target[key] = _flag_value(dest, given)
    if args.log_level is not None:
        values["log_level"] = args.log_level.upper()


def _flag_value(dest: str, text: str) -> Any:
    if dest == "features":
        return [name.strip() for name in text.split(",") if name.strip()]
    if dest == "minority_label":
        return _label_value(text)
    return text


def _label_value(text: str) -> bool | int | float | str:
    # A flag is always text, but labels are often numbers or booleans: take the narrowest.
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return text


def _describe_config_error(exc: ValidationError) -> str:
    message = describe_validation_error(exc)
    missing = {
        tuple(str(part) for part in error["loc"])
        for error in exc.errors()
        if error["type"] == "missing"
    }
    flags = [flag for loc, flag in REQUIRED_FLAGS.items() if loc in missing]
    if flags:
        message += f" Set it in the config file or with {', '.join(flags)}."
    return message


# ---------------------------------------------------------------------------------------------
# Locations: local paths through Python, other schemes through Hadoop's FileSystem


class _Store(Protocol):
    """The few file operations an atomic write needs, on one filesystem."""

    def exists(self, path: str) -> bool: ...

    def rename(self, source: str, target: str) -> None: ...

    def delete(self, path: str) -> None: ...

    def write_text(self, path: str, text: str) -> None: ...

    def spark_path(self, path: str) -> str: ...


class _LocalStore:
    """Plain paths and ``file://`` URIs, handled with the standard library."""

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def rename(self, source: str, target: str) -> None:
        os.rename(source, target)

    def delete(self, path: str) -> None:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.remove(path)

    def write_text(self, path: str, text: str) -> None:
        Path(path).write_text(text, encoding="utf-8")

    def spark_path(self, path: str) -> str:
        # A file:// URI, so that a cluster's default filesystem cannot reinterpret it.
        return Path(path).as_uri()


class _HadoopStore:
    """Any scheme Hadoop knows (hdfs://, s3a://, ...), through the session's JVM gateway."""

    def __init__(self, jvm: Any, hadoop_conf: Any, uri: str) -> None:
        self._path = jvm.org.apache.hadoop.fs.Path
        self._fs = self._path(uri).getFileSystem(hadoop_conf)

    def exists(self, path: str) -> bool:
        return bool(self._fs.exists(self._path(path)))

    def rename(self, source: str, target: str) -> None:
        if not self._fs.rename(self._path(source), self._path(target)):
            raise OSError(f"could not rename {source} to {target}")

    def delete(self, path: str) -> None:
        self._fs.delete(self._path(path), True)

    def write_text(self, path: str, text: str) -> None:
        stream = self._fs.create(self._path(path), True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def spark_path(self, path: str) -> str:
        return path


def local_path(location: str) -> str | None:
    """The absolute local path that ``location`` names, or None for another scheme.

    Parameters
    ----------
    location : str
        A plain path (relative ones are resolved against the current directory) or a URI.

    Returns
    -------
    str or None
        The absolute path for plain paths and ``file:`` URIs, else None.
    """
    parsed = urlparse(location)
    # A one-letter "scheme" is a Windows drive, not a URI.
    if len(parsed.scheme) <= 1:
        return os.path.abspath(os.path.expanduser(location))
    if parsed.scheme == "file":
        return os.path.abspath(url2pathname(parsed.path))
    return None


def _hadoop_store(spark: SparkSession, uri: str) -> _HadoopStore | None:
    # Only classic sessions have a JVM gateway; Spark Connect sessions raise here.
    try:
        context = spark.sparkContext
        jvm = context._jvm
        hadoop_conf = context._jsc.hadoopConfiguration()
    except Exception:
        return None
    if jvm is None:
        return None
    return _HadoopStore(jvm, hadoop_conf, uri)


def _sibling(path: str, tag: str) -> str:
    # A name starting with "." sits beside the target (same filesystem, so renames are
    # atomic) and is skipped by Spark and Hadoop when they list the parent directory.
    head, _, name = path.rstrip("/").rpartition("/")
    return f"{head}/.{name}.{tag}-{uuid.uuid4().hex[:12]}"


def report_path(output_path: str) -> str:
    """Where the run report goes: ``<output path>.report.json``."""
    return output_path.rstrip("/") + ".report.json"


def check_destination(store: _Store, output: str, mode: WriteMode) -> None:
    """Refuse an existing output (or report) in ``error`` mode, before any work is done.

    Raises
    ------
    JobError
        With kind ``"output error"`` naming the path that exists.
    """
    if mode != "error":
        return
    for path in (output, report_path(output)):
        if store.exists(path):
            raise JobError(
                "output error",
                f"output.path: {path} already exists and output.mode is 'error'; "
                "remove it, choose another path, or use --mode overwrite.",
            )


def write_atomically(
    store: _Store,
    output: str,
    mode: WriteMode,
    write_data: Callable[[str], None],
    report_text: Callable[[], str],
) -> None:
    """Write the data and its report to hidden siblings, then move both into place.

    Parameters
    ----------
    store : _Store
        The filesystem of ``output``.
    output : str
        Final location of the data directory.
    mode : {"error", "overwrite"}
        ``overwrite`` moves the old output aside and deletes it only once the new one is in.
    write_data : callable
        Writes the data to the Spark path it is given (which does not exist yet).
    report_text : callable
        Called after the data is written; returns the report's JSON.

    Notes
    -----
    On any error the destination is left as it was and the hidden siblings are removed.
    The data and its report are two renames, so a crash between them can leave new data
    beside an old report; the report is always renamed second.
    """
    report = report_path(output)
    data_tmp, report_tmp = _sibling(output, "tmp"), _sibling(report, "tmp")
    moved_aside: list[tuple[str, str]] = []
    placed: list[str] = []
    try:
        write_data(store.spark_path(data_tmp))
        store.write_text(report_tmp, report_text())
        for tmp, final in ((data_tmp, output), (report_tmp, report)):
            if store.exists(final):
                check_destination(store, output, mode)  # a rival run may have written it
                aside = _sibling(final, "old")
                store.rename(final, aside)
                moved_aside.append((aside, final))
            store.rename(tmp, final)
            placed.append(final)
    except BaseException:
        for final in placed:
            store.delete(final)
        for aside, final in moved_aside:
            store.rename(aside, final)
        store.delete(data_tmp)
        store.delete(report_tmp)
        raise
    for aside, _ in moved_aside:
        store.delete(aside)


# ---------------------------------------------------------------------------------------------
# The run


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
        check_destination(_LocalStore(), output_local, config.output.mode)

    spark, owned = _session(config.spark)
    try:
        store = _store_for(spark, output_local, state.output_path, config.output.mode)
        input_uri = _LocalStore().spark_path(input_local) if input_local else state.input_path

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

    conf = {name: _option_text(value) for name, value in settings.conf.items()}
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
) -> _Store | None:
    """The filesystem of the output, checked for ``error`` mode; None to write directly."""
    if output_local is not None:
        return _LocalStore()
    store = _hadoop_store(spark, output)
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
    from smote_spark.oversample import oversample

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
