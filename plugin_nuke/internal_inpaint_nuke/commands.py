"""What the node's buttons and the menu call (main thread)."""

from __future__ import annotations

import threading
from typing import Dict, Optional

import nuke

from . import node as ii
from .job import JobRun, connect, describe, load_client
from .render import InputProblem, Settings, read_previous, read_settings, render_inputs

_RUNS: Dict[str, JobRun] = {}  # node full name -> its running job


def report(group: nuke.Node, text: str) -> None:
    """A message in the node's status line and the script editor."""
    print(f"InternalInpaint {group.fullName()}: {text}")
    ii.set_status(group, text)


def this_group(group: Optional[nuke.Node] = None) -> nuke.Group:
    """The node a button belongs to (``nuke.thisNode()`` inside its script), which is an InternalInpaint Group."""
    node = group if group is not None else nuke.thisNode()
    if not isinstance(node, nuke.Group):
        raise TypeError(f"{node.name()} is a {node.Class()}, not an InternalInpaint node (a Group)")
    return node


def inpaint(node: Optional[nuke.Node] = None) -> Optional[JobRun]:
    """The Inpaint button: render the inputs here, then run the job in a worker thread."""
    group = this_group(node)
    name = group.fullName()
    running = _RUNS.get(name)
    if running is not None and not running.finished.is_set():
        report(group, f"Job {running.job_id or '(being submitted)'} is still running: wait for it or press Cancel.")
        return None
    try:
        ii.refresh_views(group)
        settings = read_settings(group)
        previous = read_previous(group)
        ii.set_status(group, "Rendering the inputs...")
        rendered = render_inputs(group, settings)
    except (InputProblem, LookupError, NameError, OSError, RuntimeError, ValueError) as error:
        report(group, f"Error: {error}")
        return None
    run = JobRun(group, name, settings, rendered, previous)

    def forget() -> None:  # a later press may already have replaced this run: leave that one
        if _RUNS.get(name) is run:
            del _RUNS[name]

    run.on_finish = forget
    _RUNS[name] = run
    ii.set_status(group, "Starting the job...")
    run.start()
    return run


def cancel(node: Optional[nuke.Node] = None) -> None:
    """The Cancel button: cancel this node's running job (also one left running by an earlier session)."""
    group = this_group(node)
    running = _RUNS.get(group.fullName())
    if running is not None and not running.finished.is_set():
        running.request_cancel()
        ii.set_status(group, "Cancelling...")
        return
    job_id, address = group[ii.JOB_ID].value(), group[ii.SERVER].value().strip()
    if not job_id:
        report(group, "Nothing to cancel.")
        return
    ii.set_status(group, f"Cancelling job {job_id}...")
    settings: Optional[Settings]
    try:
        settings = read_settings(group)
    except InputProblem:
        settings = None
    threading.Thread(target=_cancel_on_server, args=(group, address, job_id, settings), daemon=True,
                     name=f"InternalInpaint cancel {job_id}").start()


def _cancel_on_server(group: nuke.Group, address: str, job_id: str, settings: Optional[Settings]) -> None:
    """Worker thread: the network call; the outcome goes back through the main thread."""
    try:
        client_module = load_client()
        with connect(client_module, address, timeout=10.0, retries=1) as client:
            job = client.cancel(job_id)
            state = client_module.inpaint_pb2.JobState.Name(job.state)
        text = f"Job {job_id} is {state}."
    except Exception as error:  # noqa: BLE001 - reported, never raised into Nuke
        text = f"Cancelling job {job_id} failed: {describe(error, settings) if settings else error}"
    nuke.executeInMainThread(_report_if_alive, args=(group, text))


def _report_if_alive(group: nuke.Group, text: str) -> None:
    try:
        report(group, text)
    except ValueError:
        print(f"InternalInpaint: {text}")
