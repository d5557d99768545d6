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


def check_destination(store: Store, output: str, mode: WriteMode) -> None:
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
    store: Store,
    output: str,
    mode: WriteMode,
    write_data: Callable[[str], None],
    report_text: Callable[[], str],
) -> None:
    """Write the data and its report to hidden siblings, then move both into place.

    Parameters
    ----------
    store : Store
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
