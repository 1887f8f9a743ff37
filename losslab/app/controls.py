"""The control panels, built from the engine's registries.

Each panel shows one part of the session's experiment and calls the session's setters;
when the session changes (from here, a file or a click on a contour) the panel re-syncs
with its own signals blocked, so nothing echoes back.
"""
from __future__ import annotations

import html

from dataclasses import replace

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QPixmap, QIcon
from PyQt6.QtWidgets import (QCheckBox, QColorDialog, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                             QLabel, QPushButton, QScrollArea, QToolButton, QVBoxLayout, QWidget)

from ..engine.datasets import BUNDLED, DATASETS
from ..engine.experiment import CENTRES, INIT_SCALE, INIT_SEED, SPAN, STEPS, Experiment
from ..engine.losses import LOSSES, MARGIN
from ..engine.models import ACTIVATION, HIDDEN, MODELS
from ..engine.optimizers import OPTIMIZERS
from ..engine.planes import PLANES
from ..engine.registry import Param
from ..engine.regularizers import BETA, LAM, REGULARIZERS
from ..engine.surfaces import SURFACES
from .session import COLORMAPS, Session
from .views import run_color, run_label
from .curvature_view import add_lr_max_row
from .widgets import TURN_MS, LogSlider, MutedLabel, NumberField, ParamForm, formula_html

SOURCE_LABELS = {"generated": "Generated 2-D data", "bundled": "Bundled dataset", "csv": "CSV file",
                 "points": "Edited points (in the session)", "surface": "Test surface (no data)"}
SEED = Param("seed", 0, "seed", kind=int, low=0, high=2**31 - 1, help="seed of the random generator")
ACTIVATION_LABELS = {"relu": "ReLU: max(0, z)", "tanh": "tanh(z)"}
# the plane's centre: (label, what it is)
CENTRE_LABELS = {
    "zero": ("θ = 0 (the origin)",
             "every parameter 0: the regularizer's bowl is centred here; a network sits on its symmetric point, "
             "where every hidden unit gets the same gradient (0 for ReLU) and nothing learns"),
    "init": ("the random start",
             "the model's seeded small random start: weights = init scale × N(0, 1), biases 0 "
             "(set on the Loss tab)"),
    "optimum": ("the optimum",
                "the minimizer found by a long full-batch run (for a network, one of many minima)"),
}
RUN_STEPS = Param("steps", 0, "steps (0: shared)", kind=int, low=0, high=100_000,
                  help="this optimizer's number of steps; 0 uses the number set above for every optimizer")


def combo(items: list[tuple[str, str]], current: str, tooltip: str = "", name: str = "") -> QComboBox:
    """A combo box of (key, label) items; ``currentData()`` is the key."""
    box = QComboBox()
    for key, label in items:
        box.addItem(label, key)
    box.setCurrentIndex(max(0, box.findData(current)))
    box.setToolTip(tooltip)
    if name:
        box.setObjectName(name)
    return box


def registry_items(registry) -> list[tuple[str, str]]:
    return [(name, entry.label) for name, entry in registry.items()]


def set_combo(box: QComboBox, key) -> None:
    box.blockSignals(True)
    box.setCurrentIndex(max(0, box.findData(key)))
    box.blockSignals(False)


def set_item_tooltips(box: QComboBox, tooltips: dict[str, str]) -> None:
    """Each item's own tooltip (shown over the open list), by key."""
    for k in range(box.count()):
        tip = tooltips.get(box.itemData(k))
        if tip:
            box.setItemData(k, tip, Qt.ItemDataRole.ToolTipRole)


def set_number_combo(box: QComboBox, value: int, label) -> None:
    """Show ``value`` in a combo of round numbers, adding it in order if a file brought another one."""
    if box.findData(str(value)) < 0:
        place = sum(1 for k in range(box.count()) if int(box.itemData(k)) < value)
        box.blockSignals(True)
        box.insertItem(place, label(value), str(value))
        box.blockSignals(False)
    set_combo(box, str(value))


def discard(widget: QWidget, layout) -> None:
    """Take ``widget`` out of ``layout`` and off the screen now; Qt deletes it when it gets back to its loop.

    Not deleted at once: the widget may be the one whose signal led here. ``deleteLater``
    comes last, for ownership: ``removeWidget`` hands the wrapper to Python, ``deleteLater`` back
    to C++. Left with Python, a widget whose connected lambdas refer back to it would be deleted
    by the garbage collector, whenever a pass happens to start: possibly inside one of its
    own event handlers (a palette change), freeing it under Qt's feet.
    """
    layout.removeWidget(widget)
    widget.hide()
    widget.deleteLater()


def swatch(color: str) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(color))
    return QIcon(pixmap)


