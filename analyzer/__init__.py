"""rmaplint: static analysis of the Linux kernel rmap locking rules."""

__version__ = "0.1.0"
