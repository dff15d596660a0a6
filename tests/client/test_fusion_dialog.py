"""The dialog against Fusion's event model: its timer's ticks arrive at ``disp.On.Timeout`` (ev["who"] says whose),
a tick after the end does nothing, no thread is started while ``disp.RunLoop()`` blocks (the server is polled with
short calls), and a dialog opened again while a job of the comp runs follows that job instead of starting another.
"""

from __future__ import annotations

import ast
import sys
import threading
import time

import grpc
import pytest

from inpaint_eval.synthetic import make_clip
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint_client.client import InpaintServiceError
from internal_inpaint_resolve import comp_io, job
from internal_inpaint_resolve import dialog as dlg
from tests.client.test_plugin_resolve import (
    FIRST,
    FRAMES,
    HEIGHT,
    LAST,
    PACKAGE,
    WIDTH,
    address_of,
    check_clean_loader,
    finished,
    make_comp,
    open_dialog,
)
from tests.fake_fusion import FakeBMD, FakeFusion
from tests.server_support import client_for


@pytest.fixture(scope="module")
def clip():
    return make_clip(frames=FRAMES, width=WIDTH, height=HEIGHT)


def tick(dialog, who=dlg.TIMER_ID):
    """One Timeout as Fusion delivers it: to the generic handler, with the timer's ID in ev["who"]."""
    assert dialog.disp.On.fire_generic(who, "Timeout")


def result_loaders(comp):
    return [t.name for t in comp.tools if t.name.startswith(comp_io.RESULT_NAME)]


# -- the timer ---------------------------------------------------------------------------------------


def test_the_timer_is_hooked_on_disp_on_timeout_and_only_its_own_ticks_poll(tmp_path, clip, monkeypatch):
    comp, _ = make_comp(clip)
    dialog, _ = open_dialog(comp, "127.0.0.1:1", tmp_path)
    assert "Timeout" in dialog.disp.On.generic and dlg.TIMER_ID not in dialog.disp.On.handlers
    polls = []
    monkeypatch.setattr(dialog, "on_tick", lambda event=None: polls.append(event))
    tick(dialog, "SomeOtherTimer")  # another script's timer, or none: not ours
    dialog.on_timeout({"what": "Timeout"})
    assert polls == []
    tick(dialog)
    assert polls == [{"who": dlg.TIMER_ID, "what": "Timeout"}]


def test_a_handler_hooked_on_disp_on_id_timeout_never_runs_in_the_fake():
    """What the plugin used to do; the fake, as the evidence says, never delivers there."""
    ui, bmd = FakeFusion().UIManager, FakeBMD()
    disp = bmd.UIDispatcher(ui)
    ran = []
    timer = ui.Timer({"ID": "Poll", "Interval": 10})
    disp.On.Poll.Timeout = lambda ev=None: ran.append(ev)
    timer.Start()
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        disp.fire_timers()
        time.sleep(0.02)
    assert ran == [] and disp.timeouts and set(disp.timeouts) == {"Poll"}


def test_a_tick_after_the_job_ended_does_nothing(path_server, job_root, clip, monkeypatch):
    comp, plate = make_comp(clip)
    dialog, win = open_dialog(comp, address_of(path_server), job_root / "twice")
    win.click("Start")
    dialog.disp.pump_until(lambda: finished(dialog), timeout=60)
    status, loaders = dialog.items["Status"].Text, result_loaders(comp)
    assert status.startswith("Done") and loaders == ["InpaintClean"], status
    monkeypatch.setattr(dialog.runner, "poll", lambda: pytest.fail("polled after the end"))
    tick(dialog)
    tick(dialog)  # two Timeouts queued before the timer stopped
    assert result_loaders(comp) == loaders and dialog.items["Status"].Text == status
    assert comp_io.read_running(comp) is None


# -- no thread -----------------------------------------------------------------------------------------


def test_the_plugin_imports_nothing_that_starts_threads():
    banned = {"threading", "_thread", "concurrent", "multiprocessing", "asyncio"}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not {n.split(".")[0] for n in names} & banned, (path.name, names)


