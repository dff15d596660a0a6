"""InternalInpaint for Nuke: a node that removes what its matte covers, trained on the shot by the server.

``node`` builds the Group and its knobs, ``render`` renders the inputs through its Write (main
thread), ``job`` talks to the server in a worker thread, ``commands`` is what the buttons call.
Needs only the client distribution (internal_inpaint_client: grpcio, protobuf, numpy), never torch or
image libraries; without it, ``install`` stands in and every entry point says the pip command to run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .install import client_installed, missing_client_message

# mypy reads TYPE_CHECKING as true, so it types the package by the real entry points (install.py is checked on its
# own); at runtime the branch follows the client's presence.
if client_installed() or TYPE_CHECKING:
    from .commands import cancel, inpaint
    from .node import NODE_NAME, create_node
else:
    from .install import NODE_NAME, cancel, create_node, inpaint

__all__ = ["NODE_NAME", "cancel", "client_installed", "create_node", "inpaint", "missing_client_message"]
