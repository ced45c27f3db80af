"""The command line: arguments → pipeline → reporter → exit code."""

from .main import main

__all__ = ["main"]
