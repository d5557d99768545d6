"""The job's config: the YAML sections as checked models, and the flags that override them."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from smote_spark.errors import SmoteError
from smote_spark.settings import SmoteSettings, describe_validation_error

InputFormat = Literal["parquet", "csv", "json", "orc"]
OutputFormat = Literal["parquet", "csv"]
WriteMode = Literal["error", "overwrite", "append"]
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

# A catalog table: [catalog.][database.]table, each part a plain identifier. Backquoted
# names are refused rather than parsed: they are the easy way to smuggle SQL in.
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
TABLE_NAME = re.compile(rf"{_IDENTIFIER}(\.{_IDENTIFIER}){{0,2}}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_path(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise ValueError("must be a path or URI, not blank")
    if any(char in value for char in "\0\n\r"):
        raise ValueError("must not contain NUL or line breaks")
    return value


def _check_table(value: str | None) -> str | None:
    if value is not None and not TABLE_NAME.fullmatch(value):
        raise ValueError(
            "must be [catalog.][database.]table, each part letters, digits and underscores "
            "not starting with a digit"
        )
    return value


def _exactly_one_location(section: str, path: str | None, table: str | None) -> None:
    if (path is None) == (table is None):
        found = "both" if path is not None else "neither"
        raise ValueError(f"give exactly one of {section}.path and {section}.table, found {found}")


class InputConfig(_Section):
    """Where and how to read the input table: a path or a catalog table.

    Parameters
    ----------
    path : str or None
        A local path (relative to the current directory) or a URI such as ``hdfs://...``.
    table : str or None
        A catalog table, ``[catalog.][database.]table``. Exactly one of path and table.
    format : {"parquet", "csv", "json", "orc"} or None
        For a path: ``None`` guesses from the path's extension, else parquet.
    options : dict
        Spark reader options; csv defaults to ``header=true, inferSchema=true``.
    """

    path: str | None = None
    table: str | None = None
    format: InputFormat | None = None
    options: dict[str, OptionValue] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return _check_path(value)

    @field_validator("table")
    @classmethod
    def _table(cls, value: str | None) -> str | None:
        return _check_table(value)

    @model_validator(mode="after")
    def _one_location(self) -> InputConfig:
        _exactly_one_location("input", self.path, self.table)
        if self.table is not None and (self.format is not None or self.options):
            raise ValueError("input.format and input.options apply to input.path only")
        return self

    @property
    def location(self) -> str:
        """The path or the table name, for messages and the report."""
        return self.path if self.path is not None else f"table {self.table}"

    @property
    def reader_format(self) -> InputFormat:
        """The format given, or the one the path's extension names, or parquet."""
        if self.format is not None:
            return self.format
        suffix = Path(urlparse(self.path or "").path.rstrip("/")).suffix.lower()
        return FORMAT_BY_SUFFIX.get(suffix, "parquet")

    @property
    def reader_options(self) -> dict[str, str]:
        """The options as Spark strings, csv defaults filled in."""
        defaults = CSV_DEFAULTS if self.reader_format == "csv" else {}
        return _merge_options(defaults, self.options)