def test_the_dialog_starts_no_thread_while_it_follows_a_job(path_server, job_root, clip, monkeypatch):
    """Threads gRPC starts for itself are its business; none may be the plugin's own."""
    started = []
    start = threading.Thread.start

    def recording(self):
        started.append((self.name, sys._getframe(1).f_code.co_filename))
        return start(self)

    monkeypatch.setattr(threading.Thread, "start", recording)
    comp, _ = make_comp(clip)
    dialog, win = open_dialog(comp, address_of(path_server), job_root / "threads")
    win.click("Start")
    dialog.disp.pump_until(lambda: finished(dialog), timeout=60)
    assert dialog.items["Status"].Text.startswith("Done"), dialog.items["Status"].Text
    assert [name for name, where in started if where.startswith(str(PACKAGE))] == []


# -- reopening ----------------------------------------------------------------------------------------


def test_reopening_follows_the_running_job_and_cancels_it(path_server, job_root, clip):
    comp, _ = make_comp(clip)
    with client_for(path_server) as client:
        first, win = open_dialog(comp, address_of(path_server), job_root / "reopen", iterations=100000)
        win.click("Start")
        job_id = first.runner.job_id
        jobs = len(client.list_jobs())
        first.shutdown()  # the dialog closed; the job runs on
        running = comp_io.read_running(comp)
        assert (running.job_id, running.plate, running.first, running.last) == (job_id, "Plate", FIRST, LAST)

        again = dlg.Dialog(FakeFusion(comp), comp, FakeBMD())
        again.build()
        items = again.items
        assert again.runner.job_id == job_id and not items["Start"].Enabled and items["Cancel"].Enabled
        assert items["Status"].Text.startswith(f"Following job {job_id} of Plate"), items["Status"].Text
        assert items["Address"].Text == address_of(path_server)
        again.on_start()  # even pressed (the button is off): no second job
        assert len(client.list_jobs()) == jobs and again.runner.job_id == job_id
        again.disp.pump_until(lambda: items["Detail"].Text.startswith("Iteration"), timeout=60)
        again.win.click("Cancel")
        again.disp.pump_until(lambda: finished(again), timeout=30)
        assert items["Status"].Text.startswith("Cancelled"), items["Status"].Text
        assert client.get_job(job_id).state == pb.CANCELLED
    assert comp_io.read_running(comp) is None and result_loaders(comp) == []
    third = dlg.Dialog(FakeFusion(comp), comp, FakeBMD())
    third.build()
    assert third.runner is None and third.items["Start"].Enabled and not third.items["Cancel"].Enabled


def test_reopening_after_the_job_ended_adds_its_result(path_server, job_root, clip):
    comp, plate = make_comp(clip)
    first, win = open_dialog(comp, address_of(path_server), job_root / "later")
    win.click("Start")
    job_id, output = first.runner.job_id, first.job["output"]
    first.shutdown()
    with client_for(path_server) as client:
        client.wait(job_id, timeout=60)  # it finished while no dialog was open
    again = dlg.Dialog(FakeFusion(comp), comp, FakeBMD())
    again.build()
    again.disp.pump_until(lambda: finished(again), timeout=30)
    status = again.items["Status"].Text
    assert status.startswith("Done: Loader InpaintClean added beside Plate"), status
    assert again.result_loader.GetInput("Clip") == job.sequence_file(output, FIRST)
    check_clean_loader(comp, again.result_loader, plate.frames, clip.mask.astype("float32"))
    record = comp_io.read_record(comp, "Plate")
    assert record.job_id == job_id and comp_io.read_running(comp) is None


# -- a server that stops answering, without a server -------------------------------------------------------


class SilentClient:
    """A client whose every call fails with one status, as a dead (or forgetful) server's would."""

    def __init__(self, code):
        self.code, self.calls = code, 0

    def get_job(self, job_id):
        self.calls += 1
        raise InpaintServiceError(self.code, f"No answer from the InternalInpaint server at h:1: {self.code.name}")

    def close(self):
        pass


