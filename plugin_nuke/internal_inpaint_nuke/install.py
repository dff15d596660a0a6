"""Whether the InternalInpaint client is installed in Nuke's Python, and the one command that installs it.

Nuke puts every NUKE_PATH folder on sys.path itself, so this package imports as it is. The client
(``internal_inpaint_client``: the client library, the gRPC stubs, with grpcio, protobuf and numpy) is a
distribution of its own, installed once into Nuke's Python from the checkout:
``"<Nuke's python>" -m pip install <checkout>/client``. Without it, the plugin's entry points below say so
instead of failing to import. Standard library (and nuke) only.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # annotations only: nuke is imported where it is used, as Nuke has it at hand then
    import nuke

NODE_NAME = "InternalInpaint"
CLIENT_PACKAGE = "internal_inpaint_client"
_CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # plugin_nuke/..


def nuke_python() -> str:
    """Nuke's own Python: ``python`` (``python.exe`` on Windows) beside the Nuke executable."""
    return os.path.join(os.path.dirname(sys.executable), "python.exe" if os.name == "nt" else "python")


def client_folder() -> str:
    """The client distribution in the checkout this plugin folder sits in (a placeholder elsewhere)."""
    folder = os.path.join(_CHECKOUT, "client")
    return folder if os.path.isfile(os.path.join(folder, "pyproject.toml")) else "/path/to/InternalInpaint/client"


def install_command() -> str:
    return f'"{nuke_python()}" -m pip install "{client_folder()}"'


def client_installed() -> bool:
    """True when the client package can be found (without importing it, or grpc, yet)."""
    try:
        return importlib.util.find_spec(CLIENT_PACKAGE) is not None
    except (ImportError, ValueError):
        return False


def missing_client_message(detail: str = "") -> str:
    reason = f" ({detail})" if detail else ""
    return (f"The InternalInpaint client library cannot be imported in Nuke's Python{reason}: install it once with "
            f"{install_command()} and restart Nuke (see plugin_nuke/README.md).")


# -- the entry points while the client is missing (the package exports these instead) ----------------------


def _report(text: str, group: Optional[nuke.Node] = None) -> None:
    print(f"InternalInpaint: {text}")
    knob = group.knob("status") if group is not None else None
    if knob is not None:
        knob.setValue(f"Error: {text}")


def create_node() -> None:
    """The menu command without the client: say how to install it (a dialog in the GUI); no node."""
    import nuke

    text = missing_client_message()
    _report(text)
    if nuke.GUI:
        nuke.message(text)
    return None


def inpaint(node: Optional[nuke.Node] = None) -> None:
    """A node's Inpaint button without the client (a script saved where it was installed): say so on the node."""
    import nuke

    _report(missing_client_message(), node if node is not None else nuke.thisNode())


def cancel(node: Optional[nuke.Node] = None) -> None:
    inpaint(node)
