"""A small stand-in for Nuke's ``nuke`` module, so the plugin's tests run without the host.

Same names and signatures as Nuke's Python API for what the plugin uses; frame ranges are
inclusive. Images flow for real: sources hold numpy planes per frame (Nuke channel names such
as ``rgba.red``), Read reads EXR files, Copy/Switch/Input/Output route them, and
``execute(write, first, last)`` writes EXR files with OpenImageIO. Like Nuke, the API belongs to
the main thread: touching a knob or a node from another thread is recorded in
``thread_violations`` and raises. ``executeInMainThread`` queues the call; tests run the queue
with ``pump()`` / ``run_until()``, standing in for Nuke's event loop.
"""

from __future__ import annotations

import os
import queue
import re
import threading
import time

import numpy as np

GUI = True
NUKE_VERSION_MAJOR = 15
DISABLED, NO_ANIMATION, INVISIBLE, STARTLINE, READ_ONLY = 0x80, 0x100, 0x400, 0x1000, 0x10000000

_EXR_NAMES = {"rgba.red": "R", "rgba.green": "G", "rgba.blue": "B", "rgba.alpha": "A"}
_NUKE_NAMES = {v: k for k, v in _EXR_NAMES.items()}
thread_violations: list = []
messages: list = []
progress_tasks: list = []
main_thread_calls: list = []
_calls: "queue.Queue" = queue.Queue()
_this_node: list = []
_menus: dict = {}


