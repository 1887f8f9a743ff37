"""Lessons in the window: the lesson bar, the lesson browser, and the guide that walks the window
through a lesson's steps (see :mod:`losslab.io.lessons` for the file format).

A step is shown by committing its session like any other change (the old state stays until it
is computed), then stopping the clock at the step's frame and pointing at what the text talks
about. The user may play with every control meanwhile; the bar then offers to show the step
again.
"""
from __future__ import annotations

from dataclasses import replace

from PyQt6.QtCore import QEvent, QObject, QRect, QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QPainter, QPen
from PyQt6.QtWidgets import (QDialog, QDialogButtonBox, QFrame, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                             QPushButton, QSizePolicy, QSplitter, QToolButton, QVBoxLayout, QWidget)

from ..io.lessons import Lesson, LessonError, list_lessons, load_lesson
from ..io.session_file import SessionError
from .session import view_from_dict

POINTER_COLOR = "#ff8c1a"  # an orange that stands out on the light and the dark theme and on every colour map
POINTER_MS = 4000  # how long the outline around what a step points at stays
# the user's own view settings: a step that does not name them keeps the user's (a dark theme stays dark)
USER_VIEW_FIELDS = ("theme",)


class LessonBar(QFrame):
    """The lesson's title, the step number, its text, and Back / Next / Show this step again / Close.

    Signals: ``back``, ``next``, ``again``, ``closed``.
    """

    back = pyqtSignal()
    next = pyqtSignal()
    again = pyqtSignal()
    closed = pyqtSignal()

    TEXT_PIXELS = 15  # the step's text; presentation mode sets PRESENTATION_TEXT_PIXELS
    PRESENTATION_TEXT_PIXELS = 24
    # presenting, the buttons are symbols (their words are in the tooltips): the title keeps the room
    BUTTON_TEXTS = {"again": ("Show this step again", "↺"), "back": ("◀ Back", "◀"), "next": ("Next ▶", "▶")}

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("lesson_bar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.heading = QLabel()
        self.heading.setObjectName("label_lesson_heading")
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.heading.setWordWrap(True)  # a long title takes a second line rather than being cut
        self.heading.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.text = QLabel()
        self.text.setObjectName("label_lesson_text")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.back_button = QPushButton("◀ Back")
        self.back_button.setObjectName("button_lesson_back")
        self.back_button.setToolTip("the step before (Page Up)")
        self.next_button = QPushButton("Next ▶")
        self.next_button.setObjectName("button_lesson_next")
        self.next_button.setToolTip("the next step (Page Down)")
        self.again_button = QPushButton("Show this step again")
        self.again_button.setObjectName("button_lesson_again")
        self.again_button.setToolTip("show this step again: back to what it shows, after trying the controls")
        self.close_button = QToolButton()
        self.close_button.setObjectName("button_lesson_close")
        self.close_button.setText("✕")
        self.close_button.setToolTip("close the lesson (the window keeps what it shows)")
        self.back_button.clicked.connect(self.back)
        self.next_button.clicked.connect(self.next)
        self.again_button.clicked.connect(self.again)
        self.close_button.clicked.connect(self.closed)

        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        for button in (self.again_button, self.back_button, self.next_button, self.close_button):
            top.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.addLayout(top)
        layout.addWidget(self.text)
        self.presenting = False
        self._set_text_size()

    def show_step(self, lesson: Lesson, number: int) -> None:
        step = lesson.step(number)
        self.heading.setText(f"<b>{lesson.title}</b> &nbsp;·&nbsp; step {number} of {len(lesson.steps)}: "
                             f"<b>{step.title}</b>")
        self.heading.setToolTip(lesson.description)
        self.text.setText(step.text)
        self.back_button.setEnabled(number > 1)
        self.next_button.setEnabled(number < len(lesson.steps))
        self.set_modified(False)

    def set_modified(self, modified: bool) -> None:
        """Whether the window shows something else than the step now (the user has changed something)."""
        self.again_button.setEnabled(modified)

    def set_presentation(self, presenting: bool) -> None:
        self.presenting = presenting
        self._set_text_size()

    def text_pixels(self) -> int:
        return self.PRESENTATION_TEXT_PIXELS if self.presenting else self.TEXT_PIXELS

    def _set_text_size(self) -> None:
        pixels = self.text_pixels()
        for name, button in (("again", self.again_button), ("back", self.back_button), ("next", self.next_button)):
            button.setText(self.BUTTON_TEXTS[name][self.presenting])
        for widget, size in ((self.text, pixels), (self.heading, round(pixels * 0.85))):
            font = QFont(widget.font())
            font.setPixelSize(size)
            widget.setFont(font)
        for button in (self.back_button, self.next_button, self.again_button, self.close_button):
            font = QFont(button.font())
            font.setPixelSize(round(pixels * 0.8))
            button.setFont(font)


class Pointer(QWidget):
    """An orange outline drawn over a part of the window, for a few seconds: "look here"."""

    MARGIN = 3

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("lesson_pointer")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.hide()
        self.target: QWidget | None = None
        self.target_rect: QRect | None = None  # in the target's coordinates; None: all of it
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)

    def point_at(self, target: QWidget, rect: QRect | None = None) -> None:
        if self.target is not None:
            self.target.removeEventFilter(self)
        self.target, self.target_rect = target, rect
        target.installEventFilter(self)  # it follows when the layout moves or resizes the target
        self.follow()
        QTimer.singleShot(0, self.follow)  # a dock just shown is placed by the next layout pass
        self.show()
        self.raise_()
        self._timer.start(POINTER_MS)

    def follow(self) -> None:
        """Sit over the target wherever it is now (the window was resized, a dock moved)."""
        if self.target is None:
            return
        rect = self.target_rect if self.target_rect is not None else self.target.rect()
        top_left = self.target.mapTo(self.parentWidget(), rect.topLeft())
        m = self.MARGIN
        self.setGeometry(QRect(top_left, rect.size()).adjusted(-m, -m, m, m))

    def eventFilter(self, watched, event) -> bool:
        if watched is self.target and event.type() in (QEvent.Type.Move, QEvent.Type.Resize) and self.isVisible():
            self.follow()
        return False

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor(POINTER_COLOR), 4)
        painter.setPen(pen)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(2, 2, -2, -2), 6, 6)
        painter.end()


