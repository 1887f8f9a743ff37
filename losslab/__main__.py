"""The ``losslab`` command: the window, headless rendering, and a summary of the default problem."""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from . import __version__


def default_summary() -> str:
    from .engine import LOSSES, REGULARIZERS, Objective, grad_check, make_dataset

    data = make_dataset("blobs", n=300, classes=3, seed=0)
    objective = Objective(data.X, data.y, loss="svm", margin=1.0, reg="l2", lam=0.1)
    theta0 = 0.01 * np.random.default_rng(0).standard_normal(objective.n_params)
    data_part, reg_part = objective.parts(theta0)
    check = grad_check(objective, theta0)
    lines = [
        f"losslab {__version__}: the default problem",
        f"  data        {data.source}: N={data.n_examples}, D={data.n_features}, C={data.n_classes}",
        f"  loss        {LOSSES[objective.loss_kind].label}: {LOSSES[objective.loss_kind].formula}",
        f"  regularizer {REGULARIZERS[objective.reg].label}, λ={objective.lam:g}: {REGULARIZERS[objective.reg].formula}",
        f"  parameters  θ = concat(W.ravel(), b), P = {objective.n_params}",
        f"  at θ0 ~ N(0, 0.01²): data loss {data_part:.4f} (≈ C − 1 = {data.n_classes - 1}), "
        f"reg loss {reg_part:.2e}, accuracy {objective.accuracy(theta0):.1%}",
        f"  gradient check: max relative error {check.max_rel_error:.1e} ({check.verdict})",
    ]
    return "\n".join(lines)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1600x1000, got {text!r}") from None
    if not (16 <= width <= 20000 and 16 <= height <= 20000):
        raise argparse.ArgumentTypeError(f"size must be between 16 and 20000 pixels a side, got {text!r}")
    return width, height


def _whole_number(name: str, least: int, meaning: str):
    """An argparse type: a whole number of at least ``least``, refused in one line naming ``name``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{name} must be {least} or more ({meaning}), got {text!r}")
        return value
    return parse


_frame = _whole_number("frame", 0, "the first step")
_step = _whole_number("a lesson's step", 1, "steps count from 1")


def _minutes(text: str) -> float:
    try:
        minutes = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"minutes must be a number, got {text!r}") from None
    if not 0 < minutes <= 10_000:
        raise argparse.ArgumentTypeError(f"minutes must be between 0 and 10000, got {text!r}")
    return minutes


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (and exit 2), like every other error here."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog.split()[0]} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .app.main import RENDER_FORMATS

    parser = Parser(prog="losslab", description="Loss landscapes of linear classifiers "
                                     "and the optimizers that cross them (CS231n lecture 3). "
                                     "Without a command, opens the window.")
    parser.add_argument("--version", action="version", version=f"losslab {__version__}")
    parser.add_argument("--open", metavar="SESSION", help="open a session file or preset in the window")
    parser.add_argument("--lesson", metavar="NAME", help="open a lesson (see: losslab lessons) at its first step")
    parser.add_argument("--step", type=_step, metavar="K", help="with --lesson: start at step K (from 1)")
    parser.add_argument("--presentation", action="store_true",
                        help="start in presentation mode: full screen, controls hidden, larger text (Esc leaves)")
    parser.add_argument("--summary", action="store_true",
                        help="print the default problem (data, objective, a gradient check) and exit")
    parser.add_argument("--play-for", type=float, metavar="SECONDS",
                        help="play the animation for SECONDS, then close the window (for smoke tests)")
    parser.add_argument("--export-png", metavar="PATH",
                        help="with --play-for: export the figure to PATH (as File ▸ Export does) before closing")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    render = commands.add_parser("render", help="render a session or preset to a file, without a window",
                                 description="Render a session file or a bundled preset without opening a "
                                             "window: figures (png, svg, pdf) at one frame, animations "
                                             "(gif, mp4), the trajectories (csv, npz) or the configuration (json).")
    render.add_argument("source", metavar="SESSION_OR_PRESET", help="a session .json file or a preset name")
    render.add_argument("-o", "--output", required=True, metavar="OUT", help="the file to write")
    render.add_argument("--format", choices=RENDER_FORMATS, help="default: from OUT's extension")
    render.add_argument("--size", type=_size, metavar="WxH", help="image size in pixels, e.g. 1600x1000")
    render.add_argument("--frame", type=_frame, metavar="N", help="the step shown in a figure (default: the last)")
    render.add_argument("--step", type=_step, metavar="K",
                        help="when SESSION_OR_PRESET is a lesson: render its step K (from 1; default 1), "
                             "at the step's frame unless --frame is given")
    render.add_argument("--view", choices=("2d", "3d"), default=None,
                        help="the landscape as contour panels (2d) or one shaded surface (3d, needs OpenGL: "
                             "a display, or xvfb-run); default: the session's")
    render.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    render.add_argument("--max-minutes", type=_minutes, default=None, metavar="M",
                        help="refuse a session estimated to compute for longer than M minutes (default: 5)")
    commands.add_parser("presets", help="list the bundled presets")
    commands.add_parser("lessons", help="list the bundled lessons (NAME and title, one a line)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "presets":
        from .io.session_file import list_presets
        for name, title, _ in list_presets():
            print(f"{name:28s} {title}")
        return 0
    if args.command == "lessons":
        from .io.lessons import list_lessons
        for name, title, _ in list_lessons():
            print(f"{name:20s} {title}")
        return 0
    if args.command == "render":
        from .app.main import render
        try:
            limit = {} if args.max_minutes is None else {"max_minutes": args.max_minutes}
            print(render(args.source, args.output, args.format, args.size, args.frame, args.force, **limit,
                         view=args.view, step=args.step))
        except Exception as err:  # one line, never a traceback
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            print(f"losslab render: error: {message}", file=sys.stderr)
            return _leave_qt(2)
        return _leave_qt(0)
    if args.summary:
        print(default_summary())
        return 0
    if args.export_png and args.play_for is None:
        parser.error("--export-png needs --play-for")
    if args.step is not None and args.lesson is None:
        parser.error("--step needs --lesson")
    if args.lesson and args.open:
        parser.error("open a session (--open) or a lesson (--lesson), not both")
    lesson = None
    if args.lesson:
        from .io.lessons import LessonError, load_lesson
        try:
            lesson = load_lesson(args.lesson)
            lesson.step(args.step or 1)
        except LessonError as err:
            print(f"losslab: error: {str(err).splitlines()[0]}", file=sys.stderr)
            return 2
    from .app.main import run_window
    return _leave_qt(run_window(sys.argv[:1], play_for=args.play_for, export_png=args.export_png,
                                open_path=args.open, lesson=lesson, step=args.step or 1,
                                presentation=args.presentation))


_AS_PROGRAM = __name__ == "__main__"  # python -m losslab; the installed command sets it too


def _leave_qt(code: int) -> int:
    """As a program, exit at once once Qt has run: every file is written and closed by now,
    and tearing Qt's and pyqtgraph's objects down in whatever order the interpreter picks
    can crash at exit (pyqtgraph's pg.exit does the same). Called from Python, just return."""
    if _AS_PROGRAM and "PyQt6.QtWidgets" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def entry_point() -> None:
    """The installed ``losslab`` command."""
    global _AS_PROGRAM
    _AS_PROGRAM = True
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
