# InternalInpaint for Nuke: runs when this folder is on NUKE_PATH. Makes the plugin package and the
# client library (server.client, from this checkout or $INTERNAL_INPAINT_HOME) importable.
import inspect
import os
import sys

try:
    _here = os.path.dirname(os.path.abspath(__file__))
except NameError:  # executed without __file__
    _here = os.path.dirname(os.path.abspath(inspect.getframeinfo(inspect.currentframe()).filename))
if _here not in sys.path:
    sys.path.insert(0, _here)

from internal_inpaint_nuke.paths import ensure_client_importable  # noqa: E402

ensure_client_importable(_here)