class LessonGuide(QObject):
    """Walks a window through a lesson: shows a step's session, stops at its frame, points at its subject.

    ``window`` provides ``session``, ``clock``, ``lesson_bar``, ``show_message`` and
    ``point_at(kind, target)``. Signals: ``stepShown(int)`` once a step is on screen
    (its session computed, the clock at its frame).
    """

    stepShown = pyqtSignal(int)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.lesson: Lesson | None = None
        self.number = 0
        self._arriving = False  # a step's session is being computed
        self._shown = None  # (experiment, view) the step asked for, as the session holds them
        bar = window.lesson_bar
        bar.back.connect(lambda: self.go(self.number - 1))
        bar.next.connect(lambda: self.go(self.number + 1))
        bar.again.connect(lambda: self.go(self.number))
        bar.closed.connect(self.close)
        window.session.committed.connect(self._on_committed)
        window.session.viewChanged.connect(lambda _view: self._show_modified())
        window.session.pendingChanged.connect(self._on_pending)

    @property
    def step(self):
        return self.lesson.step(self.number) if self.lesson is not None else None

    def open(self, lesson: Lesson | str, number: int = 1) -> bool:
        """Start a lesson (or a bundled lesson's name) at step ``number``; a bad one is named and changes nothing."""
        try:
            lesson = load_lesson(lesson) if isinstance(lesson, str) else lesson
            lesson.step(number)
        except SessionError as err:
            self.window.show_message(str(err))
            return False
        previous = self.lesson, self.number
        self.lesson = lesson
        if not self.go(number):
            self.lesson, self.number = previous
            return False
        self.window.lesson_bar.show()
        return True

    def go(self, number: int) -> bool:
        """Show step ``number`` (from 1): its session is committed once computed, then it stops at its frame."""
        if self.lesson is None or not 1 <= number <= len(self.lesson.steps):
            return False
        step = self.lesson.step(number)
        session = self.window.session
        try:
            view = view_from_dict(step.view)
        except SessionError as err:
            self.window.show_message(f"lesson {self.lesson.name}, step {number}: {err}")
            return False
        view = replace(view, **{name: getattr(session.view, name) for name in USER_VIEW_FIELDS
                                if name not in step.view})
        if not session.set_experiment(step.experiment, view):
            return False
        self.number = number
        self._shown = (session.target, view)
        self.window.lesson_bar.show_step(self.lesson, number)
        self._arriving = True
        if session.pending is None:  # nothing to compute: the window shows it already
            self._arrive()
        return True

    def close(self) -> None:
        self.lesson, self.number, self._arriving, self._shown = None, 0, False, None
        self.window.lesson_bar.hide()
        self.window.lesson_closed()

    def _on_committed(self, _snapshot) -> None:
        if self._arriving and self.window.session.experiment != self._shown[0]:
            self._arriving = False  # another change was asked for meanwhile: that is what is shown now
        if self._arriving:
            self._arrive()
        else:
            self._show_modified()

    def _on_pending(self, pending: bool) -> None:
        if not pending and self._arriving and self.window.session.snapshot is not None \
                and self.window.session.experiment != self._shown[0]:
            self._arriving = False  # the step's session failed or was replaced: the message says why

    def _arrive(self) -> None:
        self._arriving = False
        step, clock = self.step, self.window.clock
        last = clock.n_frames - 1
        clock.pause()
        clock.seek(min(step.frame, last) if step.frame is not None else 0)
        if step.frame is None:
            clock.play()
        if step.point_at is not None:
            self.window.point_at(*step.point_at)
        self._show_modified()
        self.stepShown.emit(self.number)

    def modified(self) -> bool:
        """Whether the window shows something else than the step asked for."""
        if self._shown is None:
            return False
        session = self.window.session
        experiment, view = self._shown
        own = {name: getattr(session.view, name) for name in USER_VIEW_FIELDS}  # changing those is no change
        return session.target != experiment or session.view != replace(view, **own)

    def _show_modified(self) -> None:
        if self.lesson is not None and not self._arriving:
            self.window.lesson_bar.set_modified(self.modified())


