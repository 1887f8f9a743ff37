"""Writing files safely: every file losslab writes appears whole or not at all."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[str], None], overwrite: bool = True) -> Path:
    """Call ``write(tmp_path)`` to fill a temporary file beside ``path``, then rename it into place.

    A crash or an error half-way leaves any existing file untouched and no partial file
    behind. ``overwrite=False`` refuses an existing ``path`` with ``FileExistsError``.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} already exists (use --force to overwrite)")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _mode_for(path))  # mkstemp makes it private; give it the mode a new file would have
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _mode_for(path: Path) -> int:
    """An existing file's permissions, or those of a new file under the current umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_text(path: str | os.PathLike, text: str, overwrite: bool = True) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return atomic_write(path, write, overwrite)
