"""Start the window, or render a session without one."""
from __future__ import annotations

import os
import sys
from importlib import resources


SYSTEM_LIBRARIES = ("libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 "
                    "libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 "
                    "libdbus-1-3")


def display_problem() -> str | None:
    """Why Qt could not open a window here, as a hint for the user; None if it should work.

    Qt aborts the whole process (no exception) when its platform plugin cannot start, so
    the likely causes are checked first: no display at all, or the X11 plugin's system
    libraries missing.
    """
    if sys.platform != "linux":
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None  # offscreen, wayland...: Qt will say itself
    if not platform and os.environ.get("WAYLAND_DISPLAY"):
        return None
    no_window = ("  Run it from a desktop session, or on a virtual display: xvfb-run losslab\n"
                 "  Without a window: losslab render PRESET -o figure.png (see losslab --help)")
    if not os.environ.get("DISPLAY"):
        return f"losslab needs a display to open its window, and none is set ($DISPLAY is empty).\n{no_window}"
    import ctypes
    from pathlib import Path

    import PyQt6

    plugin = Path(PyQt6.__file__).parent / "Qt6" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists():
        return None
    for name in ("libxcb-cursor.so.0", str(plugin)):  # Qt ≥ 6.5 needs xcb-cursor; the plugin needs the rest
        try:
            ctypes.CDLL(name)
        except OSError as err:
            missing = str(err).split(":")[0] if "cannot open shared object" in str(err) else str(err)
            return (f"Qt cannot open a window: a system library is missing ({missing}).\n"
                    f"  On Debian or Ubuntu: sudo apt-get install {SYSTEM_LIBRARIES}")
    try:  # is anyone listening on $DISPLAY? (the X library is there: the plugin loaded)
        xcb = ctypes.CDLL("libxcb.so.1")
        xcb.xcb_connect.restype = ctypes.c_void_p
        xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
        xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
        connection = xcb.xcb_connect(None, None)
        failed = xcb.xcb_connection_has_error(connection)
        xcb.xcb_disconnect(connection)
    except (OSError, AttributeError):
        return None
    if failed:
        return f"losslab cannot reach the display {os.environ['DISPLAY']} (no X server answers there).\n{no_window}"
    return None


def _application(argv: list[str]):
    import pyqtgraph as pg
    from PyQt6.QtGui import QIcon
    from PyQt6.QtWidgets import QApplication

    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
    app = QApplication.instance() or QApplication(argv[:1])
    app.setApplicationName("losslab")
    app.setOrganizationName("losslab")
    icon = resources.files("losslab.resources").joinpath("icons", "losslab.svg")
    app.setWindowIcon(QIcon(str(icon)))
    return app


def _last_session(settings):
    """The session open when the window last closed, or None if there is none or it no longer reads."""
    from ..io.session_file import SessionError, loads
    from .session import Session, view_from_dict
    from .settings import stored_text

    text = stored_text(settings, "session/last")
    if not text:
        return None
    try:
        experiment, view, _ = loads(text, "the last session")
        return Session(experiment, view_from_dict(view))
    except (SessionError, ValueError):
        settings.remove("session/last")
        return None


def _report_and_go_on(window):
    """An exception escaping a Qt slot: print it and say so in the status bar, instead of
    PyQt's default of aborting the whole app (and losing the session with it)."""
    import traceback

    def hook(kind, value, trace) -> None:
        traceback.print_exception(kind, value, trace)
        try:
            window.show_message(f"Internal error ({kind.__name__}: {value}); the window goes on, "
                                "but please report it")
        except RuntimeError:
            pass  # the window is gone already

    return hook


def _opened_session(path: str):
    """The session of a file or preset named on the command line (``SessionError`` if it does not read)."""
    from ..io.session_file import load_session, resolve_session
    from .session import Session, view_from_dict

    experiment, view, info = load_session(resolve_session(path))
    return Session(experiment, view_from_dict(view), fall_back=False), info


