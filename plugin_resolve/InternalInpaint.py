"""InternalInpaint for DaVinci Resolve (Fusion page) and Fusion Studio: a Scripts > Comp script.

Put this file (or a link to it) in Fusion's Scripts/Comp folder; see
plugin_resolve/README.md. It finds the InternalInpaint checkout from
INTERNAL_INPAINT_HOME, else from its own location (plugin_resolve/ inside the
checkout), puts the checkout, its proto/ and plugin_resolve/ on sys.path and
opens the dialog. Python 3.9+; needs grpcio, protobuf and numpy, never torch.
"""

import os
import sys

_PREFIX = "[InternalInpaint]"


def _script_path():
    try:
        return __file__
    except NameError:  # Fusion may run a script without __file__
        return sys._getframe().f_code.co_filename


def _checkout():
    """The InternalInpaint checkout: INTERNAL_INPAINT_HOME, else the folder above this script's."""
    candidates = []
    home = os.environ.get("INTERNAL_INPAINT_HOME", "").strip()
    if home:
        candidates.append(os.path.expanduser(home))
    script = _script_path()
    if script and not script.startswith("<"):
        candidates.append(os.path.dirname(os.path.dirname(os.path.realpath(script))))
    for root in candidates:
        if os.path.isfile(os.path.join(root, "server", "client.py")) and os.path.isdir(
                os.path.join(root, "plugin_resolve", "internal_inpaint_resolve")):
            return os.path.abspath(root)
    return None


def _add_paths(root):
    for path in (os.path.join(root, "plugin_resolve"), os.path.join(root, "proto"), root):
        if path not in sys.path:
            sys.path.insert(0, path)


def _host():
    """Fusion's globals for comp scripts: fu/fusion, comp, bmd."""
    scope = globals()
    fusion = scope.get("fu") or scope.get("fusion")
    comp = scope.get("comp") or scope.get("composition")
    bmd = scope.get("bmd")
    if bmd is None:
        try:
            import BlackmagicFusion as bmd  # noqa: F401 - Fusion's own module, present inside the host
        except ImportError:
            bmd = None
    if comp is None and fusion is not None:
        comp = fusion.GetCurrentComp()
    return fusion, comp, bmd


def main():
    root = _checkout()
    if root is None:
        print(f"{_PREFIX} Cannot find the InternalInpaint checkout: set INTERNAL_INPAINT_HOME to it "
              "(the folder with server/ and plugin_resolve/) and run the script again.")
        return None
    _add_paths(root)
    fusion, comp, bmd = _host()
    if fusion is None or bmd is None:
        print(f"{_PREFIX} Run this script from Fusion or Resolve's Fusion page (Workspace > Scripts > Comp).")
        return None
    try:
        from internal_inpaint_resolve.dialog import run
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        print(f"{_PREFIX} Cannot load the plugin from {root}: {type(exc).__name__}: {exc}")
        return None
    return run(fusion, comp, bmd)


main()
