"""InternalInpaint for Nuke: a node that removes what its matte covers, trained on the shot by the server.

``node`` builds the Group and its knobs, ``render`` renders the inputs through its Write (main
thread), ``job`` talks to the server in a worker thread, ``commands`` is what the buttons call.
Needs only the client library (grpcio, protobuf, numpy), never torch or image libraries.
"""

from __future__ import annotations

from .commands import cancel, inpaint
from .node import NODE_NAME, create_node

__all__ = ["NODE_NAME", "cancel", "create_node", "inpaint"]