class Panel(QWidget):
    """A control panel bound to the session; subclasses build and sync their widgets."""

    rejected = pyqtSignal(str)

    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        self.form = QFormLayout(self)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        session.experimentChanged.connect(self.sync)

    def sync(self, experiment: Experiment) -> None:
        raise NotImplementedError

    def field(self, param: Param, value, setter) -> NumberField:
        field = NumberField(param, value)
        field.committed.connect(setter)
        field.rejected.connect(self.rejected)
        return field


class ProblemPanel(Panel):
    """Dataset (generated, bundled, CSV) or test surface."""

    def __init__(self, session: Session):
        super().__init__(session)
        p = session.target.problem
        self.source = combo(list(SOURCE_LABELS.items()), p.source, "what to fit", "combo_source")
        self.source.currentIndexChanged.connect(self._source_changed)
        self.form.addRow("Problem", self.source)
        self.kind = QComboBox()
        self.kind.setObjectName("combo_kind")
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.form.addRow("Kind", self.kind)
        self.n = self.field(DATASETS["blobs"].param("n"), p.n, lambda v: session.set_problem(n=v))
        self.classes = self.field(DATASETS["blobs"].param("classes"), p.classes, lambda v: session.set_problem(classes=v))
        self.noise = self.field(DATASETS[p.kind].param("noise") if p.kind in DATASETS else DATASETS["blobs"].param("noise"),
                                p.noise if p.noise is not None else 0.0, lambda v: session.set_problem(noise=v))
        self.seed = self.field(SEED, p.seed, lambda v: session.set_problem(seed=v))
        self.standardize = QCheckBox("standardize features")
        self.standardize.setToolTip("shift each feature to mean 0 and scale it to standard deviation 1")
        self.standardize.toggled.connect(lambda on: session.set_problem(standardize=on))
        self.csv_button = QPushButton("Open CSV…")
        self.csv_button.clicked.connect(self.open_csv)
        self.csv_label = QLabel()
        self.csv_label.setWordWrap(True)
        self.surface_form: ParamForm | None = None
        self._surface_kind: str | None = None
        self.surface_box = QWidget()
        QVBoxLayout(self.surface_box).setContentsMargins(0, 0, 0, 0)
        for label, widget in (("N", self.n), ("Classes", self.classes), ("Noise", self.noise), ("Seed", self.seed),
                              ("", self.standardize), ("", self.csv_button), ("", self.csv_label),
                              ("", self.surface_box)):
            self.form.addRow(label, widget)
        self.description = MutedLabel()
        self.description.setWordWrap(True)
        self.description.setTextFormat(Qt.TextFormat.RichText)
        self.form.addRow(self.description)
        self.sync(session.experiment)

    def _source_changed(self) -> None:
        source = self.source.currentData()
        if source == "points":  # the data shown becomes points carried by the session, to edit
            if not self.session.edit_points(lambda X, y: (X, y)):
                set_combo(self.source, self.session.target.problem.source)
            return
        default_kind = {"generated": "blobs", "bundled": "iris", "surface": "rosenbrock", "csv": ""}[source]
        if source == "csv":
            if not self.open_csv():
                set_combo(self.source, self.session.target.problem.source)
            return
        self.session.set_problem(source=source, kind=default_kind, surface_params=())

    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        if kind is not None:
            self.session.set_problem(kind=kind, surface_params=(), noise=None)

    ask_path = None  # the window's file dialog (it remembers the last folder); a plain one otherwise

    def open_csv(self) -> bool:
        filters = "CSV files (*.csv *.csv.gz);;All files (*)"
        if self.ask_path is not None:
            path = self.ask_path("Open a CSV dataset", "", filters, save=False)
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Open a CSV dataset", "", filters)
        if not path:
            return False
        return self.session.set_problem(source="csv", path=path, kind="")

    def sync(self, experiment: Experiment) -> None:
        p = experiment.problem
        set_combo(self.source, p.source)
        registry = {"generated": DATASETS, "bundled": BUNDLED, "surface": SURFACES}.get(p.source)
        self.kind.blockSignals(True)
        self.kind.clear()
        if registry is not None:
            for key, label in registry_items(registry):
                self.kind.addItem(label, key)
            self.kind.setCurrentIndex(max(0, self.kind.findData(p.kind)))
        self.kind.blockSignals(False)
        self.kind.setEnabled(registry is not None)
        generated = p.source == "generated"
        for widget in (self.n, self.classes, self.noise, self.seed):
            self.form.setRowVisible(widget, generated)
        if generated:
            noise_param = DATASETS[p.kind].param("noise")
            self.noise.param = noise_param
            self.n.set_value(p.n)
            self.classes.set_value(p.classes)
            self.noise.set_value(noise_param.default if p.noise is None else p.noise)
            self.seed.set_value(p.seed)
        self.form.setRowVisible(self.standardize, p.source in ("bundled", "csv"))
        self.standardize.blockSignals(True)
        self.standardize.setChecked(p.standardize)
        self.standardize.blockSignals(False)
        self.form.setRowVisible(self.csv_button, p.source == "csv")
        self.form.setRowVisible(self.csv_label, p.source == "csv")
        self.csv_label.setText(p.path)
        self.form.setRowVisible(self.surface_box, p.source == "surface")
        if p.source == "surface":
            entry = SURFACES[p.kind]
            values = entry.defaults | dict(p.surface_params)
            if self._surface_kind == p.kind:
                self.surface_form.set_values(values)  # the same surface: show its values, keep its editors
            else:
                if self.surface_form is not None:
                    discard(self.surface_form, self.surface_box.layout())
                self.surface_form = ParamForm(entry.params, values)
                self.surface_form.changed.connect(self._surface_param)
                self.surface_form.rejected.connect(self.rejected)
                self.surface_box.layout().addWidget(self.surface_form)
                self._surface_kind = p.kind
        entry = registry[p.kind] if registry is not None else None
        if p.source == "points":
            self.kind.addItem(p.kind or "points")
            points = p.points
            name = f"{html.escape(p.kind)}: " if p.kind else ""
            self.description.setText(
                f"{name}{points.n_examples} examples × {points.n_features} features, {points.n_classes} classes, "
                f"carried inside the session file." +
                (" In the data view: drag a point to move it, Shift+click to add one, right-click to delete "
                 "or relabel it." if points.n_features == 2 else ""))
        else:
            self.description.setText(formula_html(f"{entry.description}\n{entry.formula}".strip()) if entry else "")

    def _surface_param(self, name: str, value) -> None:
        params = dict(self.session.target.problem.surface_params) | {name: value}
        self.session.set_problem(surface_params=tuple(sorted(params.items())))