def _main_only(what: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        thread_violations.append((what, threading.current_thread().name))
        raise RuntimeError(f"{what} used from thread {threading.current_thread().name}; Nuke's API is main-thread only")


class Knob:
    def __init__(self, name, label=None, value=None):
        self._name, self._label, self._value, self._flags, self._tooltip = name, label or name, value, 0, ""

    def name(self): return self._name
    def label(self): return self._label
    def setTooltip(self, text): self._tooltip = text
    def tooltip(self): return self._tooltip
    def setFlag(self, flag): self._flags |= flag
    def clearFlag(self, flag): self._flags &= ~flag
    def getFlag(self, flag): return bool(self._flags & flag)
    def getValue(self): return self.value()

    def value(self):
        _main_only(f"knob {self._name}.value()")
        return self._value

    def setValue(self, value):
        _main_only(f"knob {self._name}.setValue()")
        self._value = self._coerce(value)
        return True

    def _coerce(self, value): return value


class String_Knob(Knob):
    def __init__(self, name, label=None, text=""): super().__init__(name, label, str(text))
    def _coerce(self, value): return str(value)


class File_Knob(String_Knob):
    def fromUserText(self, text):
        """As typed into the file field: a trailing "first-last" sets the node's frame range."""
        match = re.fullmatch(r"(.*?) (-?\d+)-(-?\d+)", text)
        self.setValue(match.group(1) if match else text)
        if match and "first" in self._node._knobs:
            for name, value in zip(("first", "last"), match.groups()[1:]):
                self._node[name].setValue(int(value))


class Text_Knob(String_Knob):
    pass


class Int_Knob(Knob):
    def __init__(self, name, label=None): super().__init__(name, label, 0)
    def _coerce(self, value): return int(value)


class Boolean_Knob(Knob):
    def __init__(self, name, label=None, value=False): super().__init__(name, label, bool(value))
    def _coerce(self, value): return bool(value)


class Tab_Knob(Knob):
    pass


class Enumeration_Knob(Knob):
    def __init__(self, name, label, items):
        super().__init__(name, label, list(items)[0])
        self._items = list(items)

    def values(self): return list(self._items)

    def _coerce(self, value):
        if isinstance(value, int):
            return self._items[value]
        if value not in self._items:
            raise ValueError(f"{value!r} is not one of {self._items}")
        return value


class PyScript_Knob(Knob):
    def __init__(self, name, label=None, command=""): super().__init__(name, label, command)

    def execute(self):
        """Run the button's script as Nuke does: ``nuke`` at hand, thisNode() its node."""
        _main_only(f"knob {self._name}.execute()")
        _this_node.append(self._node)
        try:
            exec(self._value, {"nuke": __import__("nuke")})
        finally:
            _this_node.pop()


class Node:
    def __init__(self, cls, parent, **knobs):
        self._class, self._parent, self._inputs, self._knobs, self._deleted = cls, parent, [], {}, False
        self._name = parent._unique(cls) if parent is not None else "root"
        for knob in (Boolean_Knob("disable"), String_Knob("label"), Boolean_Knob("selected")):
            self.addKnob(knob)
        self._setup()
        if parent is not None:
            parent._children.append(self)
        for key, value in knobs.items():
            if key == "name":
                self.setName(value)
            else:
                self[key].setValue(value)

    def _setup(self): pass
    def _alive(self, what):
        _main_only(f"{self._name}.{what}")
        if self._deleted:
            raise ValueError("A PythonObject is not attached to a node")

    def Class(self): return self._class
    def name(self):
        self._alive("name()")
        return self._name
    def fullName(self):
        self._alive("fullName()")
        parent = self._parent
        return self._name if parent is None or parent is _root else f"{parent.fullName()}.{self._name}"

    def setName(self, name, uncollide=True, updateExpressions=False):
        self._alive("setName()")
        if any(n is not self and n._name == name for n in self._parent._children):
            if not uncollide:
                raise ValueError(f"name {name} is in use")
            name = self._parent._unique(name)
        self._name = name

    def knobs(self):
        self._alive("knobs()")
        return dict(self._knobs)
    def knob(self, name):
        self._alive("knob()")
        return self._knobs.get(name)
    def addKnob(self, knob):
        knob._node = self
        self._knobs[knob.name()] = knob

    def __getitem__(self, name):
        self._alive(f"[{name!r}]")
        if name not in self._knobs:
            raise NameError(f"knob {name} does not exist")
        return self._knobs[name]

    def input(self, i):
        self._alive("input()")
        return self._inputs[i] if i < len(self._inputs) else None

    def inputs(self):
        self._alive("inputs()")
        return max([i + 1 for i, n in enumerate(self._inputs) if n is not None], default=0)

    def setInput(self, i, node):
        self._alive("setInput()")
        self._inputs.extend([None] * (i + 1 - len(self._inputs)))
        self._inputs[i] = node
        return True

    def setSelected(self, selected): self["selected"].setValue(selected)
    def isSelected(self): return self["selected"].value()
    def channels(self): return sorted(self._render(self.firstFrame()))
    def firstFrame(self): return self._range()[0]
    def lastFrame(self): return self._range()[1]

    def _range(self):
        upstream = self.input(0)
        return (upstream._range() if upstream is not None
                else (int(_root["first_frame"].value()), int(_root["last_frame"].value())))

    def _render(self, frame):
        """This node's image at ``frame``: {nuke channel name: 2-D float32 plane}."""
        upstream = self.input(0)
        return upstream._render(frame) if upstream is not None else {}


class ArraySource(Node):
    """Test-only source (think Constant with per-frame pixels): set_frames({frame: (H, W, C)}, channel names)."""

    def set_frames(self, frames, channels):
        self._frames = {f: {c: np.asarray(a[..., i], np.float32) for i, c in enumerate(channels)}
                        for f, a in frames.items()}

    def _range(self): return min(self._frames), max(self._frames)
    def _render(self, frame): return dict(self._frames[min(max(frame, min(self._frames)), max(self._frames))])


class Read(Node):
    def _setup(self):
        for knob in (File_Knob("file"), Int_Knob("first"), Int_Knob("last"), Int_Knob("origfirst"),
                     Int_Knob("origlast"), Enumeration_Knob("on_error", "missing frames",
                                                            ["error", "black", "checkerboard", "nearest frame"])):
            self.addKnob(knob)

    def _range(self): return int(self["first"].value()), int(self["last"].value())

    def _render(self, frame):
        import OpenImageIO as oiio

        first, last = self._range()
        path = _frame_path(self["file"].value(), min(max(frame, first), last))
        image = oiio.ImageInput.open(path)
        if image is None:
            raise RuntimeError(f"{self._name}: cannot open {path}")
        try:
            pixels = image.read_image(oiio.FLOAT)
            names = list(image.spec().channelnames)
        finally:
            image.close()
        return {_NUKE_NAMES.get(c, c): pixels[..., i] for i, c in enumerate(names)}


class Input(Node):
    def _setup(self):
        self.addKnob(Int_Knob("number"))
        self._knobs["number"]._value = sum(isinstance(n, Input) for n in self._parent._children)

    def _range(self):
        upstream = self._parent.input(self["number"].value())
        return upstream._range() if upstream is not None else Node._range(self)

    def _render(self, frame):
        upstream = self._parent.input(self["number"].value())
        return upstream._render(frame) if upstream is not None else {}  # Nuke: black, no channels


class Output(Node):
    pass


class Copy(Node):
    """B (input 0) with channel ``from0`` of A (input 1) copied into ``to0``; a missing channel copies as black."""

    def _setup(self):
        self.addKnob(String_Knob("from0", text="rgba.alpha"))
        self.addKnob(String_Knob("to0", text="rgba.alpha"))

    def _render(self, frame):
        b = Node._render(self, frame)
        a = self.input(1)._render(frame) if self.input(1) is not None else {}
        shape = next(iter(b.values())).shape if b else next(iter(a.values())).shape
        b[self["to0"].value()] = a.get(self["from0"].value(), np.zeros(shape, np.float32))
        return b


class Switch(Node):
    def _setup(self): self.addKnob(Int_Knob("which"))
    def _pick(self): return self.input(min(max(int(self["which"].value()), 0), max(len(self._inputs) - 1, 0)))
    def _range(self): return self._pick()._range()
    def _render(self, frame): return self._pick()._render(frame)


class Write(Node):
    def _setup(self):
        for knob in (File_Knob("file"), Enumeration_Knob("file_type", "file type", ["", "exr", "tiff", "png"]),
                     Enumeration_Knob("datatype", "datatype", ["16 bit half", "32 bit float"]),
                     String_Knob("channels", text="rgb"), Boolean_Knob("create_directories"),
                     Enumeration_Knob("metadata", "metadata", ["default metadata", "no metadata", "all metadata"])):
            self.addKnob(knob)


class Group(Node):
    def _setup(self): self._children = []
    def _unique(self, base):
        names = {n._name for n in self._children}
        number = 1
        while f"{base}{number}" in names:
            number += 1
        return f"{base}{number}"

    def begin(self):
        _main_only("Group.begin()")
        _context.append(self)
        return self
    def end(self):
        _main_only("Group.end()")
        _context.remove(self)
    def __enter__(self): return self.begin()
    def __exit__(self, *exc): self.end()
    def nodes(self):
        self._alive("nodes()")
        return list(self._children)
    def node(self, name): return next((n for n in self.nodes() if n._name == name), None)
    def output(self): return next((n for n in self.nodes() if isinstance(n, Output)), None)
    def _range(self): return self.output()._range()
    def _render(self, frame): return self.output()._render(frame) if self.output() is not None else {}


class Root(Group):
    def _setup(self):
        super()._setup()
        for name, value in (("first_frame", 1), ("last_frame", 100)):
            self.addKnob(Int_Knob(name))
            self._knobs[name]._value = value
        self.addKnob(Boolean_Knob("proxy"))


_CLASSES = {cls.__name__: cls for cls in (ArraySource, Read, Input, Output, Copy, Switch, Write, Group)}
_root = Root("Root", None)
_context: list = []


class _Nodes:
    def __getattr__(self, cls):
        def create(**knobs):
            _main_only(f"nuke.nodes.{cls}()")
            return _CLASSES.get(cls, Node)(cls, thisGroup(), **knobs)
        return create


nodes = _Nodes()


def thisGroup(): return _context[-1] if _context else _root
def root(): return _root
def thisNode(): return _this_node[-1] if _this_node else thisGroup()
def createNode(node, args="", inpanel=True): return getattr(nodes, node)()
def allNodes(filter=None, group=None):
    return [n for n in (group or thisGroup()).nodes() if filter is None or n.Class() == filter]


def selectedNode():
    for node in thisGroup().nodes():
        if node.isSelected():
            return node
    raise ValueError("no node selected")


def toNode(name):
    node = _root
    for part in name.split("."):
        node = node.node(part) if isinstance(node, Group) else None
        if node is None:
            return None
    return node


def delete(node):
    _main_only("nuke.delete()")
    node._parent._children.remove(node)
    node._deleted = True


def _frame_path(pattern, frame):
    return re.sub(r"#+", lambda m: f"{frame:0{len(m.group())}d}", pattern)


def execute(nameOrNode, start, end, incr=1, views=None, continueOnError=False):
    """Render a Write node for frames start..end (inclusive): half/float EXR with OpenImageIO."""
    import OpenImageIO as oiio

    _main_only("nuke.execute()")
    write = toNode(nameOrNode) if isinstance(nameOrNode, str) else nameOrNode
    if not isinstance(write, Write) or write["disable"].value() or _root["proxy"].value():
        raise RuntimeError(f"{write.name()} cannot be executed (not an enabled Write, or proxy mode)")
    for frame in range(int(start), int(end) + 1, incr):
        planes = write._render(frame)
        wanted = write["channels"].value()
        names = sorted((c for c in planes if wanted == "all" or c.startswith(wanted + ".")),
                       key=lambda c: (c not in _EXR_NAMES, list(_EXR_NAMES).index(c) if c in _EXR_NAMES else 0, c))
        path = _frame_path(write["file"].value(), frame)
        if write["create_directories"].value():
            os.makedirs(os.path.dirname(path), exist_ok=True)
        if write["file_type"].value() != "exr" or not os.path.isdir(os.path.dirname(path)) or not names:
            raise RuntimeError(f"{write.name()}: cannot write {path}")
        half = write["datatype"].value() == "16 bit half"
        pixels = np.stack([planes[c] for c in names], axis=-1).astype(np.float16 if half else np.float32)
        spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], len(names), "half" if half else "float")
        spec.channelnames = tuple(_EXR_NAMES.get(c, c) for c in names)
        spec.attribute("compression", "zip")
        out = oiio.ImageOutput.create(path)
        if not (out.open(path, spec) and out.write_image(pixels)):
            raise RuntimeError(f"{write.name()}: {out.geterror()}")
        out.close()


