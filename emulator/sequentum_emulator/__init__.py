"""A Sequentum-compatible local HTTP server with demo data, for the demo and the tests."""

from __future__ import annotations

from sequentum_emulator.api import DEFAULT_API_KEY, NOBILLING_API_KEY, READONLY_API_KEY
from sequentum_emulator.app import Sandbox
from sequentum_emulator.messages import RequestLog

__all__ = ["DEFAULT_API_KEY", "NOBILLING_API_KEY", "READONLY_API_KEY", "RequestLog", "Sandbox"]
