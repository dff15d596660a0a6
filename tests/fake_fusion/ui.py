"""A small stand-in for Fusion's UIManager and bmd.UIDispatcher.

Widgets are records of their properties (Text, Enabled, Value, CurrentIndex,
CurrentText ...), as UIManager items read and write them; ``win.On.<ID>.<Event>``
takes handlers called with an event dict ({"who": item ID, "what": event}).

Timers (``ui.Timer({"ID": ..., "Interval": ms})``) deliver their Timeout to the
dispatcher's generic handler only, ``disp.On.Timeout``, with ``ev["who"]`` the
timer's ID: "Timeout events of a standalone UITimer reach the dispatcher only: a
handler registered as win.On.ProgressTimer is accepted but never called"
(ivan-94m/SLogMetaRaw:slogmetaraw/ui.py, which tells its timers apart by
ev.get('who')), and MHL MediaManagement had to register ``disp.On.Timeout``
besides ``disp.On.Poll.Timeout`` "so that progress updates by itself"
(maxlainz/MHL-MediaManagement:CHANGELOG.md). So a handler assigned as
``disp.On.<TimerID>.Timeout`` is accepted and never called here. A timer fires
once its Interval has passed (EmberLightVFX/Fusion-Script-Docs:docs/UITimer.md:
Interval, SingleShot, Start, Stop, IsActive).

The test plays the user: ``click``, ``set_text``, ``choose``, ``set_value``, ``set_checked``, and runs
the dispatcher's timers with ``pump_until`` (or a ``driver`` inside ``RunLoop``).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional

_DEFAULTS = {"Text": "", "Enabled": True, "Value": 0, "Checked": False, "Visible": True}


class FakeItem:
    def __init__(self, kind: str, props: Optional[Dict[str, Any]] = None, children: Optional[List["FakeItem"]] = None):
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "props", dict(props or {}))
        object.__setattr__(self, "children", list(children or []))
        object.__setattr__(self, "choices", [])
        if kind == "ComboBox":
            self.props.setdefault("CurrentIndex", -1)

    def __getattr__(self, name: str) -> Any:
        props = object.__getattribute__(self, "props")
        if name == "CurrentText" and self.kind == "ComboBox":
            index = props.get("CurrentIndex", -1)
            return self.choices[index] if 0 <= index < len(self.choices) else ""
        if name in props:
            return props[name]
        if name in _DEFAULTS:
            return _DEFAULTS[name]
        raise AttributeError(f"{self.kind} {props.get('ID', '')!r} has no property {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "CurrentText" and self.kind == "ComboBox":
            name, value = "CurrentIndex", self.choices.index(value)
        self.props[name] = value

    # ComboBox methods
    def AddItem(self, text: str) -> None:
        self.choices.append(str(text))
        if self.props.get("CurrentIndex", -1) < 0:
            self.props["CurrentIndex"] = 0

    def AddItems(self, texts: List[str]) -> None:
        for text in texts:
            self.AddItem(text)

    def Clear(self) -> None:
        self.choices.clear()
        self.props["CurrentIndex"] = -1

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


class FakeTimer:
    def __init__(self, props: Dict[str, Any]):
        self.ID = props["ID"]
        self.Interval = props.get("Interval", 0)
        self.SingleShot = props.get("SingleShot", False)
        self.IsActive = False
        self.due = 0.0

    def Start(self) -> None:
        self.IsActive = True
        self.due = time.monotonic() + float(self.Interval) / 1000.0

    def Stop(self) -> None:
        self.IsActive = False

    def take(self, now: float) -> bool:
        """True when the timer is due (and schedules the next time, or stops a single shot)."""
        if not self.IsActive or now < self.due:
            return False
        if self.SingleShot:
            self.IsActive = False
        self.due = now + float(self.Interval) / 1000.0
        return True


class _Handlers:
    """``On.<ID>``: assigning ``.Clicked = fn`` registers fn for that item's event."""

    def __init__(self, table: Dict[str, Dict[str, Callable]], item_id: str):
        object.__setattr__(self, "_table", table)
        object.__setattr__(self, "_id", item_id)

    def __setattr__(self, event: str, handler: Callable) -> None:
        self._table.setdefault(self._id, {})[event] = handler


class FakeEvents:
    """``On.<ID>.<Event> = fn`` registers fn for one item's event; ``On.<Event> = fn`` is the generic handler of an
    event, whoever sends it (the dispatcher's timers use only that one)."""

    def __init__(self):
        object.__setattr__(self, "handlers", {})
        object.__setattr__(self, "generic", {})

    def __getattr__(self, item_id: str) -> _Handlers:
        return _Handlers(object.__getattribute__(self, "handlers"), item_id)

    def __getitem__(self, item_id: str) -> _Handlers:
        return self.__getattr__(item_id)

    def __setattr__(self, event: str, handler: Callable) -> None:
        self.generic[event] = handler

    def fire(self, item_id: str, event: str, **info: Any) -> None:
        handler = self.handlers.get(item_id, {}).get(event)
        assert handler is not None, f"no handler for {item_id}.{event}"
        handler({"who": item_id, "what": event, **info})

    def fire_generic(self, item_id: str, event: str) -> bool:
        """Call the generic handler of ``event`` for ``item_id``; False when there is none."""
        handler = self.generic.get(event)
        if handler is None:
            return False
        handler({"who": item_id, "what": event})
        return True


