"""The output location: local and Hadoop filesystems, and atomic writes of data and report."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse
from urllib.request import url2pathname

from smote_spark.config import JobError, WriteMode

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


# Local paths go through Python, other schemes through Hadoop's FileSystem.


class Store(Protocol):
    """The few file operations an atomic write needs, on one filesystem."""

    def exists(self, path: str) -> bool: ...

    def rename(self, source: str, target: str) -> None: ...

    def delete(self, path: str) -> None: ...

    def write_text(self, path: str, text: str) -> None: ...

    def spark_path(self, path: str) -> str: ...

    def list_files(self, root: str) -> list[str]: ...

    def make_dirs(self, path: str) -> None: ...


class LocalStore:
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

    def list_files(self, root: str) -> list[str]:
        return sorted(
            os.path.relpath(os.path.join(folder, name), root)
            for folder, _, names in os.walk(root)
            for name in names
        )

    def make_dirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)


class HadoopStore:
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

    def list_files(self, root: str) -> list[str]:
        base = self._fs.makeQualified(self._path(root)).toUri().getPath().rstrip("/") + "/"
        found = self._fs.listFiles(self._path(root), True)
        names = []
        while found.hasNext():
            names.append(found.next().getPath().toUri().getPath().removeprefix(base))
        return sorted(names)

    def make_dirs(self, path: str) -> None:
        self._fs.mkdirs(self._path(path))


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


def hadoop_store(spark: SparkSession, uri: str) -> HadoopStore | None:
    # Only classic sessions have a JVM gateway; Spark Connect sessions raise here.
    try:
        context = spark.sparkContext
        jvm = context._jvm
        hadoop_conf = context._jsc.hadoopConfiguration()
    except Exception:
        return None
    if jvm is None:
        return None
    return HadoopStore(jvm, hadoop_conf, uri)


def _sibling(path: str, tag: str) -> str:
    # A name starting with "." sits beside the target (same filesystem, so renames are
    # atomic) and is skipped by Spark and Hadoop when they list the parent directory.
    head, _, name = path.rstrip("/").rpartition("/")
    return f"{head}/.{name}.{tag}-{uuid.uuid4().hex[:12]}"


def report_path(output_path: str) -> str:
    """Where the run report goes: ``<output path>.report.json``."""
    return output_path.rstrip("/") + ".report.json"


def check_destination(store: Store, output: str, mode: WriteMode, report: str | None) -> None:
    """Refuse an existing output (or report) in ``error`` mode, before any work is done.

    Raises
    ------
    JobError
        With kind ``"output error"`` naming the path that exists.
    """
    if mode != "error":
        return
    for path in (output, report):
        if path is not None and store.exists(path):
            raise JobError(
                "output error",
                f"output.path: {path} already exists and output.mode is 'error'; "
                "remove it, choose another path, or use --mode overwrite or append.",
            )


def write_atomically(
    store: Store,
    output: str,
    mode: WriteMode,
    write_data: Callable[[str], None],
    report_text: Callable[[], str],
    check: Callable[[str], None] | None = None,
    report: str | None = None,
) -> None:
    """Write the data to a hidden sibling, check it there, then move it (and the report) in.

    Parameters
    ----------
    store : Store
        The filesystem of ``output``.
    output : str
        Final location of the data directory.
    mode : {"error", "overwrite", "append"}
        ``overwrite`` moves the old output aside and deletes it only once the new one is in;
        ``append`` moves the new data files into the existing output directory.
    write_data : callable
        Writes the data to the Spark path it is given (which does not exist yet).
    report_text : callable
        Called after the data is written and checked; returns the report's JSON.
    check : callable, optional
        Called with the Spark path of the written (not yet placed) data; raising stops the
        run with the destination untouched.
    report : str, optional
        Where the report goes; default `report_path` of ``output``.

    Notes
    -----
    On any error before the move the destination is left as it was and the hidden
    siblings are removed. In ``error`` and ``overwrite`` mode the data is one rename; the
    data and its report are two, so a crash between them can leave new data beside an old
    report (the report is always renamed second). In ``append`` mode each data file is one
    rename into the output directory: a crash during that short step can leave part of
    this run's files appended.
    """
    report = report or report_path(output)
    data_tmp, report_tmp = _sibling(output, "tmp"), _sibling(report, "tmp")
    moved_aside: list[tuple[str, str]] = []
    placed: list[str] = []
    try:
        write_data(store.spark_path(data_tmp))
        if check is not None:
            check(store.spark_path(data_tmp))
        store.write_text(report_tmp, report_text())
        if mode == "append" and store.exists(output):
            _move_files(store, data_tmp, output)
            store.delete(data_tmp)
            moves = [(report_tmp, report)]
        else:
            moves = [(data_tmp, output), (report_tmp, report)]
        for tmp, final in moves:
            if store.exists(final):
                check_destination(store, output, mode, report)  # a rival run may have written
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


def _move_files(store: Store, source: str, target: str) -> None:
    """Move the data files under ``source`` into ``target``, keeping partition folders."""
    # Spark names part files with a per-job UUID, so a clash means something else is wrong.
    files = [name for name in store.list_files(source) if not _is_marker(name)]
    clashes = [name for name in files if store.exists(f"{target}/{name}")]
    if clashes:
        raise JobError(
            "output error",
            f"output.path: {target} already holds {clashes[0]}; the append was not done.",
        )
    for name in files:
        folder = name.rpartition("/")[0]
        if folder:
            store.make_dirs(f"{target}/{folder}")
        store.rename(f"{source}/{name}", f"{target}/{name}")


def _is_marker(name: str) -> bool:
    base = name.rpartition("/")[2]
    return base == "_SUCCESS" or base == "._SUCCESS.crc"


# Catalog tables: a staging table beside the target, renamed into place.


def quoted(name: str) -> str:
    """A validated ``[catalog.][database.]table`` name with each part backquoted."""
    return ".".join(f"`{part}`" for part in name.split("."))


def _staging_name(name: str, tag: str) -> str:
    return f"{name}__smote_{tag}_{uuid.uuid4().hex[:12]}"


def table_exists(spark: SparkSession, name: str) -> bool:
    """Whether the catalog has ``name`` (a table or view)."""
    return bool(spark.catalog.tableExists(name))


def check_table_destination(spark: SparkSession, name: str, mode: WriteMode) -> None:
    """Refuse an existing output table in ``error`` mode.

    Raises
    ------
    JobError
        With kind ``"output error"`` naming the table.
    """
    if mode == "error" and table_exists(spark, name):
        raise JobError(
            "output error",
            f"output.table: {name} already exists and output.mode is 'error'; drop it, "
            "choose another table, or use --mode overwrite or append.",
        )


def write_table_atomically(
    spark: SparkSession,
    name: str,
    mode: WriteMode,
    write_data: Callable[[str], None],
    check: Callable[[str], None] | None = None,
) -> None:
    """Write a staging table, check it, then rename it into place (or append it).

    Parameters
    ----------
    spark : SparkSession
        The session whose catalog holds the table.
    name : str
        The output table, validated by the config.
    mode : {"error", "overwrite", "append"}
        As for paths; ``append`` inserts the staged rows into an existing table by column
        name (one Spark job), or renames the staging table when there is none.
    write_data : callable
        Writes the data as the table it is given (``saveAsTable``); it does not exist yet.
    check : callable, optional
        Called with the staging table's name; raising leaves the destination untouched.

    Notes
    -----
    ``overwrite`` renames the old table aside, the staging table in, then drops the old
    one: a crash between the two renames leaves no table under ``name`` (the old one is
    kept as ``<name>__smote_old_<id>``), never a partial one.
    """
    staging = _staging_name(name, "staging")
    try:
        write_data(staging)
        if check is not None:
            check(staging)
        if not table_exists(spark, name):
            spark.sql(f"ALTER TABLE {quoted(staging)} RENAME TO {quoted(name)}")
        elif mode == "append":
            spark.table(staging).write.mode("append").saveAsTable(name)
        else:
            check_table_destination(spark, name, mode)  # a rival run may have written it
            aside = _staging_name(name, "old")
            spark.sql(f"ALTER TABLE {quoted(name)} RENAME TO {quoted(aside)}")
            try:
                spark.sql(f"ALTER TABLE {quoted(staging)} RENAME TO {quoted(name)}")
            except BaseException:
                spark.sql(f"ALTER TABLE {quoted(aside)} RENAME TO {quoted(name)}")
                raise
            spark.sql(f"DROP TABLE IF EXISTS {quoted(aside)}")
    finally:
        spark.sql(f"DROP TABLE IF EXISTS {quoted(staging)}")


def replace_file(store: Store, path: str, text: str) -> None:
    """Write ``text`` to a hidden sibling and move it over ``path`` (kept if that fails)."""
    tmp = _sibling(path, "tmp")
    aside = _sibling(path, "old") if store.exists(path) else None
    try:
        store.write_text(tmp, text)
        if aside is not None:
            store.rename(path, aside)
        store.rename(tmp, path)
    except BaseException:
        if aside is not None and not store.exists(path):
            store.rename(aside, path)
        store.delete(tmp)
        raise
    if aside is not None:
        store.delete(aside)
