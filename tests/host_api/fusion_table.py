"""The Fusion host table (tests/host_api/fusion.json): which tools, inputs and events Fusion has, as recorded in a
real Fusion by plugin_resolve/record_host.py or, until someone records one, as public documentation describes them.

The fake Fusion (tests/fake_fusion) takes its tools' inputs and defaults from this table, and the tests check that
every tool and input the plugin touches is in it. The format is the one the Nuke helper's recorder writes too::

    {"host": "fusion", "source": "recording" | "documentation", "host_version": str | null,
     "nodes": {ToolID: {"inputs": {InputID: {"type": str | null, "default": any, "values": [..] | null,
                                             "source": str}}}},
     "events": {"timer_hookup": str, "render_failure_returns": str, "source": str}}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

TABLE_PATH = Path(__file__).with_name("fusion.json")
TOP_KEYS = {"host", "source", "host_version", "nodes", "events"}
INPUT_KEYS = {"type", "default", "values", "source"}
EVENT_KEYS = {"timer_hookup", "render_failure_returns", "source"}
SOURCES = ("recording", "documentation")


def load_table(path: Optional[Path] = None) -> Dict[str, Any]:
    """The table at ``path`` (fusion.json by default), refused with the reasons when it is not a valid table."""
    table = json.loads(Path(path or TABLE_PATH).read_text())
    problems = validate_table(table)
    if problems:
        raise ValueError(f"{path or TABLE_PATH} is not a valid host table: " + "; ".join(problems))
    return table


def _check_input(where: str, entry: Any) -> List[str]:
    if not isinstance(entry, dict) or set(entry) != INPUT_KEYS:
        return [f"{where}: needs exactly the keys {sorted(INPUT_KEYS)}"]
    problems = []
    if entry["type"] is not None and not isinstance(entry["type"], str):
        problems.append(f"{where}.type: a string or null")
    if entry["values"] is not None and not isinstance(entry["values"], list):
        problems.append(f"{where}.values: a list or null")
    if not isinstance(entry["source"], str) or not entry["source"].strip():
        problems.append(f"{where}.source: say where it comes from")
    return problems


def _check_nodes(nodes: Any) -> List[str]:
    if not isinstance(nodes, dict) or not nodes:
        return ["nodes: a non-empty object of tool IDs"]
    problems = []
    for tool_id, node in nodes.items():
        if not isinstance(node, dict) or set(node) != {"inputs"} or not isinstance(node["inputs"], dict):
            problems.append(f"nodes.{tool_id}: needs exactly {{'inputs': {{...}}}}")
            continue
        for input_id, entry in node["inputs"].items():
            problems += _check_input(f"nodes.{tool_id}.inputs.{input_id}", entry)
    return problems


def _check_events(events: Any) -> List[str]:
    if not isinstance(events, dict) or set(events) != EVENT_KEYS:
        return [f"events: needs exactly the keys {sorted(EVENT_KEYS)}"]
    return [f"events.{key}: a non-empty string" for key in sorted(EVENT_KEYS)
            if not isinstance(events[key], str) or not events[key].strip()]


def validate_table(table: Any) -> List[str]:
    """Everything wrong with ``table`` as a host table, one line each; empty when it is valid."""
    if not isinstance(table, dict) or set(table) != TOP_KEYS:
        return [f"the top level needs exactly the keys {sorted(TOP_KEYS)}"]
    problems = []
    if table["host"] != "fusion":
        problems.append("host: 'fusion'")
    if table["source"] not in SOURCES:
        problems.append(f"source: one of {SOURCES}")
    if table["host_version"] is not None and not isinstance(table["host_version"], str):
        problems.append("host_version: a string or null")
    return problems + _check_nodes(table["nodes"]) + _check_events(table["events"])


def inputs_of(table: Dict[str, Any], tool_id: str) -> Dict[str, Dict[str, Any]]:
    """The inputs the table knows for ``tool_id`` (empty for a tool it does not list)."""
    node = table["nodes"].get(tool_id)
    return dict(node["inputs"]) if node else {}
