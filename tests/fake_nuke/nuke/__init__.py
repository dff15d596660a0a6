"""A small stand-in for Nuke's ``nuke`` module, so the plugin's tests run without the host.

Same names and signatures as Nuke's Python API for what the plugin uses (tests/plugin_nuke/test_host_api.py checks
every public name here against the ``types-nuke`` stubs); frame ranges are inclusive. Images flow for real: sources
hold numpy planes per frame and view (Nuke channel names such as ``rgba.red``), Read reads EXR files,
Copy/Switch/JoinViews/Input/Output route them, and ``execute(write, first, last)`` writes EXR files with OpenImageIO.
Like Nuke, the API belongs to the main thread: touching a knob or a node from another thread is recorded in
``thread_violations`` and raises. ``executeInMainThread`` queues the call; tests run the queue with ``pump()`` /
``run_until()``, standing in for Nuke's event loop.

The built-in knobs of the node classes listed in tests/host_api/nuke.json are only those the table lists (each
entry names the page it comes from): the fake refuses to create any other, so the plugin cannot come to rely on a
knob nobody has seen documented or recorded. Every knob access is logged in ``knob_log``.

Each rule below cites where it comes from. Abbreviations:
  [basics]   https://learn.foundry.com/nuke/developers/151/pythondevguide/basics.html
  [dag]      https://learn.foundry.com/nuke/developers/132/pythondevguide/dag.html
  [eim]      https://learn.foundry.com/nuke/developers/140/pythondevguide/_modules/nuke_internal/executeInMain.html
             (Nuke's nuke_internal/executeInMain.py)
  [stereo]   https://learn.foundry.com/nuke/developers/120/pythonreference/nukescripts.stereo-pysrc.html
  [render]   https://learn.foundry.com/nuke/content/comp_environment/stereoscopic_films/rendering_stereo_images.html
  [deadline] aws-deadline/deadline-cloud-for-nuke: src/deadline/nuke_adaptor/NukeClient/nuke_handler.py
  [enum]     https://learn.foundry.com/nuke/developers/120/pythonreference/nuke.Enumeration_Knob-class.html
  [join]     https://learn.foundry.com/ja/nuke/content/reference_guide/views_nodes/joinviews.html
  [stubs]    types-nuke 13.2.8.0 (https://github.com/LumaPictures/cg-stubs), nuke-stubs/_nuke.pyi
"""

from __future__ import annotations

import json
import os
import queue
import re
import threading
import time
from pathlib import Path

import numpy as np

GUI = True
NUKE_VERSION_MAJOR = 15
NUKE_VERSION_STRING = "15.1v5"
DISABLED, NO_ANIMATION, INVISIBLE, STARTLINE, READ_ONLY = 0x80, 0x100, 0x400, 0x1000, 0x10000000

# Names that Nuke does not have: the tests' controls over the stand-in (checked by test_host_api.py).
TEST_HELPERS = frozenset({
    "TEST_HELPERS", "ArraySource", "thread_violations", "messages", "progress_tasks", "main_thread_calls",
    "panels_shown", "knob_log", "pump", "run_until", "reset", "ProgressTask.press_cancel",
})

_TABLE = json.loads((Path(__file__).resolve().parents[2] / "host_api" / "nuke.json").read_text())["nodes"]
_EXR_NAMES = {"rgba.red": "R", "rgba.green": "G", "rgba.blue": "B", "rgba.alpha": "A"}
_NUKE_NAMES = {v: k for k, v in _EXR_NAMES.items()}
# Node size in the Node Graph at zoom 1 (screenWidth()/screenHeight(), [dag]); the fake's own numbers.
_NODE_W, _NODE_H, _GAP = 80, 18, 24
thread_violations: list = []
messages: list = []
progress_tasks: list = []
main_thread_calls: list = []
panels_shown: list = []
knob_log: set = set()  # (node class, knob name, "builtin" | "user") for every knob looked up or set by name
_calls: "queue.Queue" = queue.Queue()
_this_node: list = []
_menus: dict = {}