class LessonBrowser(QDialog):
    """The bundled lessons: pick one, read what it covers and its steps, open it (Help ▸ Lessons)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("lesson_browser")
        self.setWindowTitle("Lessons")
        self.resize(860, 440)
        self.list = QListWidget()
        self.list.setObjectName("list_lessons")
        self.details = QLabel()
        self.details.setObjectName("label_lesson_details")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setContentsMargins(10, 4, 4, 4)
        self.lessons: dict[str, Lesson] = {}
        for name, title, _ in list_lessons():
            item = QListWidgetItem(title)
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.list.addItem(item)
        splitter = QSplitter()
        splitter.addWidget(self.list)
        splitter.addWidget(self.details)
        splitter.setSizes([380, 480])  # the longest title fits
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.open_button = buttons.button(QDialogButtonBox.StandardButton.Open)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(buttons)
        self.list.currentItemChanged.connect(self._show_details)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        if self.list.count():
            self.list.setCurrentRow(0)

    def chosen(self) -> Lesson | None:
        item = self.list.currentItem()
        return self.lessons.get(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def _show_details(self, item, _previous=None) -> None:
        if item is None:
            return
        name = item.data(Qt.ItemDataRole.UserRole)
        try:
            lesson = self.lessons.get(name) or load_lesson(name)
        except LessonError as err:
            self.details.setText(f"<b>This lesson cannot be opened.</b><br>{err}")
            self.open_button.setEnabled(False)
            return
        self.lessons[name] = lesson
        steps = "".join(f"<li>{step.title}</li>" for step in lesson.steps)
        self.details.setText(f"<h3>{lesson.title}</h3><p>{lesson.description}</p><ol>{steps}</ol>")
        self.open_button.setEnabled(True)