class ProgressTask:
    """Usable from any thread, as in Nuke; tests press its cancel button with ``cancel()``."""

    def __init__(self, name):
        self.name, self.messages, self.progress, self._cancelled = name, [], [], False
        progress_tasks.append(self)

    def setMessage(self, message): self.messages.append(message)
    def setProgress(self, value): self.progress.append(int(value))
    def isCancelled(self): return self._cancelled
    def cancel(self): self._cancelled = True


def executeInMainThread(call, args=(), kwargs=None):
    _calls.put((call, tuple(args) if isinstance(args, (tuple, list)) else (args,), kwargs or {}))


def executeInMainThreadWithResult(call, args=(), kwargs=None):
    if threading.current_thread() is threading.main_thread():
        raise RuntimeError("executeInMainThreadWithResult from the main thread hangs Nuke")
    done, box = threading.Event(), []
    executeInMainThread(lambda: (box.append(call(*args, **(kwargs or {}))), done.set()))
    done.wait()
    return box[0]


def pump():
    """Run what other threads queued for the main thread (Nuke's event loop does this)."""
    _main_only("pump()")
    while True:
        try:
            call, args, kwargs = _calls.get_nowait()
        except queue.Empty:
            return
        main_thread_calls.append(getattr(call, "__name__", repr(call)))
        call(*args, **kwargs)


