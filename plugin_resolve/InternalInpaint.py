"""InternalInpaint for DaVinci Resolve (Fusion page) and Fusion Studio: a Scripts > Comp script.

Put this file (or a link to it) in Fusion's Scripts/Comp folder; see
plugin_resolve/README.md. The plugin itself, ``internal_inpaint_resolve``, is
installed with the client distribution into the Python Resolve/Fusion uses
(``python -m pip install <checkout>/client``); this script only imports it and
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


def _client_folder():
    """The client distribution beside this script when it is (a link to) the checkout's, else a placeholder."""
    script = _script_path()
    if script and not script.startswith("<"):
        folder = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(script))), "client")
        if os.path.isfile(os.path.join(folder, "pyproject.toml")):
            return folder
    return "/path/to/InternalInpaint/client"


def _python():
    """This Python's executable when it is one (Resolve may report its own), else its version's usual name."""
    if os.path.basename(sys.executable or "").lower().startswith("python"):
        return sys.executable
    return "python{}.{}".format(*sys.version_info[:2])


def install_command():
    return '"{}" -m pip install "{}"'.format(_python(), _client_folder())


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
    fusion, comp, bmd = _host()
    if fusion is None or bmd is None:
        print(f"{_PREFIX} Run this script from Fusion or Resolve's Fusion page (Workspace > Scripts > Comp).")
        return None
    try:
        from internal_inpaint_resolve.dialog import run
    except ImportError as exc:
        print(f"{_PREFIX} The InternalInpaint plugin is not installed in this Python ({sys.version.split()[0]}): "
              f"{exc}. Install it once, with the client, and run the script again: {install_command()}")
        return None
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        print(f"{_PREFIX} Cannot load the plugin: {type(exc).__name__}: {exc}")
        return None
    return run(fusion, comp, bmd)


main()
