"""Errors the user caused (bad path, unknown revision, broken mbox): one line, exit 2."""


class InputError(Exception):
    """Bad input. ``str(err)`` is the one-line message printed to the user."""


class UsageError(InputError):
    """Bad command-line usage."""