def run_until(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        pump()
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached while pumping the main thread")
        time.sleep(0.02)


def message(text):
    _main_only("nuke.message()")
    messages.append(text)
def tprint(*values, **kwargs): print(*values, **kwargs)


class MenuItem:
    def __init__(self, name, command): self._name, self._command = name, command
    def name(self): return self._name
    def script(self): return self._command if isinstance(self._command, str) else ""

    def invoke(self):
        _main_only("MenuItem.invoke()")
        if callable(self._command):
            return self._command()
        exec(self._command, {"nuke": __import__("nuke")})


class Menu(MenuItem):
    def __init__(self, name):
        super().__init__(name, None)
        self._items = []
    def items(self): return list(self._items)

    def findItem(self, name):
        head, _, rest = name.partition("/")
        item = next((i for i in self._items if i.name() == head), None)
        return item.findItem(rest) if rest and isinstance(item, Menu) else item

    def addMenu(self, name, icon=None, tooltip=None, index=-1):
        existing = self.findItem(name)
        if isinstance(existing, Menu):
            return existing
        self._items.append(Menu(name))
        return self._items[-1]

    def addCommand(self, name, command=None, shortcut="", icon="", tooltip="", index=-1, readonly=False):
        head, _, rest = name.rpartition("/")
        menu = self.addMenu(head) if head else self
        menu._items = [i for i in menu._items if i.name() != rest] + [MenuItem(rest, command)]
        return menu._items[-1]


def menu(name): return _menus.setdefault(name, Menu(name))


def reset():
    """A fresh session: empty script, no menus, nothing queued or recorded."""
    global _root
    _root = Root("Root", None)
    _context.clear()
    _this_node.clear()
    _menus.clear()
    for record in (thread_violations, messages, progress_tasks, main_thread_calls):
        record.clear()
    while not _calls.empty():
        _calls.get_nowait()
