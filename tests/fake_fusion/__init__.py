"""A small, faithful stand-in for the parts of Fusion's scripting API the Resolve plugin uses."""

from .comp import FakeComp, FakeTool, RenderFailed, read_rgba, split_sequence_name
from .ui import FakeBMD, FakeDispatcher, FakeFusion, FakeUIManager, FakeWindow

__all__ = ["FakeBMD", "FakeComp", "FakeDispatcher", "FakeFusion", "FakeTool", "FakeUIManager", "FakeWindow",
           "RenderFailed", "read_rgba", "split_sequence_name"]
