"""The test suite; its folders mirror the packages they test."""

import pathlib

# The checkout's root, for tests that read its files.
ROOT = pathlib.Path(__file__).resolve().parent.parent
