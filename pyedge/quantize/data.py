"""Calibration and evaluation data: .npy/.npz files, a folder of them, arrays, or a Python
iterator/callable, turned into checked per-invoke input lists for a model's inputs."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..errors import PyedgeError


class CalibrationDataError(PyedgeError):
    """Calibration or evaluation data that cannot be used for this model (says why)."""


InputSpec = tuple[str, tuple[int, ...], np.dtype]  # name, shape, dtype of one model input


def _load_file(path: Path, specs: Sequence[InputSpec]) -> list[np.ndarray]:
    """One array per model input from a .npy (single-input models) or .npz (arrays named after
    the inputs, or in input order)."""
    try:
        if path.suffix == ".npy":
            return [np.load(path, allow_pickle=False)]
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                names = list(z.files)
                if all(n in names for n, _, _ in specs):
                    return [z[n] for n, _, _ in specs]
                if len(specs) == 1 and "x" in names:
                    return [z["x"]]
                data = [z[n] for n in names if n not in ("y", "labels")]
                return data
    except (OSError, ValueError) as exc:
        raise CalibrationDataError(f"cannot read {path}: {exc}") from None
    raise CalibrationDataError(f"{path}: calibration data must be .npy or .npz files")


def _as_batch(arrays: Sequence[Any], specs: Sequence[InputSpec], where: str) -> list[np.ndarray]:
    """Check one item (one array per input) and return it as [n, *input_shape] arrays."""
    if len(arrays) != len(specs):
        names = ", ".join(n for n, _, _ in specs)
        raise CalibrationDataError(f"{where}: {len(arrays)} arrays given, the model has {len(specs)} "
                                   f"input(s) ({names})")
    out, count = [], None
    for a, (name, shape, dtype) in zip(arrays, specs):
        a = np.asarray(a)
        if a.dtype.kind not in "fiu" or (a.dtype.kind != "f" and np.dtype(dtype).kind == "f"):
            raise CalibrationDataError(
                f"{where}: input {name!r} has dtype {a.dtype}; the float model's input is {np.dtype(dtype)}: "
                f"give floating-point data as the float model takes it")
        if a.shape == shape or (len(shape) > 1 and shape[0] == 1 and a.shape == shape[1:]):
            a = a.reshape((1,) + shape)  # one sample, with or without its batch dimension
        elif len(shape) and shape[0] == 1 and a.shape[1:] == shape[1:]:
            a = a[:, None] if len(shape) == 1 else a.reshape((a.shape[0],) + shape)
        elif a.shape[1:] != shape:
            raise CalibrationDataError(
                f"{where}: input {name!r} has shape {a.shape}; the model takes {list(shape)}: give "
                f"[N, {', '.join(map(str, shape[1:] if shape and shape[0] == 1 else shape))}] "
                f"(N samples) or {list(shape)}")
        if a.size and not np.isfinite(a).all():
            bad = int(np.argwhere(~np.isfinite(a.reshape(len(a), -1)).all(axis=1))[0][0])
            raise CalibrationDataError(f"{where}: input {name!r} holds NaN or Inf (sample {bad})")
        if count is not None and len(a) != count:
            raise CalibrationDataError(f"{where}: inputs hold different numbers of samples "
                                       f"({count} and {len(a)})")
        count = len(a)
        out.append(a.astype(dtype, copy=False))
    return out


def _items(source: Any, specs: Sequence[InputSpec]) -> Iterator[tuple[list[Any], str]]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in (".npy", ".npz"))
            if not files:
                raise CalibrationDataError(f"{path}: folder holds no .npy or .npz files")
        elif path.exists():
            files = [path]
        else:
            raise CalibrationDataError(f"{path}: no such file or folder")
        for f in files:
            yield _load_file(f, specs), str(f)
        return
    if isinstance(source, np.ndarray):
        yield [source], "calibration array"
        return
    if isinstance(source, dict):
        missing = [n for n, _, _ in specs if n not in source]
        if missing:
            raise CalibrationDataError(f"calibration dict lacks input(s) {missing}")
        yield [source[n] for n, _, _ in specs], "calibration dict"
        return
    if callable(source):
        source = source()
    if not isinstance(source, Iterable):
        raise CalibrationDataError(f"calibration data of type {type(source).__name__}: give a path, "
                                   f"arrays, or an iterable/callable of arrays")
    for k, item in enumerate(source):
        where = f"calibration item {k}"
        if isinstance(item, dict):
            missing = [n for n, _, _ in specs if n not in item]
            if missing:
                raise CalibrationDataError(f"{where}: lacks input(s) {missing}")
            yield [item[n] for n, _, _ in specs], where
        elif isinstance(item, (list, tuple)):
            yield list(item), where
        else:
            yield [item], where


def iter_samples(source: Any, specs: Sequence[InputSpec]) -> Iterator[list[np.ndarray]]:
    """Yield one checked input list (each array of the input's exact shape) per model invoke."""
    for arrays, where in _items(source, specs):
        batch = _as_batch(arrays, specs, where)
        for k in range(len(batch[0])):
            yield [b[k] for b in batch]


def load_samples(source: Any, specs: Sequence[InputSpec], min_samples: int = 2,
                 what: str = "calibration") -> list[list[np.ndarray]]:
    """All samples of `source`, checked. Fewer than `min_samples` is an error: ranges from one
    sample say nothing about the data the model will see."""
    samples = list(iter_samples(source, specs))
    if not samples:
        raise CalibrationDataError(f"{what} data is empty: give at least {min_samples} samples")
    if len(samples) < min_samples:
        raise CalibrationDataError(
            f"{what} data holds {len(samples)} sample(s); at least {min_samples} are needed "
            f"(a few hundred representative inputs give stable ranges)")
    return samples


def load_labels(path: str | os.PathLike) -> np.ndarray:
    p = Path(path)
    try:
        if p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                key = "y" if "y" in z.files else "labels" if "labels" in z.files else z.files[0]
                y = z[key]
        else:
            y = np.load(p, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CalibrationDataError(f"cannot read labels {p}: {exc}") from None
    return np.asarray(y).reshape(-1)


ProgressFn = Callable[[int, int], None]
