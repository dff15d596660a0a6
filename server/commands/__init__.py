"""The `internal-inpaint` command line: ``cli`` builds the parser, one module per command (``run``, ``plan``,
``assemble``, ``serve``, ``demo``); ``console`` is what they show (progress, messages, exit codes) and
``shot_options`` the options that describe a shot, shared by ``run`` and ``plan``."""
