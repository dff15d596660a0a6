# InternalInpaint for Nuke: the node in the Nodes toolbar (a menu of its own) and in the Tab menu.
import nuke

nuke.menu("Nodes").addMenu("InternalInpaint").addCommand(
    "InternalInpaint", "import internal_inpaint_nuke\ninternal_inpaint_nuke.create_node()",
    tooltip="Remove what the matte covers: trains on the shot on an InternalInpaint server.")