def run_window(argv: list[str], play_for: float | None = None, export_png: str | None = None,
               open_path: str | None = None, lesson=None, step: int = 1, presentation: bool = False) -> int:
    """Open the main window and run the event loop until it closes.

    The last session comes back unless ``open_path`` names a session file or preset; a
    named session that cannot be read or computed is an error (one line, exit 2), never
    replaced by another. ``play_for`` (seconds): wait for the first results, play the
    animation that long, export the figure to ``export_png`` if given, then close — a
    smoke test of the real app. ``lesson`` (a loaded :class:`~losslab.io.lessons.Lesson`) opens
    at ``step``; ``presentation`` starts in presentation mode.
    """
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    from PyQt6.QtCore import QSettings, QTimer

    from ..io.session_file import SessionError
    from .window import MainWindow

    app = _application(argv)
    # collect cyclic garbage in the GUI thread only: run by a background job's thread, Python's
    # collector may destroy Qt objects while the GUI thread paints them, and Qt crashes
    from pyqtgraph.util.garbage_collector import GarbageCollector
    app.garbage_collector = GarbageCollector(interval=1.0)
    settings = QSettings("losslab", "losslab")
    status = {"code": 0}
    info = None
    if open_path:
        try:
            session, info = _opened_session(open_path)
        except SessionError as err:
            print(f"losslab: error: {err}", file=sys.stderr)
            return 2

        def refuse(message: str) -> None:  # the named session could not be computed: say why and stop
            if session.snapshot is None:
                print(f"losslab: error: {open_path}: {message}", file=sys.stderr)
                status["code"] = 2
                app.exit(2)

        session.failed.connect(refuse)
    elif lesson is not None:  # the step's session is the first one computed
        from .session import Session, view_from_dict
        first = lesson.step(step)
        session = Session(first.experiment, view_from_dict(first.view))
    else:
        session = _last_session(settings)
    window = MainWindow(session, settings=settings, autoplay=play_for is None and lesson is None)
    sys.excepthook = _report_and_go_on(window)
    if info is not None:
        window.files.session_info = info
        window.setWindowTitle(f"losslab — {info.get('title') or open_path}")
    window.show()
    if lesson is not None:
        window.open_lesson(lesson, step)
    if presentation:
        window.set_presentation(True)
    if play_for is not None:
        def finish() -> None:
            print(f"played to step {window.clock.frame} of {window.clock.n_frames - 1}")
            if export_png:
                try:
                    window.export_png(export_png)
                    print(f"exported {export_png}")
                except (OSError, ValueError) as err:
                    print(f"losslab: could not export {export_png}: {err}", file=sys.stderr)
                    status["code"] = 1
            window.close()

        def start_playing(_snapshot) -> None:
            window.session.committed.disconnect(start_playing)
            window.clock.play()
            QTimer.singleShot(int(play_for * 1000), finish)

        window.session.committed.connect(start_playing)
    code = app.exec()
    if status["code"] == 2:
        window.close()
    return code or status["code"]


def _check_output(out: str, overwrite: bool) -> None:
    """Refuse at once an output that cannot be written, before any computation."""
    from pathlib import Path

    path = Path(out)
    if path.is_dir():
        raise IsADirectoryError(f"{out} is a directory: name a file to write")
    if not overwrite and (path.exists() or path.is_symlink()):
        raise FileExistsError(f"{out} already exists (use --force to overwrite)")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"the folder {folder} does not exist")


RENDER_FORMATS = ("png", "svg", "pdf", "gif", "mp4", "csv", "npz", "json")
FIGURE_FORMATS = ("png", "svg", "pdf", "gif", "mp4")
LAYOUT_WIDTH = 1600  # about the widest layout `render` draws; wider images scale one up


