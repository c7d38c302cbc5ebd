"""Shared helpers of the ndshard Python tests (run by ctest: PYTHONPATH names the build tree's
package; NDSHARD_CLI the ndshard program, NDSHARD_FIXTURES the C++ tests' fixtures)."""
import os
import pathlib

import numpy as np
import pytest

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float32", "float64"]
SHAPES = [(), (7,), (5, 3), (4, 3, 2), (3, 2, 2, 3)]  # ranks 0 to 4

FIXTURES = pathlib.Path(os.environ.get(
    "NDSHARD_FIXTURES", pathlib.Path(__file__).resolve().parents[1] / "fixtures"))
CLI = os.environ.get("NDSHARD_CLI")


def special_floats(dtype):
    """Values that must survive bit for bit: NaN, +-inf, -0.0, denormals, the extremes."""
    f = np.finfo(dtype)
    return np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, f.smallest_subnormal,
                     -f.smallest_subnormal, f.tiny, f.max, -f.max, f.eps, 0.1, 1 / 3, -1e-300
                     if dtype == "float64" else -1e-30, 5e-324 if dtype == "float64" else 1e-45],
                    dtype=dtype)


def sample(dtype, shape, seed=0, bits=False):
    """A random array of `dtype` and `shape`: integers over their whole range, floats spanning
    many magnitudes with the special values in front (bits=True: any bit pattern, NaN payloads
    included)."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    if dt.kind == "b":
        flat = rng.integers(0, 2, n).astype(bool)
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        flat = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
    elif bits:
        u = np.dtype(f"u{dt.itemsize}")
        flat = rng.integers(0, np.iinfo(u).max, n, dtype=u, endpoint=True).view(dt)
    else:
        flat = (rng.standard_normal(n) * 10.0 ** rng.uniform(-30, 30, n)).astype(dt)
        sp = special_floats(dtype)
        k = min(n, sp.size)
        flat[:k] = sp[:k]
    return flat.reshape(shape)


def same_bits(a, b):
    """Equal shape, dtype and bytes (NaN payloads and -0.0 included)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        u = f"u{a.dtype.itemsize}"
        return np.array_equal(np.ascontiguousarray(a).view(u), np.ascontiguousarray(b).view(u))
    return np.array_equal(a, b)


@pytest.fixture
def cli():
    if not CLI or not os.path.exists(CLI):
        pytest.skip("the ndshard program was not built (NDSHARD_CLI)")
    return CLI
