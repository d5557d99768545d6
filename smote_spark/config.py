"""The job's config: the YAML sections as checked models, and the flags that override them."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smote_spark.errors import SmoteError
from smote_spark.settings import SmoteSettings, describe_validation_error

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
    merged.update({name: option_text(value) for name, value in given.items()})
    return merged


def option_text(value: OptionValue) -> str:
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
