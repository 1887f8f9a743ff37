"""The engine is pure NumPy: importing it must not pull in Qt or pyqtgraph."""
import json
import subprocess
import sys


def test_engine_imports_no_qt():
    code = ("import json, sys, losslab.engine; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('PyQt6', 'PyQt5', 'PySide6', 'PySide2', 'pyqtgraph'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
