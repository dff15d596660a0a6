"""Whole jobs: check the shot, train, fill and write every frame (single-scale, progressive, windowed)."""

from inpaint_core.jobs.single import WORK_FOLDER, JobReporter, JobResult, JobSpec, plan_outputs, run_job

__all__ = ["WORK_FOLDER", "JobReporter", "JobResult", "JobSpec", "plan_outputs", "run_job"]
