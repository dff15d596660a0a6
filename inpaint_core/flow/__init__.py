"""Explicit propagation through the shot: optical flow between neighbouring frames, completed inside the holes,
chained into long-range tracks, and the colour each hole pixel gets from the frames that show it.

A layer of its own between ``masks`` and ``model``: it knows frames and holes, nothing of networks. Flow is
estimated on frames whose holes were prefilled (``prefill``), never on what lies under a hole, so a fill cannot
read the truth it replaces.
"""
