"""A Sequentum-compatible local HTTP server with demo data, for the demo and the tests."""

from __future__ import annotations

from tap_sequentum.sandbox.api import DEFAULT_API_KEY, NOBILLING_API_KEY, READONLY_API_KEY
from tap_sequentum.sandbox.app import Sandbox
from tap_sequentum.sandbox.messages import RequestLog

__all__ = ["DEFAULT_API_KEY", "NOBILLING_API_KEY", "READONLY_API_KEY", "RequestLog", "Sandbox"]