def _main_only(what: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        thread_violations.append((what, threading.current_thread().name))
        raise RuntimeError(f"{what} used from thread {threading.current_thread().name}; Nuke's API is main-thread only")


# -- knobs ---------------------------------------------------------------------------------------------------------

class Knob:
    def __init__(self, name, label=None, value=None):
        self._name, self._label, self._value, self._flags, self._tooltip = name, label or name, value, 0, ""
        self._node = None

    def Class(self): return type(self).__name__.lstrip("_")
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
    """value() is the current item's name; setValue takes a name or an index; setValues replaces the list ([enum])."""

    def __init__(self, name, label, items):
        items = list(items)
        super().__init__(name, label, items[0] if items else "")
        self._items = items

    def values(self): return list(self._items)

    def setValues(self, items):
        _main_only(f"knob {self._name}.setValues()")
        self._items = list(items)
        if self._value not in self._items:
            self._value = self._items[0] if self._items else ""

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


class MultiView_Knob(Knob):
    """A Write's ``views``: a space-separated list of the script's view names ([deadline]: value().split(" ")).

    A name that is not one of the script's views is refused, so a render cannot silently skip the view asked for.
    """

    def _coerce(self, value):
        names = value.split() if isinstance(value, str) else list(value)
        unknown = [n for n in names if n not in views()]
        if unknown:
            raise ValueError(f"{' '.join(unknown)} is not a view of this script ({' '.join(views())})")
        return " ".join(names)


class _ScriptViews(Knob):
    """Root's ``views``: one "name #colour" line per view, set with fromScript ([stereo])."""

    def fromScript(self, script):
        _main_only("knob views.fromScript()")
        lines = [line.split()[0] for line in script.splitlines() if line.strip()]
        if not lines:
            raise ValueError("a script has at least one view")
        self._value = "\n".join(script.strip().splitlines())
        self._names = lines

    def _coerce(self, value):
        self.fromScript(value)
        return self._value


class _NameKnob(String_Knob):
    """Every node's ``name`` knob, which is its name()."""

    def value(self): return self._node.name()

    def setValue(self, value):
        self._node.setName(str(value))
        return True


# -- nodes ---------------------------------------------------------------------------------------------------------

class Node:
    def __init__(self, cls, parent, **knobs):
        self._class, self._parent, self._inputs, self._knobs, self._deleted = cls, parent, [], {}, False
        self._user_knobs: set = set()
        self._name = parent._unique(cls) if parent is not None else "root"
        self._builtin(_NameKnob("name"))
        if parent is not None:  # Root is not in the Node Graph: no position, no selection
            self._builtin(Int_Knob("xpos"), Int_Knob("ypos"), Boolean_Knob("selected"))
        self._setup()
        if parent is not None:
            parent._children.append(self)
        for key, value in knobs.items():
            self[key].setValue(value)

    def _setup(self): pass

    def _builtin(self, *knobs):
        """The class's own knobs: for a class in the host table, only those it lists (see the module docstring)."""
        listed = _TABLE.get(self._class, {}).get("knobs")
        for knob in knobs:
            if listed is not None and knob.name() not in listed:
                raise AssertionError(f"fake {self._class} knob {knob.name()!r} is not in tests/host_api/nuke.json: "
                                     "add it there with its source, or do not model it")
            knob._node = self
            self._knobs[knob.name()] = knob

    def _alive(self, what):
        _main_only(f"{self._name}.{what}")
        if self._deleted:
            raise ValueError("A PythonObject is not attached to a node")

    def _log(self, name):
        if name in self._knobs:
            knob_log.add((self._class, name, "user" if name in self._user_knobs else "builtin"))

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
        self._log(name)
        return self._knobs.get(name)
    def addKnob(self, knob):
        """A user knob (the plugin's own): not part of the host table."""
        knob._node = self
        self._knobs[knob.name()] = knob
        self._user_knobs.add(knob.name())

    def __getitem__(self, name):
        self._alive(f"[{name!r}]")
        if name not in self._knobs:
            raise NameError(f"knob {name} does not exist")
        self._log(name)
        return self._knobs[name]

    def input(self, i):
        self._alive("input()")
        return self._inputs[i] if i < len(self._inputs) else None

    def inputs(self):
        self._alive("inputs()")
        return max([i + 1 for i, n in enumerate(self._inputs) if n is not None], default=0)

    def maximumInputs(self): return 1

    def setInput(self, i, node):
        """False, and nothing connected, past the node's inputs ([stubs]: setInput -> bool)."""
        self._alive("setInput()")
        if i >= self.maximumInputs():
            return False
        self._inputs.extend([None] * (i + 1 - len(self._inputs)))
        self._inputs[i] = node
        return True

    def setSelected(self, selected): self._knobs["selected"].setValue(selected)
    def isSelected(self): return self._knobs["selected"].value()
    def xpos(self): return self._knobs["xpos"].value()
    def ypos(self): return self._knobs["ypos"].value()
    def setXpos(self, x): self._knobs["xpos"].setValue(x)
    def setYpos(self, y): self._knobs["ypos"].setValue(y)
    def setXYpos(self, x, y):
        self.setXpos(x)
        self.setYpos(y)
    def screenWidth(self): return _NODE_W
    def screenHeight(self): return _NODE_H

    def autoplace(self):
        """'Automatically place nodes, so they do not overlap' ([dag]): below input 0, else in free space."""
        self._alive("autoplace()")
        upstream = self.input(0)
        start = (upstream.xpos(), upstream.ypos() + _NODE_H + _GAP) if upstream is not None else (0, 0)
        _place(self, *start)

    def showControlPanel(self, forceFloat=False):
        _main_only("showControlPanel()")
        panels_shown.append(self)

    def channels(self): return sorted(self._render(self.firstFrame(), views()[0]))
    def firstFrame(self): return self._range()[0]
    def lastFrame(self): return self._range()[1]

    def _range(self):
        upstream = self.input(0)
        return (upstream._range() if upstream is not None
                else (int(_root["first_frame"].value()), int(_root["last_frame"].value())))

    def _render(self, frame, view):
        """This node's image at ``frame`` in ``view``: {nuke channel name: 2-D float32 plane}."""
        upstream = self.input(0)
        return upstream._render(frame, view) if upstream is not None else {}


class ArraySource(Node):
    """Test-only source (think Constant with per-frame pixels): set_frames({frame: (H, W, C)}, channels[, view])."""

    def _setup(self): self._frames = {}
    def maximumInputs(self): return 0

    def set_frames(self, frames, channels, view=None):
        """The pixels of ``view`` (None: of every view without pixels of its own)."""
        self._frames[view] = {f: {c: np.asarray(a[..., i], np.float32) for i, c in enumerate(channels)}
                              for f, a in frames.items()}

    def _range(self):
        frames = next(iter(self._frames.values()))
        return min(frames), max(frames)

    def _render(self, frame, view):
        frames = self._frames.get(view, self._frames.get(None))
        if frames is None:
            raise RuntimeError(f"{self._name} has no pixels for view {view}")
        return dict(frames[min(max(frame, min(frames)), max(frames))])


class _Read(Node):
    def _setup(self):
        self._builtin(File_Knob("file"), Int_Knob("first"), Int_Knob("last"), Int_Knob("origfirst"),
                      Int_Knob("origlast"),
                      Enumeration_Knob("on_error", "missing frames",
                                       ["error", "black", "checkerboard", "nearest frame"]))

    def maximumInputs(self): return 0
    def _range(self): return int(self["first"].value()), int(self["last"].value())

    def _render(self, frame, view):
        import OpenImageIO as oiio

        first, last = self._range()
        path = _frame_path(self._knobs["file"].value(), min(max(frame, first), last), view)
        image = oiio.ImageInput.open(path)
        if image is None:
            raise RuntimeError(f"{self._name}: cannot open {path}")
        try:
            _seek_view(image, view)
            pixels = image.read_image(oiio.FLOAT)
            names = list(image.spec().channelnames)
        finally:
            image.close()
        return {_NUKE_NAMES.get(c, c): pixels[..., i] for i, c in enumerate(names)}


def _seek_view(image, view):
    """A multi-view EXR (one part per view): the part of ``view``; a single-view file is the same in every view."""
    index = 0
    while image.seek_subimage(index, 0):
        if image.spec().get_string_attribute("view") == view:
            return
        index += 1
    image.seek_subimage(0, 0)


class _Input(Node):
    def maximumInputs(self): return 0
    def _number(self): return [n for n in self._parent._children if isinstance(n, _Input)].index(self)

    def _range(self):
        upstream = self._parent.input(self._number())
        return upstream._range() if upstream is not None else Node._range(self)

    def _render(self, frame, view):
        upstream = self._parent.input(self._number())
        return upstream._render(frame, view) if upstream is not None else {}  # Nuke: black, no channels


class _Output(Node):
    pass


class _Copy(Node):
    """B (input 0) with channel ``from0`` of A (input 1) copied into ``to0``; a missing channel copies as black.

    "Replaces channels in the B input with channels from the A input"
    (https://learn.foundry.com/nuke/content/reference_guide/channel_nodes/copy.html): the image is B's, so an A of
    another size is cut to B's (or padded with black), from the bottom-left corner. The fake's own simplification:
    Nuke's bounding-box handling is not modelled.
    """

    def _setup(self):
        self._builtin(String_Knob("from0", text="rgba.alpha"), String_Knob("to0", text="rgba.alpha"))

    def maximumInputs(self): return 2

    def _render(self, frame, view):
        b = Node._render(self, frame, view)
        a = self.input(1)._render(frame, view) if self.input(1) is not None else {}
        shape = next(iter(b.values())).shape if b else next(iter(a.values())).shape
        plane = np.zeros(shape, np.float32)
        copied = a.get(self["from0"].value())
        if copied is not None:
            rows, cols = min(shape[0], copied.shape[0]), min(shape[1], copied.shape[1])
            plane[shape[0] - rows:, :cols] = copied[copied.shape[0] - rows:, :cols]  # rows run top to bottom
        b[self["to0"].value()] = plane
        return b


class _Switch(Node):
    def _setup(self): self._builtin(Int_Knob("which"))
    def maximumInputs(self): return 10_000
    def _pick(self): return self.input(min(max(int(self["which"].value()), 0), max(len(self._inputs) - 1, 0)))
    def _range(self): return self._pick()._range()
    def _render(self, frame, view): return self._pick()._render(frame, view)


class _JoinViews(Node):
    """One input per view of the script, in nuke.views() order ([join]); each view shows its own input."""

    def maximumInputs(self): return len(views())
    def _range(self): return next(n for n in self._inputs if n is not None)._range()

    def _render(self, frame, view):
        upstream = self.input(views().index(view))
        return upstream._render(frame, view) if upstream is not None else {}


class _Write(Node):
    def _setup(self):
        self._builtin(Boolean_Knob("disable"), File_Knob("file"),
                      Enumeration_Knob("file_type", "file type", ["", "exr", "tiff", "png"]),
                      Enumeration_Knob("datatype", "datatype", ["16 bit half", "32 bit float"]),
                      String_Knob("channels", text="rgb"), Boolean_Knob("create_directories"),
                      Enumeration_Knob("metadata", "metadata", ["no metadata", "default metadata",
                                                                "default metadata and exr/*",
                                                                "all metadata except input/*", "all metadata"]),
                      MultiView_Knob("views", value=" ".join(views())))


class Group(Node):
    def _setup(self): self._children = []
    def _unique(self, base):
        names = {n._name for n in self._children}
        number = 1
        while f"{base}{number}" in names:
            number += 1
        return f"{base}{number}"

    def maximumInputs(self): return sum(isinstance(n, _Input) for n in self._children)

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
    def output(self): return next((n for n in self.nodes() if isinstance(n, _Output)), None)
    def _range(self): return self.output()._range()
    def _render(self, frame, view): return self.output()._render(frame, view) if self.output() is not None else {}


class Root(Group):
    def _setup(self):
        super()._setup()
        first, last, proxy, script_views = Int_Knob("first_frame"), Int_Knob("last_frame"), Boolean_Knob("proxy"), \
            _ScriptViews("views")
        first._value, last._value = 1, 100  # the Root reference's defaults (tests/host_api/nuke.json)
        script_views._value, script_views._names = "main #ffffff", ["main"]  # mono, as nukescripts.stereo writes it
        self._builtin(first, last, proxy, script_views)


_CLASSES = {"ArraySource": ArraySource, "Read": _Read, "Input": _Input, "Output": _Output, "Copy": _Copy,
            "Switch": _Switch, "Write": _Write, "Group": Group, "JoinViews": _JoinViews}
_root = Root("Root", None)
_context: list = []


class _Nodes:
    """nuke.nodes.X(knob=value, ...): a node with no placement, connection or selection of its own ([basics]
    contrasts it with createNode, which does those)."""

    def __getattr__(self, cls):
        def create(**knobs):
            _main_only(f"nuke.nodes.{cls}()")
            if cls not in _CLASSES:
                raise AssertionError(f"the fake does not model node class {cls}: add it to tests/fake_nuke")
            return _CLASSES[cls](cls, thisGroup(), **knobs)
        return create


nodes = _Nodes()


def thisGroup(): return _context[-1] if _context else _root
def root(): return _root
def thisNode(): return _this_node[-1] if _this_node else thisGroup()
def allNodes(filter=None, group=None):
    return [n for n in (group or thisGroup()).nodes() if filter is None or n.Class() == filter]


def views():
    """The script's view names, in order ([stereo]: nuke.views(); [deadline]: nuke.views() is a list of names)."""
    return _script_views()


def _script_views():
    return list(_root._knobs["views"]._names)


def addView(s):
    script = _root._knobs["views"]
    script.fromScript(f"{script._value}\n{s}")


def createNode(node, knobs="", inpanel=True):
    """As the Nodes toolbar does ([basics]): the new node is connected to the selected node and opens its panel.

    Also modelled: it is placed below the selected node without overlapping others ([dag]: autoplace, xpos/ypos),
    and it becomes the only selected node, so the next created node follows it. The selection rule is not stated on
    the pages read: plugin_nuke/record_host.py does not record it either (see its docstring).
    """
    if knobs:
        raise AssertionError("the fake does not parse createNode's TCL knob list: set the knobs with Python")
    group, upstream = thisGroup(), _selected(thisGroup())
    new = getattr(nodes, node)()
    if upstream is not None and new.maximumInputs() > 0:
        new.setInput(0, upstream)
    start = (upstream.xpos(), upstream.ypos() + _NODE_H + _GAP) if upstream is not None else (0, 0)
    _place(new, *start)
    for other in group.nodes():
        other.setSelected(other is new)
    if inpanel and GUI:
        new.showControlPanel()
    return new


def _place(node, x, y):
    """``node`` at (x, y), moved down until it overlaps no other node of its group."""
    others = [n for n in node._parent._children if n is not node]
    while any(abs(n.xpos() - x) < _NODE_W and abs(n.ypos() - y) < _NODE_H + _GAP // 2 for n in others):
        y += _NODE_H + _GAP
    node.setXYpos(x, y)


def _selected(group):
    return next((n for n in group.nodes() if n.isSelected()), None)


def selectedNode():
    node = _selected(thisGroup())
    if node is None:
        raise ValueError("no node selected")
    return node


def selectedNodes(filter=None):
    return [n for n in thisGroup().nodes() if n.isSelected() and (filter is None or n.Class() == filter)]


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


def _frame_path(pattern, frame, view=None):
    """#### is the frame; %V / %v the view's name / first letter ([render])."""
    path = re.sub(r"#+", lambda m: f"{frame:0{len(m.group())}d}", pattern)
    return path if view is None else path.replace("%V", view).replace("%v", view[:1])


def execute(nameOrNode, start, end, incr=1, views=None, continueOnError=False):
    """Render a Write for frames start..end (inclusive) and the views asked for ([deadline]: execute(node, first,
    last, 1, views=[...])) that its ``views`` knob also lists ([render]). Several views without %V in the file name
    go into one EXR, a part per view, as Nuke writes stereo EXRs ([render])."""
    _main_only("nuke.execute()")
    write = toNode(nameOrNode) if isinstance(nameOrNode, str) else nameOrNode
    if not isinstance(write, _Write) or write["disable"].value() or _root["proxy"].value():
        raise RuntimeError(f"{write.name()} cannot be executed (not an enabled Write, or proxy mode)")
    wanted = _script_views() if views is None else list(views)
    unknown = [v for v in wanted if v not in _script_views()]
    if unknown:
        raise RuntimeError(f"views {unknown} are not in this script")
    chosen = [v for v in write["views"].value().split() if v in wanted]
    if not chosen:
        raise RuntimeError(f"{write.name()}: none of the views {wanted} is in its views knob")
    for frame in range(int(start), int(end) + 1, incr):
        pattern = write["file"].value()
        if "%V" in pattern or "%v" in pattern:
            for view in chosen:
                _write_exr(write, _frame_path(pattern, frame, view), frame, [view])
        else:
            _write_exr(write, _frame_path(pattern, frame), frame, chosen)


def _write_exr(write, path, frame, chosen):
    import OpenImageIO as oiio

    if write["create_directories"].value():
        os.makedirs(os.path.dirname(path), exist_ok=True)
    if write["file_type"].value() != "exr" or not os.path.isdir(os.path.dirname(path)):
        raise RuntimeError(f"{write.name()}: cannot write {path}")
    half = write["datatype"].value() == "16 bit half"
    parts = [(view, *_planes(write, frame, view)) for view in chosen]
    specs = []
    for view, names, pixels in parts:
        spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], len(names), "half" if half else "float")
        spec.channelnames = tuple(_EXR_NAMES.get(c, c) for c in names)
        spec.attribute("compression", "zip")
        if len(parts) > 1:
            spec.attribute("view", view)
        specs.append(spec)
    out = oiio.ImageOutput.create(path)
    ok = out.open(path, specs) if len(specs) > 1 else out.open(path, specs[0])
    for index, (_view, _names, pixels) in enumerate(parts):
        if index:
            ok = ok and out.open(path, specs[index], "AppendSubimage")
        ok = ok and out.write_image(pixels.astype(np.float16 if half else np.float32))
    if not ok:
        raise RuntimeError(f"{write.name()}: {out.geterror()}")
    out.close()


