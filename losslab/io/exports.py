"""Data exports: trajectories and landscape grids as CSV and NPZ, written atomically.

A trajectory table has one row per iterate of every run: ``run`` (1-based position among
the exported runs), ``method``, ``step``, ``cost`` (full-data passes), ``loss``, the plane
coordinates ``a``, ``b``, the off-plane distance ``residual`` and the full parameter
vector θ (columns named by the model's coordinates — ``W[d,c]``, ``b[c]`` for a linear
classifier, ``W1[d,h]``, ``b1[h]``, ``W2[h,c]``, ``b2[c]`` for the network — ``theta[k]`` otherwise).
"""
from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..engine.experiment import Landscape, RunResult
from ..engine.models import Model
from ..engine.planes import coordinate_labels
from .files import atomic_write

TRAJECTORY_COLUMNS = ("run", "method", "step", "cost", "loss", "a", "b", "residual")


def theta_labels(n_params: int, shape) -> list[str]:
    """The model's coordinate names (``shape``: a model, or (D, C) of a linear classifier); ``theta[k]`` otherwise."""
    if isinstance(shape, Model):
        if shape.n_params == n_params:
            return list(shape.labels)
    elif shape is not None and shape[0] * shape[1] + shape[1] == n_params:
        return coordinate_labels(*shape)
    return [f"theta[{k}]" for k in range(n_params)]


def trajectory_columns(results: Sequence[RunResult], shape: tuple[int, int] | None) -> dict[str, np.ndarray]:
    """Every exported column as an array, in order (``method`` as strings)."""
    if not results:
        raise ValueError("there is no trajectory to export (no optimizer is enabled)")
    P = results[0].thetas.shape[1]
    parts = {name: [] for name in TRAJECTORY_COLUMNS}
    thetas = []
    for k, result in enumerate(results, start=1):
        T = len(result.thetas)
        traj = result.trajectory
        parts["run"].append(np.full(T, k))
        parts["method"].append(np.full(T, result.spec.method, dtype=object))
        parts["step"].append(np.arange(T))
        parts["cost"].append(np.asarray(traj.cost, dtype=float))
        parts["loss"].append(np.asarray(traj.losses, dtype=float))
        parts["a"].append(result.ab[:, 0])
        parts["b"].append(result.ab[:, 1])
        parts["residual"].append(result.residual)
        thetas.append(result.thetas)
    columns = {name: np.concatenate(values) for name, values in parts.items()}
    stacked = np.vstack(thetas)
    for k, label in enumerate(theta_labels(P, shape)):
        columns[label] = stacked[:, k]
    return columns


def _write_csv(path: str | os.PathLike, header: list[str], rows, overwrite: bool) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
    return atomic_write(path, write, overwrite)


def _cell(value) -> str:
    """Text for one CSV cell: names as they are, integers plainly, floats at full precision."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return repr(float(value))


def write_trajectories_csv(path: str | os.PathLike, results: Sequence[RunResult], shape=None,
                           overwrite: bool = True) -> Path:
    """All runs' iterates as CSV: the columns of :func:`trajectory_columns`, full float precision."""
    columns = trajectory_columns(results, shape)
    header = list(columns)
    data = [columns[name] for name in header]
    rows = ([_cell(v) for v in row] for row in zip(*data))
    return _write_csv(path, header, rows, overwrite)


def write_trajectories_npz(path: str | os.PathLike, results: Sequence[RunResult], shape=None,
                           overwrite: bool = True) -> Path:
    """Per run ``k`` (1-based): ``run{k}_step``, ``_thetas (T, P)``, ``_ab (T, 2)``, ``_residual``, ``_losses``,
    ``_cost``, ``_method``, ``_status``; plus ``theta_labels``."""
    if not results:
        raise ValueError("there is no trajectory to export (no optimizer is enabled)")
    arrays = {"theta_labels": np.array(theta_labels(results[0].thetas.shape[1], shape))}
    for k, r in enumerate(results, start=1):
        arrays.update({f"run{k}_method": np.array(r.spec.method), f"run{k}_step": np.arange(len(r.thetas)),
                       f"run{k}_thetas": np.asarray(r.thetas),
                       f"run{k}_ab": np.asarray(r.ab), f"run{k}_residual": np.asarray(r.residual),
                       f"run{k}_losses": np.asarray(r.trajectory.losses), f"run{k}_cost": np.asarray(r.trajectory.cost),
                       f"run{k}_status": np.array(r.trajectory.status)})
    return _save_npz(path, arrays, overwrite)


def _save_npz(path, arrays: dict[str, np.ndarray], overwrite: bool) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would otherwise append ".npz" to the name
            np.savez_compressed(f, **arrays)
    return atomic_write(path, write, overwrite)


def write_landscape_npz(path: str | os.PathLike, landscape: Landscape, overwrite: bool = True) -> Path:
    """``a_values (G_a,)``, ``b_values (G_b,)``, ``data``, ``reg``, ``total`` (each ``(G_b, G_a)``,
    ``[j, i]`` at ``(a_i, b_j)``) and the plane's ``origin``, ``d1``, ``d2``."""
    plane = landscape.plane
    return _save_npz(path, {"a_values": landscape.a_values, "b_values": landscape.b_values,
                            "data": landscape.data, "reg": landscape.reg, "total": landscape.part("total"),
                            "origin": plane.origin, "d1": plane.d1, "d2": plane.d2,
                            "axis_labels": np.array(plane.labels)}, overwrite)


def write_landscape_csv(path: str | os.PathLike, landscape: Landscape, overwrite: bool = True) -> Path:
    """One row per grid point: ``a, b, data, reg, total`` (b varies slowest)."""
    A, B = np.meshgrid(landscape.a_values, landscape.b_values)
    total = landscape.part("total")
    columns = (A.ravel(), B.ravel(), landscape.data.ravel(), landscape.reg.ravel(), total.ravel())
    rows = ([_cell(v) for v in row] for row in zip(*columns))
    return _write_csv(path, ["a", "b", "data", "reg", "total"], rows, overwrite)


def write_trajectories(path: str | os.PathLike, computed, fmt: str | None = None, overwrite: bool = True) -> Path:
    """The runs of a :class:`~losslab.engine.experiment.Computed` as CSV or NPZ (``fmt``; default: from the
    file's extension, CSV otherwise)."""
    if computed is None:
        raise ValueError("the runs are still being computed; try again in a moment")
    fmt = fmt or ("npz" if str(path).lower().endswith(".npz") else "csv")
    write = write_trajectories_npz if fmt == "npz" else write_trajectories_csv
    return write(path, list(computed.runs), computed.problem.model, overwrite=overwrite)
