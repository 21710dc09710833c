"""The ``repo-add``/``repo-remove`` transaction: typed requests, the signature gate, the package scan, the
files-database job, the layout cache; lock, read, apply, write, sign, put in place. May import every layer
below it (``formats``, ``db``, ``archive``, ``trust``, ``fs``, ``errors``, ``events``, ``limits``), never ``cli``."""
