"""Experiments for issue 17 (fill quality: beat explicit propagation). Not part of the benchmark suite."""
