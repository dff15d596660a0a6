"""Quality and speed benchmarks for InternalInpaint (not part of the test run).

Run ``python -m benchmarks --quick`` (about 15 minutes on 2 CPU cores) or
``python -m benchmarks`` (the full suite, hours); both write
``docs/benchmarks.md`` and figures under ``docs/img/``.
"""
