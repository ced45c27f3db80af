"""Patch series as mail, and applying them without a checkout.

**Reading.** An mbox (what ``git format-patch --stdout``, ``b4 am`` and lore give) is read
with the standard library's :mod:`mailbox` and :mod:`email`: the cover letter
(``[PATCH 0/N]``, or a message without a diff) and replies (``Re:``) are skipped, each patch
keeps its whole subject prefix (``[PATCH v2 1/3]``, ``[RFC PATCH 2/5]``), its Message-Id,
From, To and Cc, so a reply can be threaded under it. One message without the ``From ``
separator line (what b4 pipes to a check command) is read as a series of one.

**Applying.** Each patch is applied to a *temporary index*, never to a work tree::

    GIT_INDEX_FILE=<tmp>/index git read-tree <parent>
    GIT_INDEX_FILE=<tmp>/index git apply --cached --3way <patch>
    GIT_INDEX_FILE=<tmp>/index git write-tree
    git commit-tree <tree> -p <parent>        # author, date and message from the mail

The commit objects (and the trees and blobs of the patched files) go into the repository's
object database, unreferenced: ``git gc`` collects them. Nothing else of the repository is
written: no ref, no reflog, not the index, not the work tree, not the stash, not the config,
and no hook runs (``git apply`` and ``commit-tree`` run none). The temporary folder is
removed on every exit (an error, Ctrl-C, SIGTERM through the CLI's handler); if the process
is killed outright, it is only a file in ``$TMPDIR``. Applying costs what the patch touches,
not the size of the tree (``git worktree add`` of a full kernel tree takes about a minute).

The committer of each commit is its author, at the author's date: the same series on the
same base gives the same commits, and so the same report, on every run.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import mailbox
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..source.reader import git_env
from .results import ApplyFailure, PatchMail

# no hooks, a fixed identity, and no automatic gc/maintenance started in the user's repository
GIT = ["git", "-c", "core.hooksPath=/dev/null", "-c", "user.name=rmaplint",
       "-c", "user.email=rmaplint@localhost", "-c", "gc.auto=0",
       "-c", "maintenance.auto=false"]

_PREFIX = re.compile(r"^\s*((?:\[[^\]]*\]\s*)+)(.*)$", re.S)
_NUMBER = re.compile(r"(?<![\w.])(\d+)/(\d+)(?![\w.])")
_REPLY = re.compile(r"^\s*(re|fwd?|aw|sv)\s*:", re.I)
_DIFF_FILE = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.M)


def _header(msg, name: str) -> str:
    v = msg.get(name)
    return " ".join(str(v).split()) if v is not None else ""


def _text_part(msg) -> str:
    """The message text holding the patch (the first text part with a diff)."""
    parts = [p for p in msg.walk() if not p.is_multipart()] if msg.is_multipart() else [msg]
    texts = []
    for part in parts:
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/x-patch", "text/x-diff", "application/x-patch"):
            continue
        data = part.get_payload(decode=True)
        if data is None:
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            texts.append(data.decode(charset, "surrogateescape"))
        except LookupError:
            texts.append(data.decode("utf-8", "surrogateescape"))
    for t in texts:
        if "diff --git " in t:
            return t
    return texts[0] if texts else ""


def _split_subject(subject: str) -> tuple[str, str, int | None, int | None]:
    m = _PREFIX.match(subject)
    if not m:
        return "", subject.strip(), None, None
    brackets = re.findall(r"\[([^\]]*)\]", m.group(1))
    prefix = " ".join(b.strip() for b in brackets)
    n = _NUMBER.search(prefix)
    return (prefix, m.group(2).strip(), int(n.group(1)) if n else None,
            int(n.group(2)) if n else None)


def _from_message(msg, position: int) -> PatchMail | None:
    """The patch of one message; None for a cover letter, a reply or a message without a
    diff."""
    subject = _header(msg, "Subject")
    if _REPLY.match(subject):
        return None
    prefix, title, number, total = _split_subject(subject)
    if number == 0:
        return None  # the cover letter
    text = _text_part(msg).replace("\r\n", "\n")
    at = text.find("diff --git ") if text.startswith("diff --git ") else \
        text.find("\ndiff --git ") + 1
    if at <= 0 and not text.startswith("diff --git "):
        return None
    head, diff = text[:at], text[at:]
    author = _header(msg, "From")
    body = head.lstrip("\n")
    # an in-body From: (and Date:, Subject:) line, as git format-patch writes for another
    # author, and as git am reads it
    while True:
        m = re.match(r"^(From|Date|Subject): *(.*)\n", body)
        if not m:
            break
        if m.group(1) == "From":
            author = m.group(2).strip()
        elif m.group(1) == "Subject":
            title = _split_subject(m.group(2).strip())[1]
        body = body[m.end():]
    body = body.lstrip("\n")
    cut = re.search(r"^---\s*$", body, re.M)
    message = (body[:cut.start()] if cut else body).rstrip() + "\n"
    diff = diff.split("\n-- \n", 1)[0].rstrip("\n") + "\n"  # the signature is no hunk
    files: list[str] = []
    for a, b in _DIFF_FILE.findall(diff):
        for p in (a, b):
            if p not in files:
                files.append(p)
    return PatchMail(position, number, total, subject, prefix, title, author,
                     _header(msg, "Date"), _header(msg, "Message-Id"), _header(msg, "To"),
                     _header(msg, "Cc"), _header(msg, "References"), message, diff,
                     tuple(files))


def read_series_bytes(data: bytes, name: str = "stdin") -> list[PatchMail]:
    """The patches of an mbox or of one message, in series order. InputError when there is
    none."""
    if not data.strip():
        raise InputError(f"{name}: empty series (no patches)")
    if b"diff --git " not in data:
        raise InputError(f"{name}: not an mbox of patches (no 'diff --git' found)")
    stripped = data.lstrip(b"\r\n")
    if stripped.startswith(b"From "):
        with tempfile.TemporaryDirectory(prefix="rmaplint-mbox-") as tmp:
            path = Path(tmp) / "series.mbox"
            path.write_bytes(stripped)
            box = mailbox.mbox(str(path), factory=None, create=False)
            try:
                messages = [email.message_from_bytes(m.as_bytes(), policy=email.policy.compat32)
                            for m in box]
            finally:
                box.close()
    else:
        head = stripped.split(b"\n\n", 1)[0]
        if not re.search(rb"^(From|Subject):", head, re.M | re.I):
            raise InputError(f"{name}: not an mbox of patches (no 'From ' or 'Subject:' "
                             "header)")
        messages = [email.message_from_bytes(stripped, policy=email.policy.compat32)]
    patches = [p for p in (_from_message(m, 0) for m in messages) if p is not None]
    if not patches:
        raise InputError(f"{name}: no patch in it (only a cover letter or replies)")
    if all(p.number is not None for p in patches):
        patches.sort(key=lambda p: p.number or 0)  # `or 0` for mypy: none is None here
    out = []
    for i, p in enumerate(patches, 1):
        out.append(PatchMail(i, *[getattr(p, f) for f in PatchMail.__dataclass_fields__
                                  if f != "position"]))
    return out


def read_series(path: Path) -> list[PatchMail]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    return read_series_bytes(data, str(path))


# --------------------------------------------------------------------------- applying


def _git(repo: Path, args: list[str], env: dict, input: bytes | None = None
         ) -> subprocess.CompletedProcess:
    return subprocess.run([*GIT, *args], cwd=repo, env=env, input=input, capture_output=True)


def _err(out: subprocess.CompletedProcess) -> str:
    return out.stderr.decode("utf-8", "replace")


_APPLY_FILE = (re.compile(r"^error: patch failed: (\S+?):\d+$", re.M),
               re.compile(r"^Applied patch to '(.+?)' with conflicts", re.M),
               re.compile(r"^error: (\S+?): (?:does not exist in index|patch does not apply|"
                          r"already exists in index)", re.M))


def _ident(author: str) -> tuple[str, str]:
    name, mail = email.utils.parseaddr(author)
    if not mail:
        return (author.strip() or "unknown", "unknown@localhost")
    return (name or mail.split("@")[0], mail)


@dataclass
class Applied:
    commits: list[str] = field(default_factory=list)
    failure: ApplyFailure | None = None
    unchanged: list[int] = field(default_factory=list)  # positions that changed nothing


def apply_series(repo: Path, base: str, patches: list[PatchMail], progress=None) -> Applied:
    """Apply ``patches`` on commit ``base`` through a temporary index; one commit object
    each. Stops at the first patch that does not apply (its ApplyFailure)."""
    res = Applied()
    total = max([len(patches)] + [p.total or 0 for p in patches])
    with tempfile.TemporaryDirectory(prefix="rmaplint-") as tmp:
        env = {**git_env(), "GIT_INDEX_FILE": os.path.join(tmp, "index")}
        parent = base
        for p in patches:
            if progress is not None:
                progress(p.position, total, f"applying {p.title}")
            out = _git(repo, ["read-tree", f"{parent}^{{tree}}"], env)
            if out.returncode != 0:
                raise InputError(f"git read-tree {parent[:12]} failed in {repo}: "
                                 f"{_err(out).strip().splitlines()[-1:] or out.returncode}")
            patch = Path(tmp) / f"{p.position}.patch"
            patch.write_bytes(p.diff.encode("utf-8", "surrogateescape"))
            out = _git(repo, ["apply", "--cached", "--3way", "--whitespace=nowarn",
                              str(patch)], env)
            if out.returncode != 0:
                text = _err(out)
                file = next((m.group(1) for rx in _APPLY_FILE for m in [rx.search(text)] if m),
                            None)
                errors = [ln for ln in text.splitlines() if ln.startswith("error:")]
                msg = errors[0] if errors else (text.strip().splitlines() or
                                                ["git apply failed"])[-1]
                res.failure = ApplyFailure(p.position, p.title, file, msg, total)
                return res
            tree = _git(repo, ["write-tree"], env)
            if tree.returncode != 0:
                raise InputError(f"git write-tree failed in {repo}: {_err(tree).strip()}")
            tree_id = tree.stdout.decode().strip()
            name, mail = _ident(p.author)
            date = p.date or "1970-01-01T00:00:00Z"
            cenv = {**git_env(), "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": mail,
                    "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_NAME": name,
                    "GIT_COMMITTER_EMAIL": mail, "GIT_COMMITTER_DATE": date}
            msg = (p.title + "\n\n" + p.message.strip() + "\n").replace("\n\n\n", "\n\n")
            out = _git(repo, ["commit-tree", tree_id, "-p", parent],
                       cenv, input=msg.encode("utf-8", "surrogateescape"))
            if out.returncode != 0:
                raise InputError(f"git commit-tree failed in {repo}: {_err(out).strip()}")
            parent_tree = _git(repo, ["rev-parse", f"{parent}^{{tree}}"], env)
            if parent_tree.stdout.decode().strip() == tree_id:
                res.unchanged.append(p.position)
            parent = out.stdout.decode().strip()
            res.commits.append(parent)
    return res
