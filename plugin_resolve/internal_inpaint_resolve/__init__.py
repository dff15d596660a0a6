"""InternalInpaint's DaVinci Resolve / Fusion plugin: ``job`` (server side, host-independent),
``comp_io`` (the Fusion comp), ``dialog`` (the UIManager window). No torch, no image libraries."""