class ModelPanel(Panel):
    """The score function: linear classifier or two-layer network, its width and activation, its random start."""

    def __init__(self, session: Session):
        super().__init__(session)
        m = session.target.model
        self.kind = combo(registry_items(MODELS), m.kind, "the score function s(x; θ) the loss is computed on",
                          "combo_model")
        set_item_tooltips(self.kind, {name: entry.description for name, entry in MODELS.items()})
        self.kind.currentIndexChanged.connect(lambda: session.set_model(kind=self.kind.currentData()))
        self.formula = QLabel()
        self.formula.setObjectName("label_model_formula")
        self.formula.setWordWrap(True)
        self.formula.setTextFormat(Qt.TextFormat.RichText)
        self.hidden = self.field(HIDDEN, m.hidden, lambda v: session.set_model(hidden=v))
        self.activation = combo([(a, ACTIVATION_LABELS.get(a, a)) for a in ACTIVATION.choices], m.activation,
                                ACTIVATION.help, "combo_activation")
        self.activation.currentIndexChanged.connect(
            lambda: session.set_model(activation=self.activation.currentData()))
        self.init_scale = self.field(INIT_SCALE, m.init_scale, lambda v: session.set_model(init_scale=v))
        self.init_seed = self.field(INIT_SEED, m.init_seed, lambda v: session.set_model(init_seed=v))
        self.description = MutedLabel()
        self.description.setObjectName("label_model_description")
        self.description.setWordWrap(True)
        self.description.setTextFormat(Qt.TextFormat.RichText)
        for label, widget in (("Model", self.kind), ("", self.formula), ("Hidden units H", self.hidden),
                              ("Activation", self.activation), ("Init scale", self.init_scale),
                              ("Init seed", self.init_seed)):
            self.form.addRow(label, widget)
        self.form.addRow(self.description)
        self.sync(session.experiment)

    def sizes(self, experiment: Experiment) -> str:
        """The committed model's parameter shapes, "W₁ (2 × 16), b₁ (16), …: P = 99 parameters"
        (empty while another model or problem is being computed: its sizes are not known yet)."""
        committed = self.session.experiment
        model = self.session.problem.model if self.session.problem is not None else None
        if model is None or (committed.model, committed.problem) != (experiment.model, experiment.problem):
            return ""
        shapes = ", ".join(f"{subscripted(g.name)} ({' × '.join(str(n) for n in g.shape)})" for g in model.groups)
        return f"{shapes}: P = {model.n_params} parameters"

    def sync(self, experiment: Experiment) -> None:
        m = experiment.model
        surface = experiment.problem.source == "surface"
        self.setEnabled(not surface)
        self.setToolTip("a test surface is its own function of (x, y): no model" if surface else "")
        set_combo(self.kind, m.kind)
        set_combo(self.activation, m.activation)
        self.hidden.set_value(m.hidden)
        self.init_scale.set_value(m.init_scale)
        self.init_seed.set_value(m.init_seed)
        entry = MODELS[m.kind]
        self.formula.setText(formula_html(entry.formula))
        self.kind.setToolTip(entry.description)
        takes = {p.name for p in entry.params}  # the rows of the parameters this model has
        for widget, name in ((self.hidden, "hidden"), (self.activation, "activation")):
            self.form.setRowVisible(widget, name in takes)
        network = not entry.extra["capabilities"] >= {"convex"}
        # the random start matters where the plane goes through it, and for a network always
        # (its optimum is searched from there: from θ = 0 it could not break its symmetry)
        for widget in (self.init_scale, self.init_seed):
            self.form.setRowVisible(widget, network or experiment.plane.centre == "init")
        self.description.setText(formula_html("\n".join(t for t in (entry.description, self.sizes(experiment)) if t)))


