"""The command line, and the only importer of typer and rich: the commands (``app``), how the console
scripts start (``launch``), messages (``output``), the ``--json`` report (``report``) and the one table
from failures to messages and exit statuses (``failures``). Imports any layer; nothing imports it."""