def _remembered(comp, tmp_path):
    comp_io.write_running(comp, job.RunningJob(job_id="j42", address="h:1", job_folder=str(tmp_path), plate="Plate",
                                               matte="", key="k", output=str(tmp_path / "clean.####.exr"),
                                               first=FIRST, last=LAST))


@pytest.mark.parametrize("code, kept, words", [
    (grpc.StatusCode.UNAVAILABLE, True, "may still be running on the server: open the dialog again"),
    (grpc.StatusCode.NOT_FOUND, False, "not on the server at h:1 any more"),
])
def test_a_server_that_stops_answering(tmp_path, clip, monkeypatch, code, kept, words):
    """Polls that go unanswered are retried a while, then the dialog stops following; the comp keeps the job for the
    next dialog unless the server said it does not have it."""
    monkeypatch.setattr(job, "MAX_POLL_FAILURES", 3)
    comp, _ = make_comp(clip)
    _remembered(comp, tmp_path)
    client = SilentClient(code)
    dialog = dlg.Dialog(FakeFusion(comp), comp, FakeBMD(),
                        runner_factory=lambda s: job.JobRunner(s, client_factory=lambda address: client))
    dialog.build()
    assert dialog.runner.job_id == "j42"
    for _ in range(5):
        tick(dialog)
    assert client.calls == (3 if kept else 1)
    status = dialog.items["Status"].Text
    assert words in status and dialog.items["Start"].Enabled, status
    assert (comp_io.read_running(comp) is not None) == kept


def test_progress_from_polled_jobs():
    eta = job._Eta()
    queued = job.progress_of(pb.Job(id="j", state=pb.QUEUED, queue_position=2))
    assert (queued.status, queued.finished) == ("Queued (position 2)", False)
    job.progress_of(pb.Job(id="j", state=pb.TRAINING, iteration=10, iterations=110, loss=0.5), eta)
    eta._start = (eta._start[0] - 10.0, 10)  # ten seconds for the first ten iterations seen
    training = job.progress_of(pb.Job(id="j", state=pb.TRAINING, iteration=20, iterations=110, loss=0.25), eta)
    assert training.status == "Training" and training.detail.startswith("Iteration 20/110, loss 0.25, ETA 1 min")
    writing = job.progress_of(pb.Job(id="j", state=pb.INFERRING, frames_written=3, frames_total=8))
    assert writing.status == "Writing frames 3/8"
    done = job.progress_of(pb.Job(id="j", state=pb.DONE, message="Done: 8 frames", iterations=110, loss=0.1,
                                  created_unix=100.0, updated_unix=3825.0))
    assert done.finished and done.ok and done.status == "Done: 8 frames"
    assert done.detail == "110 iterations, final loss 0.1, 1 h 02 min"
    failed = job.progress_of(pb.Job(id="j", state=pb.FAILED, message="Frame 3 is missing."))
    assert failed.finished and not failed.ok and failed.error == "Failed: Frame 3 is missing."
    cancelled = job.progress_of(pb.Job(id="j", state=pb.CANCELLED))
    assert cancelled.error == "Cancelled: job j was cancelled"


def test_the_running_job_record_round_trips_through_comp_data(tmp_path, clip):
    comp, _ = make_comp(clip)
    _remembered(comp, tmp_path)
    # The frames as text: Fusion hands numbers back as floats.
    assert comp.GetData(comp_io.RUNNING_DATA)["Frames"] == f"{FIRST}-{LAST}"
    running = comp_io.read_running(comp)
    assert (running.job_id, running.first, running.last, running.matte) == ("j42", FIRST, LAST, "")
    comp.SetData(comp_io.RUNNING_DATA, {"JobID": "j", "Frames": "1-2"})  # no address: unusable, ignored
    assert comp_io.read_running(comp) is None
    comp_io.clear_running(comp)
    assert comp.GetData(comp_io.RUNNING_DATA) is None
