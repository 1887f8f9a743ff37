"""The File menu's work: sessions (open, save, recent files, presets) and every export."""
from __future__ import annotations

import os
import re
from dataclasses import asdict
from pathlib import Path

from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox, QProgressDialog, QWidget

from ..engine.experiment import embed_data
from ..io.exports import write_landscape_csv, write_landscape_npz, write_trajectories
from ..io.lessons import is_lesson_file
from ..io.session_file import SessionError, dumps, load_session, loads, presets_folder, resolve_session, save_session
from .dialogs import ExportAnimationDialog, ExportFigureDialog
from .export import ExportCancelled, export_animation, export_figure, refuse_preview
from .figure import Figure
from .session import Session, view_from_dict
from .settings import stored_list, stored_text

RECENT_FILES = 8


class FileActions:
    """Opens and saves sessions and writes exports for one window; failures are shown, nothing else changes."""

    def __init__(self, window: QWidget, session: Session, figure: Figure, settings: QSettings, show_message,
                 show_notes=None):
        self.window, self.session, self.figure, self.settings = window, session, figure, settings
        self.show_message = show_message
        self.show_notes = show_notes or (lambda info: None)  # the window's panel for a file's title and text
        self._session_info: dict[str, str] = {}
        self.path: str | None = None  # the session file opened or saved last
        self.opened = None  # the experiment as that file has it: any other is shown as "(modified)"
        self.pending_open: tuple[str, dict] | None = None
        self.recent_menu = None
        self._file_experiment = None
        session.committed.connect(self._on_committed)
        session.pendingChanged.connect(self._on_pending)

    @property
    def session_info(self) -> dict[str, str]:
        """The title and description of the session file opened."""
        return self._session_info

    @session_info.setter
    def session_info(self, info: dict[str, str]) -> None:
        # set here on opening, or by the command line for the file it was given (not yet computed)
        self._session_info = info
        self.opened = self.session.target
        self.show_title()
        self.show_notes(info)

    def show_title(self) -> None:
        """The file's title in the window title, marked "(modified)" while the experiment differs from the file's."""
        title = self._session_info.get("title") or (os.path.basename(self.path) if self.path else "")
        if not title:
            return  # no file yet: the window keeps its own title
        modified = self.opened is not None and self.session.experiment != self.opened
        self.window.setWindowTitle(f"losslab — {title}{' (modified)' if modified else ''}")

    # --- files ---------------------------------------------------------------------------------
    def ask_path(self, title: str, name: str, filters: str, save: bool = True) -> str:
        """A file dialog that starts in the last folder used and remembers the new one.

        Saving asks before overwriting an existing file (Qt's dialog does).
        """
        folder = stored_text(self.settings, "files/folder", os.path.expanduser("~"))
        ask = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
        path, chosen = ask(self.window, title, os.path.join(folder, name), filters)
        if path:
            self.settings.setValue("files/folder", os.path.dirname(path))
            suffix = re.search(r"\(\*(\.[\w.]+)", chosen or "")
            if save and suffix and not os.path.splitext(path)[1]:  # the chosen file type names the format
                path += suffix.group(1)
        return path

    def report(self, action, done: str) -> bool:
        """Run a file action; a failure is shown in a dialog and nothing else changes."""
        try:
            action()
        except ExportCancelled as err:
            self.show_message(str(err))
            return False
        except (OSError, ValueError) as err:
            QMessageBox.warning(self.window, "losslab", str(err))
            return False
        self.show_message(done, error=False)
        return True

    # --- sessions ------------------------------------------------------------------------------
    def open_session_dialog(self) -> None:
        path = self.ask_path("Open a session", "", "losslab sessions (*.json);;All files (*)", save=False)
        if path:
            self.open_session(path)

    def open_session(self, path) -> bool:
        """Load a session file (or preset); a bad file is named in a dialog and changes nothing.
        A lesson file opens as a lesson, at its first step.

        The file's experiment and view are committed together once computed; until then
        the current session stays on screen.
        """
        if is_lesson_file(Path(path)):  # a lesson file opened or dropped here: walk through it
            return self.window.open_lesson(str(path))
        try:
            path = resolve_session(str(path))  # a file, or the name of a preset
            experiment, view, info = load_session(path)
            view = view_from_dict(view)
        except SessionError as err:
            text = str(err) if str(path) in str(err) else f"{path}: {err}"
            QMessageBox.warning(self.window, "Cannot open the session", text)
            return False
        self.pending_open = (str(path), info)  # named in the title and recent files once it is shown
        if not self.session.set_experiment(experiment, view):
            self.pending_open = None
            return False
        self._file_experiment = self.session.target  # the file's experiment, validated: edits made meanwhile differ
        if self.session.pending is None:  # the same experiment: nothing to compute
            self._opened()
        return True

    def copy_session(self) -> None:
        """The session shown, as the text of its file, on the clipboard (to paste into a message or back here)."""
        info = self.session_info
        QApplication.clipboard().setText(dumps(self.session.experiment, asdict(self.session.view),
                                               info.get("title", ""), info.get("description", "")))
        self.show_message("Copied the session to the clipboard: paste it into losslab with Ctrl+Shift+V", error=False)

    def paste_session(self) -> bool:
        """Open the session whose text is on the clipboard; anything else is named and changes nothing."""
        try:
            experiment, view, info = loads(QApplication.clipboard().text(), "the clipboard")
            view = view_from_dict(view)
        except SessionError as err:
            self.show_message(f"Cannot paste a session: {err}")
            return False
        if not self.session.set_experiment(experiment, view):
            return False
        self.path = None
        self.session_info = info
        return True

    def _on_committed(self, _snapshot) -> None:
        if self.pending_open is not None:
            self._opened()
        else:
            self.show_title()

    def _on_pending(self, pending: bool) -> None:
        if not pending:  # after a commit (handled first) or without one: a file still waiting did not take
            self.pending_open = None

    def _opened(self) -> None:
        path, info = self.pending_open
        self.pending_open = None
        self.path = path
        self.session_info = info  # and the title
        if self._file_experiment is not None:  # edits made while it computed show as "(modified)"
            self.opened, self._file_experiment = self._file_experiment, None
            self.show_title()
        if not path.startswith(str(presets_folder())):
            self.remember_recent(path)
        if info.get("description"):
            self.show_message(info["description"], error=False)
        self.window.clock.seek(0)  # a file opens at its first step

    def save_session_dialog(self) -> None:
        path = self.ask_path("Save the session", "session.json", "losslab sessions (*.json)")
        if path and self.report(lambda: self.save_session(path), f"Saved {path}"):
            self.remember_recent(path)

    def save_session_with_data_dialog(self) -> None:
        path = self.ask_path("Save the session with its data", "session.json", "losslab sessions (*.json)")
        if path and self.report(lambda: self.save_session(path, with_data=True), f"Saved {path} with its data"):
            self.remember_recent(path)

    def save_session(self, path, with_data: bool = False) -> None:
        """Write the session shown. Edited points are always inside the file; ``with_data`` puts a CSV or
        bundled dataset there too, so the file opens on a machine without it."""
        info = self.session_info
        experiment = self.session.experiment
        if with_data:
            computed = self.session.computed
            experiment = embed_data(experiment, computed.problem.dataset if computed is not None else None)
        save_session(path, experiment, asdict(self.session.view), info.get("title", ""),
                     info.get("description", ""))
        self.path, self.opened = str(path), self.session.experiment  # what is shown is now what the file holds
        self.show_title()

    def remember_recent(self, path: str) -> None:
        recent = [p for p in stored_list(self.settings, "files/recent") if p != path]
        self.settings.setValue("files/recent", [path, *recent][:RECENT_FILES])
        self.fill_recent()

    def fill_recent(self) -> None:
        if self.recent_menu is None:
            return
        self.recent_menu.clear()
        recent = stored_list(self.settings, "files/recent")
        for path in recent:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_session(p))
        self.recent_menu.setEnabled(bool(recent))

    # --- exports -----------------------------------------------------------------------------------
    def _export_choice(self, dialog) -> tuple[dict, str] | None:
        """The options chosen in an export dialog and the file to write, or None if cancelled."""
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        choice = dialog.choice()
        fmt = choice["fmt"]
        path = self.ask_path(dialog.windowTitle(), f"losslab.{fmt}", f"{fmt.upper()} files (*.{fmt})")
        return (choice, path) if path else None

    def export_figure_dialog(self) -> None:
        chosen = self._export_choice(ExportFigureDialog(self.figure))
        if chosen:
            choice, path = chosen
            self.report(lambda: export_figure(self.figure, path, choice["fmt"], choice["size"], choice["part"]),
                        f"Saved {path}")

    def export_animation_dialog(self) -> None:
        chosen = self._export_choice(ExportAnimationDialog(self.figure))
        if not chosen:
            return
        choice, path = chosen
        progress = QProgressDialog("Rendering frames…", "Cancel", 0, 100, self.window)
        progress.setWindowTitle("Export animation")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)

        def step(done: int, total: int) -> bool:
            progress.setMaximum(total)
            progress.setValue(done)
            return not progress.wasCanceled()

        try:
            self.report(lambda: export_animation(self.figure, path, choice["fmt"], choice["fps"], choice["stride"],
                                                 choice["size"], choice["part"], progress=step), f"Saved {path}")
        finally:
            progress.close()

    def export_trajectories_dialog(self) -> None:
        path = self.ask_path("Export the trajectories", "trajectories.csv",
                             "CSV tables (*.csv);;NumPy archives (*.npz)")
        if path:
            self.report(lambda: self.export_trajectories(path), f"Saved {path}")

    def export_trajectories(self, path: str, fmt: str | None = None) -> None:
        """The runs on screen as CSV or NPZ (``fmt``, default: from the file's extension, CSV otherwise)."""
        write_trajectories(path, self.session.computed, fmt)

    def export_landscape_dialog(self) -> None:
        path = self.ask_path("Export the landscape grid", "landscape.npz",
                             "NumPy archives (*.npz);;CSV tables (*.csv)")
        if path:
            self.report(lambda: self.export_landscape(path), f"Saved {path}")

    def export_landscape(self, path: str) -> None:
        computed = self.session.computed
        if computed is None:
            raise ValueError("the landscape is still being computed; try again in a moment")
        refuse_preview(computed)
        write = write_landscape_csv if path.lower().endswith(".csv") else write_landscape_npz
        write(path, computed.landscape)

