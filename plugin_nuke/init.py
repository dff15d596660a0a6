# InternalInpaint for Nuke: runs when this folder is on NUKE_PATH (Nuke puts the folder on sys.path itself).
# The plugin needs the client distribution in Nuke's Python, installed once with one pip command
# (README.md): without it, say so at startup; the menu and the node's buttons say it again.
import internal_inpaint_nuke

if not internal_inpaint_nuke.client_installed():
    print(f"InternalInpaint: {internal_inpaint_nuke.missing_client_message()}")
