"""pysequoia, imported the one safe way.

With ``RUST_BACKTRACE`` set in the environment every failed verification
captures a Rust backtrace and costs about three times as much, so it is turned
off before the extension module loads (it is read lazily, so it stays off).
"""

from __future__ import annotations

import os

os.environ["RUST_BACKTRACE"] = "0"

import pysequoia
import pysequoia.packet

__all__ = ["pysequoia"]
