"""The Open Job Description job template for render farms (AWS Deadline Cloud and others).

The template runs `internal-inpaint plan`, then `run --window K` once per window,
then `assemble`; see README.md beside it.
"""

from __future__ import annotations

import os

TEMPLATE_NAME = "internal_inpaint_job.yaml"


def template_path() -> str:
    """The absolute path of the job template shipped with the package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), TEMPLATE_NAME)
