"""Start the window."""
from __future__ import annotations

import sys


def run_window(argv: list[str], play_for: float | None = None, export_png: str | None = None) -> int:
    """Open the main window and run the event loop until it closes.

    ``play_for`` (seconds): wait for the first results, play the animation that long,
    export the figure to ``export_png`` if given, then close — a smoke test of the real app.
    """
    import pyqtgraph as pg
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from .window import MainWindow

    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
    app = QApplication.instance() or QApplication(argv[:1])
    app.setApplicationName("losslab")
    app.setOrganizationName("losslab")
    window = MainWindow()
    window.show()
    status = {"code": 0}
    if play_for is not None:
        def finish() -> None:
            if export_png:
                try:
                    window.export_png(export_png)
                    print(f"exported {export_png}")
                except OSError as err:
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


if __name__ == "__main__":
    sys.exit(run_window(sys.argv))