def subscripted(name: str) -> str:
    """``W1`` as ``W₁`` (formula_html shows it as a subscript)."""
    return name.translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


class ObjectivePanel(Panel):
    """Loss, margin, regularizer, λ and β, with the formulas."""

    def __init__(self, session: Session):
        super().__init__(session)
        o = session.target.objective
        self.loss = combo(registry_items(LOSSES), o.loss, "the data loss Lᵢ of one example", "combo_loss")
        self.loss.currentIndexChanged.connect(lambda: session.set_objective(loss=self.loss.currentData()))
        self.loss_formula = QLabel()
        self.loss_formula.setWordWrap(True)
        self.loss_formula.setTextFormat(Qt.TextFormat.RichText)
        self.margin = self.field(MARGIN, o.margin, lambda v: session.set_objective(margin=v))
        self.reg = combo(registry_items(REGULARIZERS), o.reg,
                         "the penalty R on the weights (W; a network's W₁ and W₂ together); "
                         "biases are never regularized", "combo_reg")
        self.reg.currentIndexChanged.connect(lambda: session.set_objective(reg=self.reg.currentData()))
        self.reg_formula = QLabel()
        self.reg_formula.setWordWrap(True)
        self.reg_formula.setTextFormat(Qt.TextFormat.RichText)
        self.lam = LogSlider(LAM, o.lam, low_exp=-4.0, high_exp=2.0)
        self.lam.committed.connect(lambda v: session.set_objective(lam=v))
        self.lam.rejected.connect(self.rejected)
        self.beta = self.field(BETA, o.beta, lambda v: session.set_objective(beta=v))
        for label, widget in (("Loss", self.loss), ("", self.loss_formula), ("Margin Δ", self.margin),
                              ("Regularizer", self.reg), ("", self.reg_formula), ("λ", self.lam), ("β", self.beta)):
            self.form.addRow(label, widget)
        self.total = MutedLabel(formula_html("L = (1/N) Σᵢ Lᵢ + λ R(weights)"))
        self.total.setObjectName("label_total_formula")
        self.total.setWordWrap(True)
        self.total.setTextFormat(Qt.TextFormat.RichText)
        self.form.addRow(self.total)
        self.sync(session.experiment)

    def sync(self, experiment: Experiment) -> None:
        o = experiment.objective
        surface = experiment.problem.source == "surface"
        self.setEnabled(not surface)
        self.setToolTip("a test surface is its own loss: no data loss, no penalty" if surface else "")
        set_combo(self.loss, o.loss)
        set_combo(self.reg, o.reg)
        self.loss_formula.setText(formula_html(LOSSES[o.loss].formula))
        self.loss.setToolTip(LOSSES[o.loss].description)
        network = experiment.model.kind != "linear"
        reg_formula = REGULARIZERS[o.reg].formula
        if network and o.reg != "none":  # the registry writes R(W): a network's weights are W₁ and W₂
            reg_formula += "\nover the weights W₁ and W₂ together (never the biases)"
        self.reg_formula.setText(formula_html(reg_formula))
        self.reg.setToolTip(REGULARIZERS[o.reg].description)
        self.margin.set_value(o.margin)
        self.lam.set_value(o.lam)
        self.beta.set_value(o.beta)
        self.form.setRowVisible(self.margin, bool(LOSSES[o.loss].params))
        self.form.setRowVisible(self.beta, bool(REGULARIZERS[o.reg].params))
        self.form.setRowVisible(self.lam, o.reg != "none")