class OutputConfig(_Section):
    """Where and how to write the oversampled table: a path or a catalog table.

    Parameters
    ----------
    path : str or None
        A local path (relative to the current directory) or a URI such as ``hdfs://...``.
    table : str or None
        A catalog table, ``[catalog.][database.]table``. Exactly one of path and table.
    format : {"parquet", "csv"}
        Output format; csv is written with a header row.
    mode : {"error", "overwrite", "append"}
        ``error`` refuses to touch an existing output; ``overwrite`` replaces it atomically;
        ``append`` adds this run's rows to an existing output (or creates it).
    partition_by : list of str or None
        Columns to partition the output by (``col=value`` directories).
    report_path : str or None
        Where the JSON run report goes; default ``<path>.report.json`` for a path output.
        A table output without it has its report logged only.
    options : dict
        Spark writer options.
    """

    path: str | None = None
    table: str | None = None
    format: OutputFormat = "parquet"
    mode: WriteMode = "error"
    partition_by: list[str] | None = None
    report_path: str | None = None
    options: dict[str, OptionValue] = Field(default_factory=dict)

    @field_validator("path", "report_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return _check_path(value)

    @field_validator("table")
    @classmethod
    def _table(cls, value: str | None) -> str | None:
        return _check_table(value)

    @field_validator("partition_by")
    @classmethod
    def _partition_columns(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value or any(not name.strip() for name in value):
            raise ValueError("must name at least one column, none blank, or be left out")
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"names {repeated} more than once; list each once")
        return value

    @model_validator(mode="after")
    def _one_location(self) -> OutputConfig:
        _exactly_one_location("output", self.path, self.table)
        if self.path is not None and local_root(self.path):
            raise ValueError("path must not be a filesystem root; name a directory below it")
        return self

    @property
    def location(self) -> str:
        """The path or the table name, for messages and the report."""
        return self.path if self.path is not None else f"table {self.table}"

    @property
    def writer_options(self) -> dict[str, str]:
        """The options as Spark strings, a csv header by default."""
        defaults = {"header": "true"} if self.format == "csv" else {}
        return _merge_options(defaults, self.options)


def local_root(path: str) -> bool:
    parsed = urlparse(path)
    plain = parsed.path if parsed.scheme in ("", "file") else None
    return plain is not None and plain.strip() != "" and Path(plain).resolve() == Path("/")


class SparkConfig(_Section):
    """How to build the Spark session when the job starts one.

    Parameters
    ----------
    app_name : str
        Spark application name.
    master : str or None
        Spark master URL; ``None`` leaves it to spark-submit (or ``local[*]``).
    conf : dict
        Extra Spark configuration, applied when the session is built (for example
        ``spark.sql.warehouse.dir`` for table outputs).
    """

    app_name: str = Field(default="smote-spark", min_length=1)
    master: str | None = None
    conf: dict[str, OptionValue] = Field(default_factory=dict)


class JobConfig(_Section):
    """The whole job config: the sections of the YAML file, after flags are applied.

    Parameters
    ----------
    verify : bool
        Re-read the written output before it is moved into place and check that every
        input row is there exactly once and that each class has its planned synthetic rows.
    report_dir : str or None
        A local directory for pictures of the run (needs the ``plots`` extra).
    """

    input: InputConfig
    output: OutputConfig
    smote: SmoteSettings = Field(default_factory=SmoteSettings)
    spark: SparkConfig = Field(default_factory=SparkConfig)
    log_level: LogLevel = "INFO"
    verify: bool = False
    report_dir: str | None = None

    @field_validator("report_dir")
    @classmethod
    def _report_dir(cls, value: str | None) -> str | None:
        return _check_path(value)


def _check_input_is_not_output(config: JobConfig) -> None:
    same_table = config.input.table is not None and (
        config.input.table.lower() == (config.output.table or "").lower()
    )
    if same_table or (
        config.input.path is not None
        and config.output.path is not None
        and _same_path(config.input.path, config.output.path)
    ):
        raise JobError(
            "config error",
            f"output: the same location as the input ({config.input.location}); the job would "
            "replace its input while reading it. Write to another path or table.",
        )
    if config.input.path is None or config.output.path is None:
        return
    if _inside(config.output.path, config.input.path):
        raise JobError(
            "config error",
            f"output.path: {config.output.path} is inside the input ({config.input.path}); "
            "its files would become part of the input. Write outside the input's folder.",
        )
    if _inside(config.input.path, config.output.path):
        raise JobError(
            "config error",
            f"input.path: {config.input.path} is inside the output ({config.output.path}), "
            "which the job replaces or adds to. Write to another path.",
        )


def _local_or_none(path: str) -> Path | None:
    parsed = urlparse(path)
    return Path(parsed.path).resolve() if parsed.scheme in ("", "file") else None


def _same_path(first: str, second: str) -> bool:
    local_first, local_second = _local_or_none(first), _local_or_none(second)
    if local_first is not None and local_second is not None:
        return local_first == local_second
    return first.rstrip("/") == second.rstrip("/")


def _inside(inner: str, outer: str) -> bool:
    """Whether ``inner`` lies strictly inside the folder ``outer``."""
    local_inner, local_outer = _local_or_none(inner), _local_or_none(outer)
    if local_inner is not None and local_outer is not None:
        return local_outer in local_inner.parents
    return inner.rstrip("/").startswith(outer.rstrip("/") + "/")


def _merge_options(defaults: dict[str, str], given: dict[str, OptionValue]) -> dict[str, str]:
    # Spark option names are case-insensitive, so a given "Header" replaces the default.
    given_names = {name.lower() for name in given}
    merged = {name: value for name, value in defaults.items() if name.lower() not in given_names}
    merged.update({name: option_text(value) for name, value in given.items()})
    return merged


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (YAML forbids it,
    and plain PyYAML would keep the last value without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


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
FLAG_KEYS: dict[str, tuple[str, ...]] = {
    "input": ("input", "path"),
    "input_table": ("input", "table"),
    "input_format": ("input", "format"),
    "output": ("output", "path"),
    "output_table": ("output", "table"),
    "output_format": ("output", "format"),
    "mode": ("output", "mode"),
    "partition_by": ("output", "partition_by"),
    "label": ("smote", "label_col"),
    "features": ("smote", "input_cols"),
    "exclude": ("smote", "exclude_cols"),
    "nominal": ("smote", "nominal_cols"),
    "percentage": ("smote", "percentage"),
    "classes": ("smote", "classes"),
    "balance": ("smote", "balance"),
    "target_ratio": ("smote", "target_ratio"),
    "target_counts": ("smote", "target_counts"),
    "k": ("smote", "k"),
    "seed": ("smote", "seed"),
    "neighbour_mode": ("smote", "neighbour_mode"),
    "scaling": ("smote", "scaling"),
    "minority_label": ("smote", "minority_label"),
    "synthetic_col": ("smote", "synthetic_col"),
    "app_name": ("spark", "app_name"),
    "master": ("spark", "master"),
    "verify": ("verify",),
    "report": ("report_dir",),
}
SWITCHES = {"balance", "verify"}
COLUMN_LISTS = {"features", "exclude", "nominal", "partition_by"}
# A location flag replaces the config file's location, whichever kind it was.
OTHER_LOCATION = {
    "input": "table",
    "input_table": "path",
    "output": "table",
    "output_table": "path",
}
METAVARS = {
    "report": "DIR",
    "input_table": "TABLE",
    "output_table": "TABLE",
    "target_counts": "LABEL=N,...",
}


# The keys without a default, and the flag that can give each (a whole missing section
# needs its location first).
REQUIRED_FLAGS: dict[tuple[str, ...], str] = {
    ("input",): "--input or --input-table",
    ("output",): "--output or --output-table",
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
        epilog="Relative local paths are resolved against the current directory. Exit codes: "
        "0 done, 2 bad config, input or data (nothing written), 1 other failure, including "
        "a failed --verify (the destination is left as it was).",
    )
    parser.add_argument("--config", metavar="FILE", help="YAML job config")
    for dest, key in FLAG_KEYS.items():
        flag = "--" + dest.replace("_", "-")
        if dest in SWITCHES:
            parser.add_argument(
                flag, dest=dest, action=argparse.BooleanOptionalAction, help=f"sets {'.'.join(key)}"
            )
            continue
        metavar = METAVARS.get(dest, "A,B" if dest in COLUMN_LISTS | {"classes"} else "VALUE")
        parser.add_argument(flag, dest=dest, metavar=metavar, help=f"sets {'.'.join(key)}")
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
        config = JobConfig.model_validate(values)
    except ValidationError as exc:
        raise JobError("config error", _describe_config_error(exc)) from None
    _check_input_is_not_output(config)
    return config


def _read_config_file(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise JobError(
            "config error",
            f"cannot read config file {path!r}: {exc.strerror or exc}; check the --config path.",
        ) from None
    try:
        # A safe loader builds plain data only; a config file can never run code.
        values = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
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
            f"spark, log_level, verify, report_dir), found a {type(values).__name__}.",
        )
    return values


def _apply_flags(values: dict[str, Any], args: argparse.Namespace) -> None:
    given = {dest: getattr(args, dest) for dest in FLAG_KEYS if getattr(args, dest) is not None}
    for dest, text in given.items():
        *sections, key = FLAG_KEYS[dest]
        target = values
        for section in sections:
            target = target.setdefault(section, {})
            if not isinstance(target, dict):
                break
        if not isinstance(target, dict):
            # Leave it to the model, which reports the section's wrong type by name.
            continue
        target[key] = _flag_value(dest, text)
        other = OTHER_LOCATION.get(dest)
        if other is not None and not any(FLAG_KEYS[d] == (sections[0], other) for d in given):
            target.pop(other, None)
    if args.log_level is not None:
        values["log_level"] = args.log_level.upper()


def _flag_value(dest: str, text: Any) -> Any:
    if dest in SWITCHES:
        return bool(text)
    if dest in COLUMN_LISTS:
        return _items(text)
    if dest == "classes":
        return [_label_value(item) for item in _items(text)]
    if dest == "target_counts":
        return _target_counts(text)
    if dest == "minority_label":
        return _label_value(text)
    return text


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _target_counts(text: str) -> dict[Any, Any]:
    counts: dict[Any, Any] = {}
    for item in _items(text):
        label, sep, count = item.partition("=")
        if not sep or not label.strip():
            raise JobError(
                "config error",
                f"--target-counts: {text!r} is not LABEL=N,... ; give each class and the rows "
                "it should end with, e.g. --target-counts 1=500,2=300.",
            )
        value = _label_value(label.strip())
        if value in counts:
            raise JobError(
                "config error",
                f"--target-counts: class {value!r} is given more than once in {text!r}; "
                "give each class once.",
            )
        counts[value] = count.strip()
    return counts


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
