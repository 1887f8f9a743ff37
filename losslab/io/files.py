"""Writing files safely: every file losslab writes appears whole or not at all.

A file is written to a temporary ``.NAME.<pid>.<random>.part`` beside it and then moved
into place. The pid in the name lets a later write remove the leftovers of a writer that
died half-way, without touching the file of one still at work.
"""
from __future__ import annotations

import errno
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

# errors that mean "this file system has no hard links": fall back to an exclusive placeholder
_NO_HARD_LINKS = {errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK}
_DISK_FULL = {errno.ENOSPC: "the disk is full"}
if hasattr(errno, "EDQUOT"):
    _DISK_FULL[errno.EDQUOT] = "the disk quota is full"


def atomic_write(path: str | os.PathLike, write: Callable[[str], None], overwrite: bool = True) -> Path:
    """Call ``write(tmp_path)`` to fill a temporary file beside ``path``, then move it into place.

    A crash or an error half-way leaves any existing file untouched and no partial file
    behind. ``overwrite=False`` refuses an existing ``path`` with ``FileExistsError``, and
    checks again at the moment the file is put in place (a hard link, which fails if a
    file of that name appeared meanwhile), so a file created during the write is never
    clobbered. A directory as ``path`` raises ``IsADirectoryError`` before any work; any
    other ``OSError`` (a read-only folder, a full disk) is raised again as one line naming
    ``path`` and the reason, with its errno: "cannot write /x/f.png: permission denied".
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory")
    if not overwrite and path.exists():  # early, to spare the work; _link_new checks again
        raise _exists(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"the folder {folder} does not exist")
    _remove_stale_parts(folder, path.name)
    tmp = folder / f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.part"
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # private until it is whole
        write(str(tmp))
        os.chmod(tmp, _mode_for(path))  # the mode a new file would have, or the replaced file's
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    except FileExistsError:
        raise  # _exists named the file already
    except OSError as err:
        raise _cannot_write(path, tmp, err) from err
    finally:
        if os.path.lexists(tmp):
            os.remove(tmp)
    return path


# reasons in the user's words; any other error gives its own description
_REASONS = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.EROFS: "the folder is on a read-only file system", **_DISK_FULL}


def _cannot_write(path: Path, tmp: Path, err: OSError) -> OSError:
    """``err`` said about ``path``, the user's file, never about ``tmp``, the temporary beside it.

    One line ("cannot write PATH: REASON", no ``[Errno N]``), with the same errno, and the
    same class when it is one of Python's own (a library's may need other arguments).
    """
    if err.errno == errno.EACCES and not os.access(path.parent if str(path.parent) else ".", os.W_OK):
        reason = "the folder is read-only (permission denied)"
    else:
        said = str(err).splitlines()[0] if str(err) else type(err).__name__
        reason = (_REASONS.get(err.errno) or err.strerror or said).replace(str(tmp), str(path))
    if reason[1:2].islower():  # "Permission denied" → "permission denied"; "OSError" stays
        reason = reason[:1].lower() + reason[1:]
    kind = type(err) if type(err).__module__ == "builtins" else OSError
    named = kind(f"cannot write {path}: {reason}")
    named.errno = err.errno  # without strerror, str() stays the message alone
    return named


def _exists(path: Path) -> FileExistsError:
    return FileExistsError(f"{path} already exists (use --force to overwrite)")


def _link_new(tmp: Path, path: Path) -> None:
    """Give ``tmp``'s contents the name ``path`` only if no file has it yet, atomically."""
    try:
        os.link(tmp, path)  # fails with FileExistsError if path exists, at this very moment
        return
    except FileExistsError:
        raise _exists(path) from None
    except OSError as err:
        if err.errno not in _NO_HARD_LINKS:
            raise
    # no hard links here (FAT, some network shares): claim the name with an exclusive
    # empty placeholder, then rename over it; only the placeholder can be replaced
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise _exists(path) from None
    try:
        os.replace(tmp, path)
    except OSError:
        os.remove(path)
        raise


def _remove_stale_parts(folder: Path, name: str) -> None:
    """Remove ``.NAME.<pid>.*.part`` files in ``folder`` whose writer process no longer exists."""
    if os.name != "posix":  # os.kill(pid, 0) is a liveness test only on POSIX
        return
    pattern = re.compile(rf"\.{re.escape(name)}\.(\d+)\.[0-9a-f]+\.part")
    try:
        candidates = [entry.name for entry in os.scandir(folder) if entry.name.endswith(".part")]
    except OSError:
        return
    for candidate in candidates:
        match = pattern.fullmatch(candidate)
        if match and not _alive(int(match.group(1))):
            try:
                os.remove(folder / candidate)
            except OSError:
                pass  # another writer cleaned it first, or it is not ours to remove


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: no signal is sent, only the existence check
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # another user's process, or a pid we cannot ask about: leave its file
    return True


def _mode_for(path: Path) -> int:
    """An existing file's permissions, or those of a new file under the current umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_text(path: str | os.PathLike, text: str, overwrite: bool = True) -> Path:
    """Write ``text`` as UTF-8 with ``\\n`` line ends, atomically (see :func:`atomic_write`)."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return atomic_write(path, write, overwrite)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = True) -> Path:
    """Write ``data`` atomically (see :func:`atomic_write`): an encoded PNG, say, so a full disk says so."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)
    return atomic_write(path, write, overwrite)
