import os
import sys

# GUI tests run headless: without a display, Qt draws offscreen.
if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") or sys.platform == "darwin" and "CI" in os.environ:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