def render(source: str, out: str, fmt: str | None = None, size: tuple[int, int] | None = None,
           frame: int | None = None, force: bool = False, max_minutes: float | None = None,
           view: str | None = None, step: int | None = None) -> str:
    """Render a session file, preset or lesson step to ``out`` without a window.

    A session estimated to compute for longer than ``max_minutes`` (default:
    ``budget.TIME_LIMIT``) is refused with the estimate and what to lower. The session is
    computed by the same pure pipeline as the window's
    (:func:`~losslab.engine.experiment.compute`); a session that cannot be computed
    raises, and nothing is written. Figures (png/svg/pdf) show ``frame`` (default: the
    last) drawn by the window's own :class:`~losslab.app.figure.Figure`, offscreen;
    gif/mp4 play every frame (default size 1200×675); csv/npz write the trajectories and json
    the configuration, both without Qt. A frame before the first or past the last is
    refused. Images wider than about ``LAYOUT_WIDTH`` are a smaller layout scaled up 2× or
    3×, like a denser screen. ``view``: ``"2d"`` (contour panels) or ``"3d"`` (the shaded
    surface, drawn by OpenGL: it needs a display, e.g. ``xvfb-run``); None keeps the session's.
    ``source`` may name a lesson (``losslab lessons``): its ``step`` (from 1, default 1) is
    rendered, at the step's frame unless ``frame`` is given; a step that does not exist is an error.
    Returns a one-line summary; raises ``ValueError``/``OSError`` with a one-line message.
    """
    from pathlib import Path

    from ..engine.budget import TIME_LIMIT
    from ..engine.experiment import compute_all
    from ..io.exports import write_trajectories
    from ..io.session_file import save_session

    _check_output(out, overwrite=force)  # before any work; checked again at the moment of writing
    fmt = (fmt or Path(out).suffix.lstrip(".")).lower()
    if fmt not in RENDER_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(RENDER_FORMATS)}")
    experiment, view_dict, info, step_frame = _render_source(source, step)
    frame = step_frame if frame is None else frame
    summary = f"wrote {out} ({fmt}, {info.get('title') or source})"
    max_seconds = TIME_LIMIT if max_minutes is None else max_minutes * 60
    if fmt not in FIGURE_FORMATS:
        computed = compute_all(experiment, max_seconds=max_seconds)  # refuses what cannot be computed
        if fmt == "json":
            save_session(out, computed.experiment, view_dict, info.get("title", ""), info.get("description", ""),
                         overwrite=force)
        else:
            write_trajectories(out, computed, fmt, overwrite=force)
        return summary

    if view is not None and view not in ("2d", "3d"):
        raise ValueError(f"view must be 2d or 3d, got {view!r}")
    settings = _view_settings(view_dict, view)
    if settings.surface == "3d":  # OpenGL needs a real platform; the figure is drawn but never shown
        from .surface3d import command_line_platform
        os.environ["QT_QPA_PLATFORM"] = command_line_platform()
    else:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # never show anything, display or not
    from .export import export_animation, export_figure
    from .figure import Figure
    from .session import render_snapshot

    if frame is not None and frame < 0:
        raise ValueError(f"frame must be 0 or more (the first step), got {frame}")
    snapshot = render_snapshot(experiment, settings, max_seconds)
    app = _application(sys.argv)
    figure = Figure()
    if settings.surface == "3d":
        from PyQt6.QtCore import Qt
        figure.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
    animated = fmt in ("gif", "mp4")
    width, height = size or ((1200, 675) if animated else (1600, 900))  # animations: 151 frames stay small
    # a wide image is a screen of 2 or 3 pixels a point: the layout of a 1500 px figure drawn at
    # 3000 px (sharp, every line and letter twice as large), not a huge layout with tiny text
    scale = max(1, round(width / LAYOUT_WIDTH))
    figure.resize(round(width / scale), round(height / scale))
    figure.show()
    figure.show_snapshot(snapshot)
    app.processEvents()
    try:
        if settings.surface == "3d" and not figure.surface3d.has_gl:
            raise ValueError(figure.surface3d.message)
        last = figure.n_frames - 1
        if frame is not None and frame > last:
            raise ValueError(f"frame {frame} is past the last step, {last}")
        figure.set_frame(last if frame is None else frame)
        app.processEvents()
        if fmt in ("png", "svg", "pdf"):
            export_figure(figure, out, fmt, (width, height), overwrite=force)
        else:
            export_animation(figure, out, fmt, stride=max(1, figure.n_frames // 200), size=(width, height),
                             overwrite=force)
    finally:
        figure.close()
        figure.deleteLater()
    return summary


def _render_source(source: str, step: int | None) -> tuple:
    """``(experiment, view, info, frame)`` of a session file or preset, or of a lesson's step (its frame)."""
    from ..io.lessons import find_lesson, load_lesson
    from ..io.session_file import load_session, resolve_session

    lesson_path = find_lesson(source)
    if lesson_path is None:
        if step is not None:
            raise ValueError(f"--step is for lessons, and {source} is not one (see: losslab lessons)")
        return (*load_session(resolve_session(source)), None)
    lesson = load_lesson(lesson_path)
    number = 1 if step is None else step
    chosen = lesson.step(number)
    info = {"title": f"{lesson.title}, step {number}: {chosen.title}"}
    return chosen.experiment, chosen.view, info, chosen.frame


def _view_settings(view_dict: dict, surface: str | None):
    """A session file's view settings, drawn as ``surface`` ("2d" or "3d"; None: as the file says)."""
    from dataclasses import replace

    from .session import view_from_dict
    settings = view_from_dict(view_dict)
    return settings if surface is None else replace(settings, surface=surface)
