"""Load, small enough for CI: many clients submit and watch jobs at once; all finish, the server's memory holds.

The figures (latencies, memory, at 48 clients) come from the benchmark that runs the same driver:
``python -m benchmarks --only load`` (docs/benchmarks.md).
"""

from __future__ import annotations

import pytest

from benchmarks.load import measure


@pytest.mark.slow
def test_many_clients_at_once_all_finish_and_the_server_does_not_grow():
    result = measure(clients=12, rounds=2, iterations=4, log=lambda line: None)
    assert result.errors == []
    assert result.jobs_done == result.jobs_total == 24
    # Each watcher saw its job through: at least queued/started/finished events for each job.
    assert result.events >= 3 * result.jobs_total
    assert result.get_job_calls > 0 and result.get_job_ms  # the prober was answered while the watchers waited
    # Memory is bounded: the second round (same work) leaves the server no bigger than the first plus noise ...
    first, second = result.rss_after_round_mb
    assert second - first < 64, result.rss_after_round_mb
    # ... and between jobs the server hands freed memory back: it idles near its starting size, not at the
    # jobs' peak (without release_memory it stayed 480 MB above its idle size here, and wandered by 50 MB).
    assert max(result.rss_after_round_mb) - result.rss_idle_mb < 256, (result.rss_idle_mb, result.rss_after_round_mb)
