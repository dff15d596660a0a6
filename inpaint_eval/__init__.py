"""What tests, benchmarks and the demo use beside the product: synthetic clips, metrics, simple baselines.

Not part of the shipped core: ``inpaint_core`` never imports it.
"""
