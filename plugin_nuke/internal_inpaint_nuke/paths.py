"""Making the InternalInpaint client library (``server.client``) importable inside Nuke.

Nuke's Python does not see the project's virtual environment. The client needs only
``grpcio``, ``protobuf`` and ``numpy`` (installed into Nuke's Python) plus two folders of
the checkout: its root (for ``server``) and ``<root>/proto`` (for the generated stubs).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Callable, List, Optional

HOME_VARIABLE = "INTERNAL_INPAINT_HOME"


def client_importable() -> bool:
    """True when ``server.client`` and its stubs can be found (without importing grpc yet)."""
    try:
        return (importlib.util.find_spec("server.client") is not None
                and importlib.util.find_spec("internal_inpaint.v1") is not None)
    except (ImportError, ValueError):
        return False


def _checkout(root: str) -> bool:
    return os.path.isfile(os.path.join(root, "server", "client.py")) and os.path.isdir(os.path.join(root, "proto"))


def _prepend(root: str) -> List[str]:
    added = [path for path in (root, os.path.join(root, "proto")) if path not in sys.path]
    sys.path[:0] = added
    importlib.invalidate_caches()
    return added


def ensure_client_importable(plugin_dir: str, environ: Optional[dict] = None,
                             importable: Callable[[], bool] = client_importable) -> List[str]:
    """Make ``server.client`` importable; returns the folders added to sys.path.

    $INTERNAL_INPAINT_HOME, when set to a checkout or install, comes first (an explicit choice
    wins). Otherwise the checkout this plugin folder sits in is added, but only when the
    client is not importable already (e.g. installed into Nuke's Python).
    """
    environ = os.environ if environ is None else environ
    home = environ.get(HOME_VARIABLE, "").strip()
    if home:
        root = os.path.abspath(os.path.expanduser(home))
        if _checkout(root):
            return _prepend(root)
    if importable():
        return []
    root = os.path.dirname(os.path.abspath(plugin_dir))
    return _prepend(root) if _checkout(root) else []
