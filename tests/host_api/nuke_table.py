"""The host API table for Nuke (tests/host_api/nuke.json): what the fake may model, with a source for each entry.

Format, shared with the Fusion table::

    {"host": "nuke", "source": "recording" | "documentation", "host_version": str | null,
     "nodes": {NodeClass: {"knobs": {knobName: {"type": str | null, "default": any | null,
                                                 "values": [..] | null, "source": str}}}},
     "events": {"execute_in_main_thread_args": str, "source": str}}

``plugin_nuke/record_host.py`` writes a table of this format from a running Nuke ("recording"); the checked-in
one was written from Foundry's documentation and public code ("documentation").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Set

TABLE = Path(__file__).with_name("nuke.json")
_TOP = {"host", "source", "host_version", "nodes", "events"}
_KNOB = {"type", "default", "values", "source"}


def load(path: Path = TABLE) -> Dict[str, Any]:
    return json.loads(Path(path).read_text())


def problems(table: Mapping[str, Any]) -> List[str]:
    """Everything that keeps ``table`` from being a valid host table; empty when it is one."""
    found = [f"top-level keys are {sorted(table)}, expected {sorted(_TOP)}"] if set(table) != _TOP else []
    if table.get("host") != "nuke":
        found.append(f"host is {table.get('host')!r}, expected 'nuke'")
    if table.get("source") not in ("recording", "documentation"):
        found.append(f"source is {table.get('source')!r}, expected 'recording' or 'documentation'")
    if not isinstance(table.get("host_version"), (str, type(None))):
        found.append("host_version must be a string or null")
    found += _node_problems(table.get("nodes"))
    events = table.get("events")
    if not (isinstance(events, dict) and set(events) == {"execute_in_main_thread_args", "source"}
            and all(isinstance(v, str) and v for v in events.values())):
        found.append(f"events must be {{'execute_in_main_thread_args': str, 'source': str}}, not {events!r}")
    return found


def _node_problems(nodes: Any) -> List[str]:
    if not isinstance(nodes, dict) or not nodes:
        return ["nodes must be a non-empty object of node classes"]
    found = []
    for cls, entry in nodes.items():
        knobs = entry.get("knobs") if isinstance(entry, dict) else None
        if not isinstance(knobs, dict) or set(entry) != {"knobs"}:
            found.append(f"nodes.{cls} must be {{'knobs': {{...}}}}")
            continue
        for name, knob in knobs.items():
            where = f"nodes.{cls}.knobs.{name}"
            if not isinstance(knob, dict) or set(knob) != _KNOB:
                found.append(f"{where} must have exactly the keys {sorted(_KNOB)}")
                continue
            if not isinstance(knob["type"], (str, type(None))):
                found.append(f"{where}.type must be a string or null")
            if not isinstance(knob["values"], (list, type(None))):
                found.append(f"{where}.values must be a list or null")
            if not (isinstance(knob["source"], str) and knob["source"]):
                found.append(f"{where}.source must name the page or file the entry comes from")
    return found


def knob_names(table: Mapping[str, Any], cls: str) -> Set[str]:
    return set(table["nodes"].get(cls, {}).get("knobs", {}))