class PlanePanel(Panel):
    """The slice: kind, axes, seed, centre, span, resolution; where the optimizers run; the start."""

    def __init__(self, session: Session):
        super().__init__(session)
        pl = session.target.plane
        self.kind = combo(registry_items(PLANES), pl.kind, "which 2-D slice of parameter space to draw", "combo_plane")
        self.kind.currentIndexChanged.connect(lambda: session.set_plane(kind=self.kind.currentData()))
        self.axis_a = QComboBox()
        self.axis_a.setObjectName("combo_axis_a")
        self.axis_b = QComboBox()
        self.axis_b.setObjectName("combo_axis_b")
        self.axis_a.currentTextChanged.connect(
            lambda text: text and session.set_plane(axes=(text, session.target.plane.axes[1])))
        self.axis_b.currentTextChanged.connect(
            lambda text: text and session.set_plane(axes=(session.target.plane.axes[0], text)))
        self.seed = self.field(SEED, pl.seed, lambda v: session.set_plane(seed=v))
        self.centre = combo([(c, CENTRE_LABELS[c][0] if c in CENTRE_LABELS else c) for c in CENTRES], pl.centre,
                            "the point the plane goes through", "combo_centre")
        set_item_tooltips(self.centre, {c: text for c, (_, text) in CENTRE_LABELS.items()})
        self.centre.currentIndexChanged.connect(lambda: session.set_plane(centre=self.centre.currentData()))
        self.span = self.field(SPAN, pl.span, lambda v: session.set_plane(span=v))
        self.resolution = combo([(str(n), f"{n} × {n}") for n in (64, 128, 256, 512)], str(pl.resolution),
                                "grid points per side", "combo_resolution")
        self.resolution.currentIndexChanged.connect(lambda: session.set_plane(resolution=int(self.resolution.currentData())))
        self.space = combo([("slice", "inside the slice"), ("full", "in full space (projected)")],
                           session.target.space, "where the optimizers run", "combo_space")
        self.space.currentIndexChanged.connect(lambda: session.set_space(self.space.currentData()))
        start_param = Param("start", 0.0, "start", low=-1e6, high=1e6)
        self.start_a = self.field(replace_name(start_param, "a"), session.target.start[0],
                                  lambda v: session.set_start(v, session.target.start[1]))
        self.start_b = self.field(replace_name(start_param, "b"), session.target.start[1],
                                  lambda v: session.set_start(session.target.start[0], v))
        start = QWidget()
        row = QHBoxLayout(start)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.start_a)
        row.addWidget(self.start_b)
        for label, widget in (("Plane", self.kind), ("a axis", self.axis_a), ("b axis", self.axis_b),
                              ("Seed", self.seed), ("Centre", self.centre), ("Half-width", self.span),
                              ("Resolution", self.resolution), ("Optimizers run", self.space),
                              ("Start (a, b)", start)):
            self.form.addRow(label, widget)
        hint = MutedLabel("Click a contour to move the start.")
        self.form.addRow(hint)
        self._labels: list[str] = []
        session.committed.connect(lambda snapshot: self._problem_ready(snapshot.computed.problem))
        self.sync(session.experiment)

    def _problem_ready(self, problem) -> None:
        model = problem.model
        labels = list(model.labels) if model is not None else ["x", "y"]  # the model names its coordinates
        if labels != self._labels:
            self._labels = labels
            for box in (self.axis_a, self.axis_b):
                box.blockSignals(True)
                box.clear()
                box.addItems(labels)
                box.blockSignals(False)
        self.sync(self.session.target)

    def sync(self, experiment: Experiment) -> None:
        pl = experiment.plane
        surface = experiment.problem.source == "surface"
        set_combo(self.kind, pl.kind)
        set_combo(self.centre, pl.centre)
        set_number_combo(self.resolution, pl.resolution, lambda n: f"{n} × {n}")
        set_combo(self.space, experiment.space)
        for box, axis in zip((self.axis_a, self.axis_b), pl.axes):
            box.blockSignals(True)
            box.setCurrentIndex(box.findText(axis))
            box.blockSignals(False)
        self.seed.set_value(pl.seed)
        self.span.set_value(pl.span)
        self.start_a.set_value(experiment.start[0])
        self.start_b.set_value(experiment.start[1])
        for widget in (self.kind, self.centre, self.space, self.span):
            self.form.setRowVisible(widget, not surface)
        from_runs = PLANES[pl.kind].extra["from_runs"]  # these planes are made from full-space runs
        self.space.setEnabled(not from_runs)
        self.space.setToolTip("pca and interpolation planes are made from runs in full space" if from_runs
                              else "where the optimizers run")
        self.form.setRowVisible(self.axis_a, pl.kind == "axes" and not surface)
        self.form.setRowVisible(self.axis_b, pl.kind == "axes" and not surface)
        self.form.setRowVisible(self.seed, pl.kind == "random" and not surface)
        self.kind.setToolTip(PLANES[pl.kind].description)
        self.centre.setToolTip("the point the plane goes through: "
                               + CENTRE_LABELS.get(pl.centre, (pl.centre, ""))[1])


