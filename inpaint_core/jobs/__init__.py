"""Whole jobs: check the shot, train, fill and write every frame (single-scale, progressive, windowed).

types.py at the bottom (spec, result, reporter, context, the shared steps); single.py (single-scale) and
progressive.py above it, never importing each other; windowed.py for farm jobs; run.py (``run_job``) on top.
"""

from inpaint_core.jobs.run import run_job
from inpaint_core.jobs.types import WORK_FOLDER, JobContext, JobReporter, JobResult, JobSpec, plan_outputs

__all__ = ["WORK_FOLDER", "JobContext", "JobReporter", "JobResult", "JobSpec", "plan_outputs", "run_job"]