class FakeUIManager:
    def __init__(self):
        self.timers: List[FakeTimer] = []

    @staticmethod
    def _group(kind: str, props: Any = None, children: Any = None) -> FakeItem:
        if children is None and isinstance(props, (list, tuple)):
            props, children = {}, props
        return FakeItem(kind, props or {}, list(children or []))

    def VGroup(self, props: Any = None, children: Any = None) -> FakeItem:
        return self._group("VGroup", props, children)

    def HGroup(self, props: Any = None, children: Any = None) -> FakeItem:
        return self._group("HGroup", props, children)

    def Timer(self, props: Dict[str, Any]) -> FakeTimer:
        timer = FakeTimer(props)
        self.timers.append(timer)
        return timer

    def __getattr__(self, kind: str) -> Callable[..., FakeItem]:
        if kind in ("Label", "Button", "ComboBox", "SpinBox", "DoubleSpinBox", "LineEdit", "CheckBox", "TextEdit",
                    "HGap", "VGap", "Slider"):
            return lambda props=None: FakeItem(kind, props or {})
        raise AttributeError(kind)


class FakeWindow:
    def __init__(self, props: Dict[str, Any], root: FakeItem):
        self.props, self.root = dict(props), root
        self.ID = props["ID"]
        self.On = FakeEvents()
        self.visible = False
        self.items = {item.props["ID"]: item for item in root.walk() if "ID" in item.props}

    def GetItems(self) -> Dict[str, FakeItem]:
        return dict(self.items)

    def Find(self, item_id: str) -> Optional[FakeItem]:
        return self.items.get(item_id)

    def Show(self) -> None:
        self.visible = True

    def Hide(self) -> None:
        self.visible = False

    # the user
    def click(self, item_id: str) -> None:
        assert self.items[item_id].Enabled, f"{item_id} is disabled"
        self.On.fire(item_id, "Clicked")

    def set_text(self, item_id: str, text: str) -> None:
        self.items[item_id].Text = text

    def choose(self, item_id: str, text: str) -> None:
        self.items[item_id].CurrentText = text

    def set_value(self, item_id: str, value: Any) -> None:
        self.items[item_id].Value = value

    def set_checked(self, item_id: str, checked: bool) -> None:
        self.items[item_id].Checked = bool(checked)

    def close(self) -> None:
        self.On.fire(self.ID, "Close")


class FakeDispatcher:
    def __init__(self, ui: FakeUIManager):
        self.ui = ui
        self.On = FakeEvents()
        self.windows: List[FakeWindow] = []
        self.looping = False
        self.driver: Optional[Callable[["FakeDispatcher"], None]] = None
        self.loop_timeout = 120.0
        self.timeouts: List[str] = []  # the IDs of the timers whose Timeout was delivered, in order

    def AddWindow(self, props: Dict[str, Any], root: FakeItem) -> FakeWindow:
        window = FakeWindow(props, root)
        self.windows.append(window)
        return window

    def fire_timers(self) -> None:
        """Deliver the Timeout of every due timer, to ``disp.On.Timeout`` only (see the module's docstring)."""
        now = time.monotonic()
        for timer in list(self.ui.timers):
            if timer.take(now):
                self.timeouts.append(timer.ID)
                self.On.fire_generic(timer.ID, "Timeout")

    def RunLoop(self) -> None:
        """Until ExitLoop: the test's driver plays the user, then the timers fire."""
        self.looping = True
        deadline = time.monotonic() + self.loop_timeout
        while self.looping:
            if self.driver is not None:
                self.driver(self)
            if not self.looping:
                break
            self.fire_timers()
            if time.monotonic() > deadline:
                raise TimeoutError("RunLoop did not end")
            time.sleep(0.02)

    def ExitLoop(self) -> None:
        self.looping = False

    def pump_until(self, condition: Callable[[], bool], timeout: float = 60.0) -> None:
        """Fire the timers (as RunLoop would) until ``condition`` holds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not reached")
            self.fire_timers()
            time.sleep(0.02)


class FakeBMD:
    def __init__(self):
        self.dispatchers: List[FakeDispatcher] = []

    def UIDispatcher(self, ui: FakeUIManager) -> FakeDispatcher:
        dispatcher = FakeDispatcher(ui)
        self.dispatchers.append(dispatcher)
        return dispatcher


class FakeFusion:
    def __init__(self, comp: Any = None):
        self.UIManager = FakeUIManager()
        self.comp = comp

    def GetCurrentComp(self) -> Any:
        return self.comp
