"""The UIManager dialog: a form, Start/Cancel/Close, a status label fed by a timer.

The window is the only part that needs a running Fusion; the work is in
``comp_io`` (the comp) and ``job`` (the server). Everything runs on Fusion's UI
thread and no thread is started: while ``disp.RunLoop()`` blocks, a UI timer
polls the server, one short call with a deadline per tick. Its Timeout reaches
the dispatcher's generic handler, ``disp.On.Timeout``, told apart from other
timers by ``ev["who"]`` (ivan-94m/SLogMetaRaw: slogmetaraw/ui.py; MHL
MediaManagement had to add that hookup for its progress to update,
maxlainz/MHL-MediaManagement: CHANGELOG.md). A submitted job is remembered in
the comp's data until a poll sees it end, so a dialog opened again follows it
(progress, cancel, result) instead of offering to start another.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional

from . import comp_io
from .job import (
    CLEAN_NAME,
    DEFAULT_FILL,
    DEFAULT_PRESET,
    DEFAULT_WARM_START,
    FILL_MODES,
    FILL_TIPS,
    PLATE_NAME,
    PRESETS,
    REFERENCE_FRAMES_TIP,
    REFERENCE_NAME,
    REFERENCE_TIP,
    SEEN_TIP,
    WARM_START_MODES,
    WARM_START_TIP,
    JobRunner,
    JobSettings,
    PluginError,
    Record,
    RunningJob,
    check_range,
    default_address,
    default_job_folder,
    describe_error,
    discard,
    format_range,
    job_key,
    log,
    parse_frame_list,
    parse_range,
    sequence_file,
    sequence_files,
    unique_job_dir,
)

WINDOW_ID = "InternalInpaintWin"
TIMER_ID = "InternalInpaintPoll"
PLATE_ALPHA = "(plate's alpha)"
REFERENCE_NONE = "None"  # the Reference choice for no painted frames
RANGE_COMP = "Comp render range"
RANGE_CUSTOM = "Custom"
POLL_MS = 250


def _who(event: Any) -> Optional[str]:
    """The ID of the item or timer an event comes from: ev["who"] (a Lua table arrives as a dict)."""
    if isinstance(event, dict):
        return event.get("who")
    return getattr(event, "who", None)


class Dialog:
    """One dialog over one comp; ``run`` shows it until closed."""

    def __init__(self, fusion: Any, comp: Any, bmd: Any,
                 runner_factory: Callable[[JobSettings], JobRunner] = JobRunner):
        self.fusion, self.comp, self.bmd = fusion, comp, bmd
        self.runner_factory = runner_factory
        self.ui = fusion.UIManager
        self.disp = bmd.UIDispatcher(self.ui)
        self.win: Any = None
        self.items: Dict[str, Any] = {}
        self.timer: Any = None
        self.runner: Optional[JobRunner] = None
        self.job: Dict[str, Any] = {}
        self.result_loader: Any = None
        self._polling = False  # a job is followed: the timer's ticks poll it

    # -- building -------------------------------------------------------------------

    def build(self) -> Any:
        ui = self.ui
        first, last = comp_io.render_range(self.comp)

        def row(label: str, widget: Any) -> Any:
            return ui.HGroup({"Weight": 0}, [ui.Label({"Text": label, "Weight": 0, "MinimumSize": [110, 0]}), widget])

        self.win = self.disp.AddWindow(
            {"ID": WINDOW_ID, "WindowTitle": "InternalInpaint: remove the matte's object",
             "Geometry": [200, 200, 520, 620]},
            ui.VGroup([
                row("Plate", ui.ComboBox({"ID": "Plate"})),
                row("Matte", ui.ComboBox({"ID": "Matte"})),
                row("Matte channel", ui.ComboBox({"ID": "MatteChannel"})),
                row("Reference", ui.ComboBox({"ID": "Reference", "ToolTip": REFERENCE_TIP})),
                row("Reference frames", ui.LineEdit({"ID": "ReferenceFrames", "Text": "",
                                                     "ToolTip": REFERENCE_FRAMES_TIP})),
                row("Frames", ui.ComboBox({"ID": "RangeMode"})),
                row("Custom range", ui.LineEdit({"ID": "Range", "Text": format_range(int(first), int(last))})),
                row("Preset", ui.ComboBox({"ID": "Preset"})),
                row("Iterations", ui.SpinBox({"ID": "Iterations", "Minimum": 0, "Maximum": 1000000, "Value": 0,
                                              "ToolTip": "0: the preset's"})),
                row("Seed", ui.SpinBox({"ID": "Seed", "Minimum": 0, "Maximum": 2147483647, "Value": 0,
                                        "ToolTip": "The same seed and inputs give the same result."})),
                row("Grow matte (px)", ui.SpinBox({"ID": "Dilate", "Minimum": 0, "Maximum": 256, "Value": 0})),
                row("Fill", ui.ComboBox({"ID": "Fill", "ToolTip": "Where the fill of the hole comes from. "
                                         + " ".join(f"{mode}: {FILL_TIPS[mode]}" for mode in FILL_MODES)})),
                row("Warm start", ui.ComboBox({"ID": "WarmStart", "ToolTip": WARM_START_TIP})),
                ui.CheckBox({"ID": "SeenChannel", "Text": "Seen channel", "Checked": False, "Weight": 0,
                             "ToolTip": SEEN_TIP}),
                row("Server", ui.LineEdit({"ID": "Address", "Text": default_address()})),
                row("Job folder", ui.LineEdit({"ID": "JobFolder", "Text": default_job_folder()})),
                ui.CheckBox({"ID": "Wire", "Text": "Wire result downstream", "Checked": True, "Weight": 0,
                             "ToolTip": "Connect the tools fed by the plate (not the matte, nor what feeds it) to "
                                        "the clean plate's Loader. Off: the Loader is only added and selected."}),
                ui.Label({"ID": "Status", "Text": "Ready.", "WordWrap": True, "Weight": 0}),
                ui.Label({"ID": "Detail", "Text": "", "WordWrap": True, "Weight": 0}),
                ui.HGroup({"Weight": 0}, [
                    ui.Button({"ID": "Start", "Text": "Start"}),
                    ui.Button({"ID": "Cancel", "Text": "Cancel job", "Enabled": False}),
                    ui.Button({"ID": "Close", "Text": "Close"}),
                ]),
            ]),
        )
        self.items = self.win.GetItems()
        self._fill_choices()
        on = self.win.On
        on.Start.Clicked = self._guard(self.on_start)
        on.Cancel.Clicked = self._guard(self.on_cancel)
        on.Close.Clicked = self._guard(self.on_close)
        getattr(on, WINDOW_ID).Close = self._guard(self.on_close)
        self.timer = self.ui.Timer({"ID": TIMER_ID, "Interval": POLL_MS})
        self.disp.On.Timeout = self._guard(self.on_timeout)
        self._guard(self.reattach)()
        return self.win

    def _fill_choices(self) -> None:
        plates = [comp_io.tool_name(t) for t in comp_io.plate_tools(self.comp)]
        self.items["Plate"].AddItems(plates)
        tools = sorted(comp_io.tool_name(t) for t in comp_io.image_tools(self.comp))
        self.items["Matte"].AddItems([PLATE_ALPHA] + tools)
        self.items["Reference"].AddItems([REFERENCE_NONE] + tools)  # None preselected: no painted frames
        self.items["MatteChannel"].AddItems(list(comp_io.MATTE_CHANNELS))
        self.items["RangeMode"].AddItems([RANGE_COMP, RANGE_CUSTOM])
        self.items["Preset"].AddItems(list(PRESETS))
        self.items["Preset"].CurrentIndex = PRESETS.index(DEFAULT_PRESET)
        self.items["Fill"].AddItems(list(FILL_MODES))
        self.items["Fill"].CurrentIndex = FILL_MODES.index(DEFAULT_FILL)
        self.items["WarmStart"].AddItems(list(WARM_START_MODES))
        self.items["WarmStart"].CurrentIndex = WARM_START_MODES.index(DEFAULT_WARM_START)
        if not plates:
            self.show("No Loader or MediaIn in this comp: add the plate first.")

    def run(self) -> None:
        self.build()
        self.win.Show()
        try:
            self.disp.RunLoop()
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """The window closed: stop polling and let go of the server. A running job keeps running there, and the
        comp remembers it for the next dialog."""
        self._polling = False
        if self.timer is not None:
            self.timer.Stop()
        if self.win is not None:
            self.win.Hide()
        if self.runner is not None:
            self.runner.close()

    # -- helpers --------------------------------------------------------------------

    def _guard(self, handler: Callable[[Any], None]) -> Callable[[Any], None]:
        """Every UI callback: any exception ends as one line in the status label and the console."""

        def guarded(event: Any = None) -> None:
            try:
                handler(event)
            except Exception as exc:  # noqa: BLE001 - a script must never show a traceback
                folder = self.items["JobFolder"].Text if self.items else ""
                self.show(describe_error(exc, self.items["Address"].Text if self.items else "", folder), error=True)
                self._set_busy(self.runner is not None and self.runner.running)

        return guarded

    def show(self, status: str, detail: Optional[str] = None, error: bool = False) -> None:
        if self.items:
            self.items["Status"].Text = status
            if detail is not None:
                self.items["Detail"].Text = detail
        if error:
            log(status)

    def _set_busy(self, busy: bool) -> None:
        self.items["Start"].Enabled = not busy
        self.items["Cancel"].Enabled = busy

    def settings(self) -> JobSettings:
        """The form as validated JobSettings (the matte channel is set once the matte tool is known)."""
        it = self.items
        if it["RangeMode"].CurrentText == RANGE_CUSTOM:
            first, last = parse_range(it["Range"].Text)
        else:
            first, last = check_range(*comp_io.render_range(self.comp))
        reference = it["Reference"].CurrentText
        return JobSettings(address=it["Address"].Text, job_folder=it["JobFolder"].Text, first=first, last=last,
                           preset=it["Preset"].CurrentText or DEFAULT_PRESET, iterations=int(it["Iterations"].Value),
                           seed=int(it["Seed"].Value), dilate=int(it["Dilate"].Value),
                           fill=it["Fill"].CurrentText or DEFAULT_FILL,
                           seen_channel=bool(it["SeenChannel"].Checked),
                           warm_start=it["WarmStart"].CurrentText or DEFAULT_WARM_START,
                           reference="" if reference in ("", REFERENCE_NONE) else reference,
                           reference_frames=parse_frame_list(it["ReferenceFrames"].Text)).validate()

    # -- events ---------------------------------------------------------------------

    def on_start(self, event: Any = None) -> None:
        if self.runner is not None:
            if self.runner.running:
                return
            self.runner.close()
            self.runner = None
        if comp_io.read_running(self.comp) is not None:  # a job of this comp still runs: follow it, not a second
            self.reattach()
            return
        settings = self.settings()
        plate_name = self.items["Plate"].CurrentText
        if not plate_name:
            raise PluginError("Pick the plate (a Loader or MediaIn).")
        plate = comp_io.find_tool(self.comp, plate_name)
        matte_name = self.items["Matte"].CurrentText
        matte = None if matte_name in ("", PLATE_ALPHA) else comp_io.find_tool(self.comp, matte_name)
        if matte is not None and matte_name == plate_name:
            raise PluginError("The matte is the plate itself: pick the tool with the matte, or the plate's alpha.")
        channel = self.items["MatteChannel"].CurrentText or "Alpha"
        settings.matte_channel = channel if matte is not None else "Alpha"
        reference = comp_io.find_tool(self.comp, settings.reference) if settings.reference else None
        if reference is not None and settings.reference == plate_name:
            raise PluginError("The reference is the plate itself: pick the tool with the painted frames (a Paint "
                              "over the plate, or a Loader of the painted files), or None.")
        settings.name = f"{comp_io.comp_name(self.comp)} {plate_name} {settings.frames}"
        self.result_loader = None
        # Reusable: the plate's last finished job, its frames all there; decided by the key after rendering.
        previous = comp_io.read_record(self.comp, plate_name)
        if previous is not None and not previous.outputs_exist():
            previous = None
        runner = self.runner_factory(settings)
        folder, key = "", ""
        files: List[str] = []
        references: Dict[int, str] = {}
        try:
            if previous is None:  # nothing to reuse: no rendering for a server that is not there
                self._check_server(runner)
            folder = unique_job_dir(settings.job_folder, comp_io.comp_name(self.comp), plate_name)
            plate_pattern = os.path.join(folder, PLATE_NAME)
            output_pattern = os.path.join(folder, CLEAN_NAME)
            files = sequence_files(plate_pattern, settings.first, settings.last)
            self.show(f"Rendering {plate_name} frames {settings.frames}...", "")
            comp_io.render_plate(self.comp, plate, matte, channel, settings.first, settings.last, plate_pattern)
            if reference is not None:
                reference_pattern = os.path.join(folder, REFERENCE_NAME)
                references = {f: sequence_file(reference_pattern, f) for f in settings.reference_frames}
                self.show(f"Rendering the reference {settings.reference} frames "
                          f"{','.join(map(str, settings.reference_frames))}...")
                comp_io.render_reference(self.comp, reference, settings.reference_frames, reference_pattern)
            self.show("Hashing the rendered frames...")
            key = job_key(files, settings, [references[f] for f in sorted(references)])
            if previous is not None and key == previous.key:
                discard(folder, files + list(references.values()))
                runner.close()
                self.job = {"plate": plate, "plate_name": plate_name, "matte": matte_name if matte else "",
                            "key": key, "output": previous.output, "first": previous.first, "last": previous.last,
                            "previous": previous}
                self._finish(previous.job_id, reused=True, detail=f"Job {previous.job_id}; files in "
                                                                   f"{os.path.dirname(previous.output)}")
                return
            if previous is not None:
                self._check_server(runner)
            self.show("Submitting the job...")
            runner.submit(plate_pattern, output_pattern, references)
        except Exception:
            runner.close()
            if folder and not runner.job_id:  # no job will read them
                discard(folder, files + list(references.values()))
            raise
        self.runner = runner
        self.job = {"plate": plate, "plate_name": plate_name, "matte": matte_name if matte else "", "key": key,
                    "output": output_pattern, "first": settings.first, "last": settings.last, "previous": previous
                    or comp_io.read_record(self.comp, plate_name)}
        self._remember_running(RunningJob(
            job_id=runner.job_id, address=settings.address, job_folder=settings.job_folder, plate=plate_name,
            matte=self.job["matte"], key=key, output=output_pattern, first=settings.first, last=settings.last))
        self._follow("Queued", f"Job {runner.job_id}; files in {folder}")

    def _follow(self, status: str, detail: str) -> None:
        self._polling = True
        self._set_busy(True)
        self.show(status, detail)
        self.timer.Start()

    def reattach(self, event: Any = None) -> None:
        """Follow the job this comp remembers as running (submitted by a dialog since closed), if there is one."""
        running = comp_io.read_running(self.comp)
        if running is None or (self.runner is not None and self.runner.job_id == running.job_id):
            return
        settings = JobSettings(address=running.address, job_folder=running.job_folder, first=running.first,
                               last=running.last).validate()
        runner = self.runner_factory(settings)
        runner.attach(running.job_id, running.output)
        self.runner = runner
        self.job = {"plate": comp_io.tool_named(self.comp, running.plate), "plate_name": running.plate,
                    "matte": running.matte, "key": running.key, "output": running.output, "first": running.first,
                    "last": running.last, "previous": comp_io.read_record(self.comp, running.plate)}
        self.items["Address"].Text = running.address
        self.items["JobFolder"].Text = running.job_folder
        log(f"Following job {running.job_id} of {running.plate}, started earlier from this comp")
        self._follow(f"Following job {running.job_id} of {running.plate} (started earlier from this comp)...",
                     f"Frames {format_range(running.first, running.last)}; files in {os.path.dirname(running.output)}")

    def _remember_running(self, running: RunningJob) -> None:
        try:
            comp_io.write_running(self.comp, running)
        except Exception as exc:  # noqa: BLE001 - the job runs regardless; only following it from a new dialog is lost
            log(f"Could not remember job {running.job_id} in the comp: {type(exc).__name__}: {exc}")

    def _forget_running(self) -> None:
        try:
            comp_io.clear_running(self.comp)
        except Exception as exc:  # noqa: BLE001 - a stale entry is followed once more, then found ended
            log(f"Could not clear the running job from the comp: {type(exc).__name__}: {exc}")

    def _check_server(self, runner: JobRunner) -> None:
        self.show(f"Connecting to {runner.settings.address}...", "")
        runner.check_server()

    def on_cancel(self, event: Any = None) -> None:
        if self.runner is None or not self.runner.running:
            return
        self.show("Cancelling...")
        self.runner.cancel()

    def on_timeout(self, event: Any = None) -> None:
        """``disp.On.Timeout`` is every timer's: only this dialog's (ev["who"] is its ID) polls."""
        if _who(event) == TIMER_ID:
            self.on_tick(event)

    def on_tick(self, event: Any = None) -> None:
        """One poll; once the job has ended, its result, once: a later tick (queued already) does nothing."""
        if not self._polling or self.runner is None:
            return
        progress = self.runner.poll()
        if not progress.finished:
            self.show(progress.status, progress.detail)
            return
        self._polling = False
        self.timer.Stop()
        self._set_busy(False)
        if not progress.lost:  # lost: the server stopped answering; the next dialog follows the job again
            self._forget_running()
        if not progress.ok:
            self.show(progress.error or progress.status, progress.detail)
            return
        self._finish(self.runner.job_id, reused=False, detail=progress.detail)

    @property
    def wire(self) -> bool:
        return bool(self.items["Wire"].Checked)

    def _finish(self, job_id: str, reused: bool, detail: str) -> None:
        """Show the job's frames: reuse its Loader or add one, wire it if asked, select it, remember the job."""
        job = self.job
        plate, output, first, last = job["plate"], job["output"], job["first"], job["last"]
        plate = plate if plate is not None else comp_io.tool_named(self.comp, job["plate_name"])
        if plate is None:  # followed after a reopen, and the plate tool was deleted since
            raise PluginError(f"Job {job_id} is done, but the plate {job['plate_name']} is no longer in the comp: "
                              f"load {output} with a Loader yourself.")
        previous: Optional[Record] = job.get("previous")
        loader = None
        if reused and previous is not None:
            loader = comp_io.existing_result_loader(self.comp, previous.loader, output, first)
        added = loader is None
        if added:
            loader = comp_io.add_result_loader(self.comp, plate, output, first, last)
        else:
            comp_io.select(self.comp, loader)
        self.result_loader = loader
        loader_name, plate_name = comp_io.tool_name(loader), comp_io.tool_name(plate)
        moved = []
        if self.wire:
            sources = [plate]
            old = comp_io.tool_named(self.comp, previous.loader) if previous is not None and previous.loader else None
            if old is not None and comp_io.tool_name(old) != loader_name and comp_io.tool_type(old) == "Loader":
                sources.append(old)  # a re-run replaces the plate's earlier result downstream too
            matte = comp_io.tool_named(self.comp, job["matte"]) if job["matte"] else None
            keep = comp_io.upstream_names(matte) if matte is not None else set()
            moved = comp_io.wire_downstream(self.comp, sources, loader, keep)
        try:
            comp_io.write_record(self.comp, job["plate_name"], Record(key=job["key"], job_id=job_id, output=output,
                                                                      first=first, last=last, loader=loader_name))
        except Exception as exc:  # noqa: BLE001 - the result is there; only its reuse is lost
            log(f"Could not remember job {job_id} in the comp: {type(exc).__name__}: {exc}")
        where = f"added beside {plate_name}" if added else "already in the comp"
        wired = f" It now feeds {', '.join(moved)}." if moved else ""
        if reused:
            self.show(f"Reused job {job_id}: inputs and settings unchanged. Loader {loader_name} {where}, "
                      f"selected.{wired}", detail)
            log(f"Reused job {job_id} ({output}): inputs and settings unchanged")
        else:
            self.show(f"Done: Loader {loader_name} {where} and selected.{wired}", detail)

    def on_close(self, event: Any = None) -> None:
        if self.runner is not None and self.runner.running:
            log(f"Job {self.runner.job_id} keeps running on the server; its frames will be {self.job['output']}. "
                "Open the dialog again to follow it.")
        self.disp.ExitLoop()


def run(fusion: Any, comp: Any, bmd: Any) -> Optional[Dialog]:
    """The script's entry: the dialog over ``comp``; errors before it opens are printed, not raised."""
    if comp is None:
        log("No comp is open: open one (or the Fusion page) and run the script again.")
        return None
    try:
        dialog = Dialog(fusion, comp, bmd)
        dialog.run()
        return dialog
    except Exception as exc:  # noqa: BLE001
        log(describe_error(exc))
        return None
