"""Entry point for spark-submit: ``spark-submit jobs/smote_job.py --config conf/<job>.yaml``.

All the work is in `smote_spark.job`; this file only makes the package importable from a
plain checkout and turns the job's return value into the process exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import smote_spark  # noqa: F401
except ImportError:
    # Not installed: use the checkout this file lives in (the parent of jobs/).
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smote_spark.job import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
