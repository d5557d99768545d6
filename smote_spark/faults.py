"""Test-only fault injection: the first attempt of the tasks of a named step fails.

Set the Spark conf key `FAIL_FIRST_ATTEMPT` (``spark.smote_spark.test.failFirstAttempt``)
to a comma list of `STEPS`, e.g. ``--conf spark.smote_spark.test.failFirstAttempt=draw``.
Then every task that runs a named step raises on its first attempt
(``TaskContext.attemptNumber() == 0``), and Spark retries it; local mode retries only with
``--master 'local[N,F]'`` (F attempts per task). The output must not change: every random
choice depends on the seed and the rows, never on the task or attempt.

Every task of the step fails, not only partition 0: Spark pipelines the draw and the
interpolation into the stage that writes the union of the input and synthetic rows, where
partition 0 holds input rows and never runs them.

The key is read on the driver with ``spark.conf.get`` (so it also works through Spark
Connect) and the step name is captured by the function shipped to the tasks. Without the
key the function is shipped unchanged, so the check costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from smote_spark.errors import InvalidParameterError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

FAIL_FIRST_ATTEMPT = "spark.smote_spark.test.failFirstAttempt"

# The pandas functions that can be made to fail: exact mode's generate (neighbours and
# interpolation in one), and LSH mode's bucket search, draw and interpolation.
STEPS = ("candidates", "draw", "generate", "interpolate")

Function = TypeVar("Function", bound=Callable[..., Any])


def failing_steps(spark: SparkSession) -> frozenset[str]:
    """The steps named by `FAIL_FIRST_ATTEMPT` (empty when it is unset), read on the driver.

    Raises
    ------
    InvalidParameterError
        If the key names a step that does not exist (a typo would test nothing).
    """
    text = spark.conf.get(FAIL_FIRST_ATTEMPT, None)
    if not text:
        return frozenset()
    steps = frozenset(item.strip() for item in str(text).split(",") if item.strip())
    unknown = sorted(steps - set(STEPS))
    if unknown:
        raise InvalidParameterError(
            f"{FAIL_FIRST_ATTEMPT}: unknown step(s) {unknown} in {text!r}; name steps among "
            f"{list(STEPS)}, comma-separated, or unset the key."
        )
    return steps


def with_faults(spark: SparkSession, step: str, function: Function) -> Function:
    """``function`` itself, or, if `FAIL_FIRST_ATTEMPT` names ``step``, a version of it that
    first calls `fail_first_attempt`.

    ``function`` is a pandas function of one argument (a batch iterator for
    ``mapInPandas``, a group for ``applyInPandas``); the wrapper keeps that one argument and
    has no annotations, so Spark calls it the same way.
    """
    if step not in failing_steps(spark):
        return function

    def checked(data):
        fail_first_attempt(step)
        return function(data)

    return cast(Function, checked)


def fail_first_attempt(step: str) -> None:
    """In a task: raise on its first attempt; on a retry (or outside a task) do nothing."""
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is None or context.attemptNumber() != 0:
        return
    raise RuntimeError(
        f"injected test fault in step {step!r} (partition {context.partitionId()}, "
        f"attempt 0), asked for by {FAIL_FIRST_ATTEMPT}; Spark retries the task."
    )
