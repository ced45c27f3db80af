"""What ``rmaplint hook install`` and ``uninstall`` say they did, one line per hook."""

from __future__ import annotations

from ..workflow.results import HookAction, HookChange


def hook_change_line(c: HookChange) -> str:
    if c.action == HookAction.INSTALLED:
        return f"installed {c.name} hook: {c.path}" + (
            f" (the previous hook is kept as {c.backup.name})" if c.backup is not None else "")
    if c.action == HookAction.ABSENT:
        return f"no {c.name} hook in {c.path.parent}"
    if c.action == HookAction.FOREIGN:
        return f"{c.path} is not an rmaplint hook: left alone"
    if c.backup is not None:
        return (f"removed the rmaplint {c.name} hook; restored {c.path.name} from "
                f"{c.backup.name}")
    return f"removed the rmaplint {c.name} hook: {c.path}"

