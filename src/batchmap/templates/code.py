"""Function code that is not a folder yet: a local ``.zip`` (SAM's ``CodeUri``) or inline code.

SAM takes a folder, a ``.zip`` or the code itself (``InlineCode``, and
CloudFormation's ``Code.ZipFile``, which AWS stores as ``index.py``); batchmap
imports code from a folder. So such code gets a folder of its own,
``<database folder>/code/<name>-<digest>``, named after its content: a rebuilt
archive or an edited inline function gets a new folder, an unchanged one is
reused. ``provision`` writes it, never ``load_template``, and atomically, so a
run never imports a half-written folder.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from batchmap.errors import TemplateError

CODE_FOLDER: Final = "code"
"""Beside the stack's database file: where unpacked archives and inline code live."""

INLINE_FILE: Final = "index.py"
"""The file Lambda stores inline Python code in (the handler is ``index.NAME``)."""


@dataclass(frozen=True, slots=True)
class CodePackage:
    """Code that ``unpack`` writes to ``folder``: the ``archive`` (a ``.zip``) or the ``inline`` text.

    ``where`` is the template property it came from, named by every error.
    """

    folder: Path
    where: str
    archive: Path | None = None
    inline: str | None = None

    def check(self) -> None:
        """Refuse an archive that does not exist (before anything is consumed)."""
        if self.archive is not None and not self.archive.is_file():
            raise TemplateError(self.where, f"the code archive {self.archive} does not exist")

    def unpack(self) -> None:
        """Write the code to ``folder`` unless it is there already."""
        if self.folder.is_dir():
            return
        self.check()
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=self.folder.parent))
        try:
            self._write(staging)
            try:
                staging.rename(self.folder)
            except OSError:
                if not self.folder.is_dir():  # another process unpacking the same code won the race
                    raise
        except OSError as exc:
            raise TemplateError(self.where, f"cannot write the code to {self.folder}: {exc}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _write(self, staging: Path) -> None:
        if self.inline is not None:
            (staging / INLINE_FILE).write_text(self.inline, encoding="utf-8")
            return
        assert self.archive is not None
        try:
            with zipfile.ZipFile(self.archive) as archive:
                archive.extractall(staging)  # member names are sanitised: nothing lands outside staging
        except zipfile.BadZipFile as exc:
            raise TemplateError(self.where, f"{self.archive} is not a zip archive ({exc})") from None


def archive_package(archive: Path, cache: Path, where: str) -> CodePackage:
    """A ``.zip`` to unpack; its folder is named after its content (or its path, while it is missing)."""
    content = archive.read_bytes() if archive.is_file() else str(archive).encode()
    return CodePackage(cache / f"{archive.stem}-{_digest(content)}", where, archive=archive)


def inline_package(code: str, cache: Path, where: str) -> CodePackage:
    """Inline code, written to ``index.py`` as Lambda stores it."""
    return CodePackage(cache / f"inline-{_digest(code.encode())}", where, inline=code)


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:16]