def _planes(write, frame, view):
    planes = write._render(frame, view)
    wanted = write["channels"].value()
    names = sorted((c for c in planes if wanted == "all" or c.startswith(wanted + ".")),
                   key=lambda c: (c not in _EXR_NAMES, list(_EXR_NAMES).index(c) if c in _EXR_NAMES else 0, c))
    if not names:
        raise RuntimeError(f"{write.name()}: no channels to write in view {view}")
    return names, np.stack([planes[c] for c in names], axis=-1)


class ProgressTask:
    """Usable from any thread, as in Nuke; tests press its cancel button with ``press_cancel()``."""

    def __init__(self, name):
        self.name, self.messages, self.progress, self._cancelled = name, [], [], False
        progress_tasks.append(self)

    def setMessage(self, message): self.messages.append(message)
    def setProgress(self, value): self.progress.append(int(value))
    def isCancelled(self): return self._cancelled
    def press_cancel(self): self._cancelled = True


def _as_args(args):
    """executeInMain.py: ``if type(args) != tuple: args = (args,)`` ([eim]) - a list is one argument, not many."""
    return args if type(args) is tuple else (args,)


def executeInMainThread(call, args=(), kwargs={}):  # noqa: B006 - Nuke's own signature ([eim]); never mutated
    _calls.put((call, _as_args(args), kwargs))


def executeInMainThreadWithResult(call, args=(), kwargs={}):  # noqa: B006 - Nuke's own signature ([eim])
    if threading.current_thread() is threading.main_thread():
        raise RuntimeError("executeInMainThreadWithResult from the main thread hangs Nuke")
    done, box = threading.Event(), []
    arguments = _as_args(args)
    executeInMainThread(lambda: (box.append(call(*arguments, **kwargs)), done.set()))
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
    """A fresh session: empty mono script, no menus, nothing queued or recorded."""
    global _root
    _root = Root("Root", None)
    _context.clear()
    _this_node.clear()
    _menus.clear()
    for record in (thread_violations, messages, progress_tasks, main_thread_calls, panels_shown):
        record.clear()
    knob_log.clear()
    while not _calls.empty():
        _calls.get_nowait()
