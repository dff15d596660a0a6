"""InternalInpaint's DaVinci Resolve / Fusion plugin: ``job`` (server side, host-independent),
``comp_io`` (the Fusion comp), ``dialog`` (the UIManager window). No torch, no image libraries.

Installed with the client distribution (client/), so that plugin_resolve/InternalInpaint.py, the script
in Fusion's Scripts/Comp folder, only imports it."""