def replace_name(param: Param, name: str) -> Param:
    return replace(param, name=name, label=name)


class RunEditor(QGroupBox):
    """One optimizer: on/off, colour, hyperparameters, seed, remove."""

    def __init__(self, session: Session, index: int, color: str):
        spec = session.target.runs[index]
        entry = OPTIMIZERS[spec.method]
        super().__init__(entry.label)
        self.setObjectName(f"run_{index}")
        self.setCheckable(True)
        self.setChecked(spec.enabled)
        self.setToolTip(f"{entry.description}\n{entry.formula}")
        self.toggled.connect(lambda on: session.set_run(index, enabled=on))
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        dot = QToolButton()
        dot.setObjectName(f"color_{index}")
        dot.setIcon(swatch(color))
        dot.setToolTip("the colour of this optimizer's path and curve: click to choose")
        dot.clicked.connect(lambda: self._choose_color(session, index, color))
        formula = MutedLabel(formula_html(entry.formula))
        formula.setTextFormat(Qt.TextFormat.RichText)
        formula.setWordWrap(True)
        remove = QToolButton()
        remove.setText("✕")
        remove.setToolTip("remove this optimizer")
        remove.clicked.connect(lambda: session.remove_run(index))
        top.addWidget(dot)
        top.addWidget(formula, 1)
        top.addWidget(remove)
        layout.addLayout(top)
        shown = [p for p in entry.params if p.name != "tol" or p.name in spec.hyper_dict]
        self.form = ParamForm(shown + [RUN_STEPS, SEED], self._values(spec))
        self.lr_max = add_lr_max_row(self.form)  # the largest stable lr where the runs start (curvature)
        self.form.changed.connect(lambda name, value: self._changed(session, index, name, value))
        layout.addWidget(self.form)
        self.rejected = self.form.rejected

    @staticmethod
    def _values(spec) -> dict:
        return OPTIMIZERS[spec.method].defaults | spec.hyper_dict | {"seed": spec.seed, "steps": spec.steps or 0}

    @staticmethod
    def _changed(session: Session, index: int, name: str, value) -> None:
        if name == "seed":
            session.set_run(index, seed=value)
        elif name == "steps":
            session.set_run(index, steps=value or None)  # 0: the number shared by every run
        else:
            session.set_hyper(index, name, value)

    def _choose_color(self, session: Session, index: int, current: str) -> None:
        chosen = QColorDialog.getColor(QColor(current), self, "Colour of this optimizer")
        if chosen.isValid():
            session.set_run(index, color=chosen.name())

    def show_spec(self, spec) -> None:
        self.blockSignals(True)
        self.setChecked(spec.enabled)
        self.blockSignals(False)
        self.form.set_values(self._values(spec))


