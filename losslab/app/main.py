"""Start the window, or render a session without one."""
from __future__ import annotations

import os
import sys
import tempfile
import time
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

    text = settings.value("session/last")
    if not text:
        return None
    try:
        experiment, view, _ = loads(str(text), "the last session")
        return Session(experiment, view_from_dict(view))
    except (SessionError, ValueError):
        return None


def run_window(argv: list[str], play_for: float | None = None, export_png: str | None = None,
               open_path: str | None = None) -> int:
    """Open the main window and run the event loop until it closes.

    The last session comes back unless ``open_path`` names a session file or preset.
    ``play_for`` (seconds): wait for the first results, play the animation that long,
    export the figure to ``export_png`` if given, then close — a smoke test of the real app.
    """
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    from PyQt6.QtCore import QSettings, QTimer

    from .window import MainWindow

    app = _application(argv)
    settings = QSettings("losslab", "losslab")
    window = MainWindow(None if open_path else _last_session(settings), settings=settings,
                        autoplay=play_for is None)
    window.show()
    if open_path and not window.open_session(open_path):
        return 2
    status = {"code": 0}
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

        def start_playing(_results) -> None:
            window.session.runsReady.disconnect(start_playing)
            window.clock.play()
            QTimer.singleShot(int(play_for * 1000), finish)

        window.session.runsReady.connect(start_playing)
    code = app.exec()
    return code or status["code"]


RENDER_FORMATS = ("png", "svg", "pdf", "gif", "mp4", "csv", "npz", "json")


def render(source: str, out: str, fmt: str | None = None, size: tuple[int, int] | None = None,
           frame: int | None = None, force: bool = False, timeout: float = 300.0) -> str:
    """Render a session file or preset to ``out`` without showing a window (offscreen Qt).

    Figures (png/svg/pdf) show ``frame`` (default: the last); gif/mp4 play every frame;
    csv/npz write the trajectories, json the configuration. Returns a one-line summary;
    raises ``ValueError``/``OSError`` with a one-line message.
    """
    from pathlib import Path

    fmt = (fmt or Path(out).suffix.lstrip(".")).lower()
    if fmt not in RENDER_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(RENDER_FORMATS)}")
    if Path(out).exists() and not force:
        raise FileExistsError(f"{out} already exists (use --force to overwrite)")
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # never show anything, display or not

    from PyQt6.QtCore import QSettings

    from ..io.session_file import load_session, resolve_session
    from .export import export_animation, export_figure
    from .session import Session, view_from_dict
    from .window import MainWindow

    experiment, view, info = load_session(resolve_session(source))
    session = Session(experiment, view_from_dict(view))
    app = _application(sys.argv)
    with tempfile.TemporaryDirectory(prefix="losslab-render-") as scratch_folder:
        scratch = QSettings(os.path.join(scratch_folder, "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(session, settings=scratch)
        window.session_info = info
        width, height = size or (1600, 900)
        window.show_figure_only()
        window.resize(width, height)
        window.show()
        app.processEvents()
        # the figure (the window's plots) must come out exactly width × height, drawn at scale 1
        extra = window.size() - window.splitter.size()
        window.resize(width + extra.width(), height + extra.height())
        failure: list[str] = []
        session.message.connect(failure.append)
        deadline = time.monotonic() + timeout
        while not (window.results and session.landscape is not None and window.grid._surface is not None
                   and not session.jobs.busy):
            app.processEvents()
            if failure and not session.jobs.busy:
                raise ValueError(failure[-1])
            if time.monotonic() > deadline:
                raise TimeoutError(f"the session did not finish computing within {timeout:g} s")
            time.sleep(0.005)
        last = window.clock.n_frames - 1
        window.clock.seek(last if frame is None else min(max(frame, 0), last))
        app.processEvents()
        try:
            if fmt in ("png", "svg", "pdf"):
                export_figure(window, out, fmt, (width, height), overwrite=True)
            elif fmt in ("gif", "mp4"):
                export_animation(window, out, fmt, stride=max(1, window.clock.n_frames // 200), size=(width, height),
                                 overwrite=True)
            elif fmt == "json":
                window.save_session(out)
            else:  # csv, npz: the trajectories
                window.export_trajectories(out, fmt)
        finally:
            window.close()
    return f"wrote {out} ({fmt}, {info.get('title') or source})"
