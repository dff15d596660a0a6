"""Record, from a running Nuke, the parts of its Python API the InternalInpaint node relies on.

Run it once in Nuke's Script Editor (paste this file, or
``exec(open("/path/to/plugin_nuke/record_host.py").read())``). It writes ``~/internal_inpaint_nuke_host.json``
(another path: ``record("/some/file.json")``) and prints the path when done. The file has the format of
tests/host_api/nuke.json, with ``"source": "recording"``: send it to the plugin's maintainers, who compare it with
the table written from Foundry's documentation and replace that one, so the tests' stand-in Nuke models your Nuke.

What it records:
* for each node class the plugin creates (a Write after ``file_type`` is set to exr, Read, Copy, Switch, JoinViews,
  Input, Output, Group) and for the Root: every knob's name, knob class, default value and, for drop-downs, the
  values offered. The nodes are made inside a temporary Group, which is deleted again: the script is unchanged.
* how ``nuke.executeInMainThread`` passes ``args`` that are not a tuple. This needs Nuke's event loop, so that part
  runs after the Script Editor returns; the file is written then (a second or so later).
It does not record how ``nuke.createNode`` places and selects a node (that depends on the Node Graph in front of
you); the plugin's tests model the documented part of it.
Standard library and nuke only; Python 3.9 (Nuke 14) or later.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Dict, List, Optional

import nuke

NODE_CLASSES = ("Write", "Read", "Copy", "Switch", "JoinViews", "Input", "Output", "Group")
OUTPUT = os.path.join(os.path.expanduser("~"), "internal_inpaint_nuke_host.json")
PROBE_TIMEOUT = 30.0  # seconds for Nuke's event loop to run the executeInMainThread probe
WRAPPED = "args that is not a tuple (a list too) is wrapped as one argument"


def record(path: str = OUTPUT, timeout: float = PROBE_TIMEOUT) -> threading.Thread:
    """Record the knobs now (main thread) and start the thread that probes executeInMainThread and writes ``path``.

    The returned thread ends once the file is written; do not join it from Nuke's main thread, whose event loop
    has to run the probe first.
    """
    version = str(nuke.NUKE_VERSION_STRING)
    table: Dict[str, Any] = {"host": "nuke", "source": "recording", "host_version": version,
                             "nodes": record_nodes(version), "events": None}
    thread = threading.Thread(target=_probe_and_write, args=(table, path, timeout), daemon=True,
                              name="InternalInpaint record_host")
    thread.start()
    return thread


def record_nodes(version: str) -> Dict[str, Any]:
    """{node class: {"knobs": {name: entry}}} for NODE_CLASSES and Root, from nodes made in a temporary Group."""
    source = f"recorded in Nuke {version}"
    nodes = {"Root": {"knobs": _knobs(nuke.root(), source)}}
    scratch = nuke.nodes.Group(name="InternalInpaint_record_host")
    try:
        with scratch:
            for cls in NODE_CLASSES:
                node = getattr(nuke.nodes, cls)()
                if cls == "Write":  # the exr options (datatype, metadata, ...) exist only once the type is exr
                    node["file_type"].setValue("exr")
                nodes[cls] = {"knobs": _knobs(node, source)}
    finally:
        nuke.delete(scratch)
    return nodes


def _knobs(node: nuke.Node, source: str) -> Dict[str, Dict[str, Any]]:
    return {name: _entry(knob, source) for name, knob in sorted(node.knobs().items())}


def _entry(knob: nuke.Knob, source: str) -> Dict[str, Any]:
    values: Optional[List[Any]] = None
    if isinstance(knob, nuke.Enumeration_Knob):
        values = [_jsonable(v) for v in knob.values()]
    return {"type": str(knob.Class()), "default": _default(knob), "values": values, "source": source}


def _default(knob: nuke.Knob) -> Any:
    """The value of a freshly made node's knob; None for knobs whose value() needs arguments or has none."""
    try:
        return _jsonable(knob.value())
    except (TypeError, ValueError, RuntimeError, AttributeError, NotImplementedError):
        return None


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return repr(value)  # Format, Box and other objects: their printed form is enough to compare versions


def _probe_and_write(table: Dict[str, Any], path: str, timeout: float) -> None:
    """Worker thread: see how executeInMainThread hands a list as ``args`` to the call, then write the table."""
    received: List[Any] = []
    done = threading.Event()

    def probe(*args: Any) -> None:
        received.append(args)
        done.set()

    nuke.executeInMainThread(probe, args=[1, 2])
    if not done.wait(timeout):
        behaviour = f"not recorded: the main thread did not run the probe within {timeout:g} s"
    elif received[0] == ([1, 2],):
        behaviour = WRAPPED
    else:
        behaviour = f"args=[1, 2] arrived as {received[0]!r}"
    how = "nuke.executeInMainThread(probe, args=[1, 2])"
    table["events"] = {"execute_in_main_thread_args": behaviour,
                       "source": f"recorded in Nuke {table['host_version']}: {how}"}
    with open(path, "w", encoding="utf-8") as out:
        json.dump(table, out, indent=1, sort_keys=True)
    print(f"InternalInpaint: recorded this Nuke's API in {path}")


if __name__ == "__main__":  # pasted into the Script Editor, or exec'd there
    record()