class OptimizersPanel(QWidget):
    """Every optimizer's editor, the number of steps, and a way to add more."""

    rejected = pyqtSignal(str)

    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        outer = QVBoxLayout(self)
        top = QFormLayout()
        self.steps = NumberField(STEPS, session.target.steps)
        self.steps.committed.connect(session.set_steps)
        self.steps.rejected.connect(self.rejected)
        top.addRow("Steps", self.steps)
        add_row = QHBoxLayout()
        self.method = combo(registry_items(OPTIMIZERS), "adam", "an optimizer to add", "combo_add_method")
        add = QPushButton("Add")
        add.setObjectName("button_add_run")
        add.clicked.connect(lambda: session.add_run(self.method.currentData()))
        add_row.addWidget(self.method, 1)
        add_row.addWidget(add)
        top.addRow("Add", add_row)
        outer.addLayout(top)
        self.list = QVBoxLayout()
        outer.addLayout(self.list)
        outer.addStretch(1)
        self._shape: list[tuple] = []  # what each editor's run shows: method, colour, a tolerance field or not
        self._start_curvature = None
        self.editors: list[RunEditor] = []
        self._next_editor = QTimer(self)  # one chain of turns, however many changes made editors
        self._next_editor.setSingleShot(True)
        self._next_editor.setInterval(TURN_MS)
        self._next_editor.timeout.connect(self._show_next_editor)
        session.experimentChanged.connect(self.sync)
        self.sync(session.experiment)

    def sync(self, experiment: Experiment) -> None:
        self.steps.set_value(experiment.steps)
        shape = [(r.method, r.color, "tol" in r.hyper_dict) for r in experiment.runs]
        # an editor stays while its place holds the same method in the same colour (its callbacks know
        # its index and colour) with the same fields; the others are made anew: going to eight runs
        # builds four, not eight
        kept = 0
        while kept < min(len(shape), len(self._shape)) and shape[kept] == self._shape[kept]:
            kept += 1
        for editor in self.editors[kept:]:  # one of them may be the editor whose ✕ was clicked: not deleted here
            discard(editor, self.list)
        self.editors = self.editors[:kept]
        for editor, spec in zip(self.editors, experiment.runs):
            editor.show_spec(spec)
        for k, spec in enumerate(experiment.runs[kept:], start=kept):
            editor = RunEditor(self.session, k, run_color(k, spec))
            editor.rejected.connect(self.rejected)
            self.list.addWidget(editor)
            editor.hide()  # shown one per turn of the event loop (see _show_next_editor)
            self.editors.append(editor)
        if len(self.editors) > kept and not self._next_editor.isActive():
            self._next_editor.start()
        self._shape = shape
        self.show_start_curvature(self._start_curvature)  # a new lr is judged against the same bound

    def _show_next_editor(self) -> None:
        """Show the first editor still hidden, and come back for the next in the loop's next turn.

        A new editor's first showing (styling its fields, laying out its rich-text formula)
        takes 10–15 ms; shown together, the four made going to eight runs stalled the window 60 ms.
        """
        waiting = [editor for editor in self.editors if editor.isHidden()]
        if waiting:
            waiting[0].show()
            if len(waiting) > 1:
                self._next_editor.start()

    def show_start_curvature(self, start) -> None:
        """Beside each learning rate, its method's stable bound at the runs' start (``start``: a
        ``PointCurvature``, or None while unknown)."""
        self._start_curvature = start
        for editor, spec in zip(self.editors, self.session.target.runs):
            if editor.lr_max is not None:
                editor.lr_max.show_start(spec, start)


