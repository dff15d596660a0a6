"""The UIManager dialog: a form, Start/Cancel/Close, a status label fed by a timer.

The window is the only part that needs a running Fusion; the work is in
``comp_io`` (the comp) and ``job`` (the server). Everything runs on the UI
thread except the job watcher, which only fills a Progress the timer reads.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Optional

from . import comp_io
from .job import (
    CLEAN_NAME,
    DEFAULT_PRESET,
    PLATE_NAME,
    PRESETS,
    JobRunner,
    JobSettings,
    PluginError,
    check_range,
    default_address,
    default_job_folder,
    describe_error,
    format_range,
    log,
    parse_range,
    unique_job_dir,
)

WINDOW_ID = "InternalInpaintWin"
TIMER_ID = "InternalInpaintPoll"
PLATE_ALPHA = "(plate's alpha)"
RANGE_COMP = "Comp render range"
RANGE_CUSTOM = "Custom"
POLL_MS = 250


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

    # -- building -------------------------------------------------------------------

    def build(self) -> Any:
        ui = self.ui
        first, last = comp_io.render_range(self.comp)

        def row(label: str, widget: Any) -> Any:
            return ui.HGroup({"Weight": 0}, [ui.Label({"Text": label, "Weight": 0, "MinimumSize": [110, 0]}), widget])

        self.win = self.disp.AddWindow(
            {"ID": WINDOW_ID, "WindowTitle": "InternalInpaint: remove the matte's object", "Geometry": [200, 200, 520, 420]},
            ui.VGroup([
                row("Plate", ui.ComboBox({"ID": "Plate"})),
                row("Matte", ui.ComboBox({"ID": "Matte"})),
                row("Matte channel", ui.ComboBox({"ID": "MatteChannel"})),
                row("Frames", ui.ComboBox({"ID": "RangeMode"})),
                row("Custom range", ui.LineEdit({"ID": "Range", "Text": format_range(int(first), int(last))})),
                row("Preset", ui.ComboBox({"ID": "Preset"})),
                row("Iterations", ui.SpinBox({"ID": "Iterations", "Minimum": 0, "Maximum": 1000000, "Value": 0,
                                              "ToolTip": "0: the preset's"})),
                row("Grow matte (px)", ui.SpinBox({"ID": "Dilate", "Minimum": 0, "Maximum": 256, "Value": 0})),
                row("Server", ui.LineEdit({"ID": "Address", "Text": default_address()})),
                row("Job folder", ui.LineEdit({"ID": "JobFolder", "Text": default_job_folder()})),
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
        getattr(on, "Start").Clicked = self._guard(self.on_start)
        getattr(on, "Cancel").Clicked = self._guard(self.on_cancel)
        getattr(on, "Close").Clicked = self._guard(self.on_close)
        getattr(on, WINDOW_ID).Close = self._guard(self.on_close)
        self.timer = self.ui.Timer({"ID": TIMER_ID, "Interval": POLL_MS})
        getattr(self.disp.On, TIMER_ID).Timeout = self._guard(self.on_tick)
        return self.win

    def _fill_choices(self) -> None:
        plates = [comp_io.tool_name(t) for t in comp_io.plate_tools(self.comp)]
        self.items["Plate"].AddItems(plates)
        self.items["Matte"].AddItems([PLATE_ALPHA] + sorted(comp_io.tool_name(t) for t in comp_io.image_tools(self.comp)))
        self.items["MatteChannel"].AddItems(list(comp_io.MATTE_CHANNELS))
        self.items["RangeMode"].AddItems([RANGE_COMP, RANGE_CUSTOM])
        self.items["Preset"].AddItems(list(PRESETS))
        self.items["Preset"].CurrentIndex = PRESETS.index(DEFAULT_PRESET)
        if not plates:
            self.show("No Loader or MediaIn in this comp: add the plate first.")

    def run(self) -> None:
        self.build()
        self.win.Show()
        try:
            self.disp.RunLoop()
        finally:
            self.timer.Stop()
            self.win.Hide()
            if self.runner is not None and not self.runner.running:
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
        """The form as validated JobSettings."""
        it = self.items
        if it["RangeMode"].CurrentText == RANGE_CUSTOM:
            first, last = parse_range(it["Range"].Text)
        else:
            first, last = check_range(*comp_io.render_range(self.comp))
        return JobSettings(address=it["Address"].Text, job_folder=it["JobFolder"].Text, first=first, last=last,
                           preset=it["Preset"].CurrentText or DEFAULT_PRESET, iterations=int(it["Iterations"].Value),
                           dilate=int(it["Dilate"].Value)).validate()

    # -- events ---------------------------------------------------------------------

    def on_start(self, event: Any = None) -> None:
        if self.runner is not None:
            if self.runner.running:
                return
            self.runner.close()
            self.runner = None
        settings = self.settings()
        plate_name = self.items["Plate"].CurrentText
        if not plate_name:
            raise PluginError("Pick the plate (a Loader or MediaIn).")
        plate = comp_io.find_tool(self.comp, plate_name)
        matte_name = self.items["Matte"].CurrentText
        matte = None if matte_name in ("", PLATE_ALPHA) else comp_io.find_tool(self.comp, matte_name)
        if matte is not None and matte_name == plate_name:
            raise PluginError("The matte is the plate itself: pick the tool with the matte, or the plate's alpha.")
        settings.name = f"{comp_io.comp_name(self.comp)} {plate_name} {settings.frames}"
        self.result_loader = None
        self.show(f"Connecting to {settings.address}...", "")
        runner = self.runner_factory(settings)
        try:
            runner.check_server()
            folder = unique_job_dir(settings.job_folder, comp_io.comp_name(self.comp), plate_name)
            plate_pattern = os.path.join(folder, PLATE_NAME)
            output_pattern = os.path.join(folder, CLEAN_NAME)
            self.show(f"Rendering {plate_name} frames {settings.frames}...")
            comp_io.render_plate(self.comp, plate, matte, self.items["MatteChannel"].CurrentText or "Alpha",
                                 settings.first, settings.last, plate_pattern)
            self.show("Submitting the job...")
            runner.submit(plate_pattern, output_pattern)
        except Exception:
            runner.close()
            raise
        self.runner = runner
        self.job = {"plate": plate, "output": output_pattern, "first": settings.first, "last": settings.last}
        runner.start_watching()
        self._set_busy(True)
        self.show("Queued", f"Job {runner.job_id}; files in {folder}")
        self.timer.Start()

    def on_cancel(self, event: Any = None) -> None:
        if self.runner is None or not self.runner.running:
            return
        self.show("Cancelling...")
        self.runner.cancel()

    def on_tick(self, event: Any = None) -> None:
        if self.runner is None:
            return
        progress = self.runner.snapshot()
        if not progress.finished:
            self.show(progress.status, progress.detail)
            return
        self.timer.Stop()
        self.runner.join(5)
        self._set_busy(False)
        if not progress.ok:
            self.show(progress.error or progress.status, progress.detail)
            return
        job = self.job
        self.result_loader = comp_io.add_result_loader(self.comp, job["plate"], job["output"], job["first"],
                                                       job["last"])
        self.show(f"Done: Loader {comp_io.tool_name(self.result_loader)} added beside {comp_io.tool_name(job['plate'])}"
                  f" and selected.", progress.detail)

    def on_close(self, event: Any = None) -> None:
        if self.runner is not None and self.runner.running:
            log(f"Job {self.runner.job_id} keeps running on the server; its frames will be {self.job['output']}")
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