class ViewPanel(Panel):
    """How things are drawn: layout, part, scales, colours, curves, the data view's run, theme."""

    def __init__(self, session: Session):
        super().__init__(session)
        v = session.view
        self.layout_box = combo([("side", "side by side"), ("overlay", "overlay on one")], v.layout,
                                "one panel per optimizer, or every path on one landscape", "combo_layout")
        self.layout_box.currentIndexChanged.connect(lambda: session.set_view(layout=self.layout_box.currentData()))
        self.surface = combo([("2d", "2-D contours"), ("3d", "3-D surface")], v.surface,
                             "the landscape as contour panels, or as one shaded surface to turn with the mouse "
                             "(needs OpenGL)", "combo_surface")
        self.surface.currentIndexChanged.connect(lambda: session.set_view(surface=self.surface.currentData()))
        self.part = combo([("total", "total loss"), ("data", "data loss only"), ("reg", "regularization only")],
                          v.part, "which part of L = data + λR the landscape shows", "combo_part")
        self.part.currentIndexChanged.connect(lambda: session.set_view(part=self.part.currentData()))
        self.log_scale = QCheckBox("log colour scale")
        self.log_scale.setObjectName("check_log_scale")
        self.log_scale.setChecked(v.log_scale)
        self.log_scale.toggled.connect(lambda on: session.set_view(log_scale=on))
        self.colormap = combo([(c, c) for c in COLORMAPS], v.colormap, "colour map", "combo_colormap")
        self.colormap.currentIndexChanged.connect(lambda: session.set_view(colormap=self.colormap.currentData()))
        self.isolines = combo([(str(n), str(n)) for n in (0, 6, 12, 20, 30)], str(v.isolines), "iso-lines drawn",
                              "combo_isolines")
        self.isolines.currentIndexChanged.connect(lambda: session.set_view(isolines=int(self.isolines.currentData())))
        self.x_axis = combo([("step", "step"), ("cost", "cost (full-data passes)")], v.x_axis,
                            "loss curves against steps or against work done", "combo_x_axis")
        self.x_axis.currentIndexChanged.connect(lambda: session.set_view(x_axis=self.x_axis.currentData()))
        self.log_loss = QCheckBox("log loss axis")
        self.log_loss.setChecked(v.log_loss)
        self.log_loss.toggled.connect(lambda on: session.set_view(log_loss=on))
        self.data_run = QComboBox()
        self.data_run.setObjectName("combo_data_run")
        self.data_run.setToolTip("whose parameters the data view (decision regions or templates) shows")
        self.data_run.currentIndexChanged.connect(
            lambda i: i >= 0 and session.set_view(data_run=i))
        session.committed.connect(lambda snapshot: self._list_runs(snapshot.computed.runs))
        self.weights = QCheckBox("weight vectors W[:, c] over 2-D data")
        self.weights.setObjectName("check_weights")
        self.weights.setToolTip("the linear classifier's class weight vectors as arrows, with each class's "
                                "score-zero line; drag a head to change the start")
        self.weights.setChecked(v.weights)
        self.weights.toggled.connect(lambda on: session.set_view(weights=on))
        self.arrows = {}
        arrows_box = QWidget()
        arrows_row = QHBoxLayout(arrows_box)
        arrows_row.setContentsMargins(0, 0, 0, 0)
        for name, text, tip in (("gradient", "−∇L", "the negative gradient at each run's point, projected into the plane"),
                                ("step", "step", "the step each run takes from its point"),
                                ("velocity", "velocity / scale", "momentum's velocity; AdaGrad's and RMSProp's "
                                 "per-coordinate step scale")):
            box = QCheckBox(text)
            box.setObjectName(f"check_arrow_{name}")
            box.setToolTip(tip)
            box.setChecked(name in v.arrows)
            box.toggled.connect(self._arrows_toggled)
            arrows_row.addWidget(box)
            self.arrows[name] = box
        arrows_row.addStretch(1)
        self.eigen_axes = QCheckBox("Hessian's sharpest directions")
        self.eigen_axes.setObjectName("check_eigen_axes")
        self.eigen_axes.setToolTip("at each run's point: the Hessian's top two eigenvectors, lengths ∝ 1/√λ "
                                   "(the quadratic model's level set)")
        self.curvature_map = QCheckBox("where the loss curves down")
        self.curvature_map.setObjectName("check_curvature_map")
        self.curvature_map.setToolTip("λ_min/λ_max of the Hessian on a coarse grid over the plane: red discs "
                                      "where it is negative (not convex there)")
        for box, name in ((self.eigen_axes, "eigen_axes"), (self.curvature_map, "curvature_map")):
            box.setChecked(getattr(v, name))
            box.toggled.connect(lambda on, name=name: session.set_view(**{name: on}))
        self.theme = combo([("light", "light"), ("dark", "dark")], v.theme, "colour theme", "combo_theme")
        self.theme.currentIndexChanged.connect(lambda: session.set_view(theme=self.theme.currentData()))
        for label, widget in (("Layout", self.layout_box), ("Landscape", self.part), ("Drawn as", self.surface),
                              ("", self.log_scale),
                              ("Colours", self.colormap), ("Iso-lines", self.isolines), ("Curves vs", self.x_axis),
                              ("", self.log_loss), ("Arrows", arrows_box), ("Curvature", self.eigen_axes),
                              ("", self.curvature_map), ("Data view shows", self.data_run),
                              ("", self.weights), ("Theme", self.theme)):
            self.form.addRow(label, widget)
        session.viewChanged.connect(self.sync_view)
        self.sync_view(v)  # values a file brought that the combos do not list yet

    def sync(self, experiment: Experiment) -> None:
        pass

    def _arrows_toggled(self) -> None:
        self.session.set_view(arrows=tuple(name for name, box in self.arrows.items() if box.isChecked()))

    def _list_runs(self, results) -> None:
        self.data_run.blockSignals(True)
        self.data_run.clear()
        for result in results:
            self.data_run.addItem(swatch(run_color(result.index, result.spec)), run_label(result.spec))
        self.data_run.setCurrentIndex(min(self.session.view.data_run, len(results) - 1))
        self.data_run.blockSignals(False)

    def sync_view(self, v) -> None:
        self.data_run.blockSignals(True)
        self.data_run.setCurrentIndex(min(v.data_run, self.data_run.count() - 1))
        self.data_run.blockSignals(False)
        for box, on in [(self.weights, v.weights), (self.eigen_axes, v.eigen_axes),
                        (self.curvature_map, v.curvature_map)] + [(b, name in v.arrows) for name, b in self.arrows.items()]:
            box.blockSignals(True)
            box.setChecked(on)
            box.blockSignals(False)
        for box, key in ((self.layout_box, v.layout), (self.part, v.part), (self.surface, v.surface),
                         (self.colormap, v.colormap),
                         (self.x_axis, v.x_axis), (self.theme, v.theme)):
            set_combo(box, key)
        set_number_combo(self.isolines, v.isolines, str)
        for check, on in ((self.log_scale, v.log_scale), (self.log_loss, v.log_loss)):
            check.blockSignals(True)
            check.setChecked(on)
            check.blockSignals(False)


def scrolled(widget: QWidget, grows: bool = False) -> QScrollArea:
    """``widget`` in a vertical scroll area. ``grows``: content that grows by whole editors keeps its
    scroll bar, so that the first editor to overflow does not narrow the area and lay every other
    editor out again (11 ms, in the same block as showing the new one)."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setMinimumWidth(330)  # room for the formulas and the λ slider
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    if grows:
        area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
    return area
