"""zarr v2 array stores (zarr-python, Dask, xarray and TensorStore open them), written and read
by every core, compressed with zstd or blosc, replaced atomically.

    ndshard.zarr.save("emb.zarr", a, codec="zstd")
    b = ndshard.zarr.load("emb.zarr")                 # any store zarr-python wrote
    r = ndshard.zarr.load_rows("emb.zarr", 1000, 2000)
"""

import json as _json

from . import _ndshard
from . import _array, _count, _dtype_code, _path

__all__ = ["save", "load", "load_rows", "inspect", "codecs"]

#: Whether compressed stores can be written and read (the codec libraries were linked).
codecs = _ndshard.zarr_codecs


def _store(d):
    d["compressor"] = _json.loads(d["compressor"])
    return d


def save(dir, array, codec="zstd", level=0, chunk_rows=0, threads=0, sync=True, *,
         progress=None):
    """Write `array` as the zarr v2 store `dir` (chunks of whole rows, C order), replacing the
    store there atomically. codec: "zstd", "blosc" (= "blosc_lz4"), "blosc_zstd" or None.
    level 0: the codec's default (zstd 1, blosc 5). chunk_rows 0: about 16 MiB of rows.
    Returns what .zarray says: dtype, shape, chunks, compressor (a dict or None)."""
    return _store(_ndshard.zarr_save(_path(dir), _array(array), "none" if codec is None else codec,
                                     int(level), _count(chunk_rows, "chunk_rows"),
                                     _count(threads, "threads"), bool(sync), progress))


def load(dir, threads=0, *, dtype=None, progress=None):
    """Read the whole store (any store zarr-python writes: any chunk grid, C or Fortran order,
    either byte order, compressors null, zstd, blosc, zlib, gzip) into a new array (no copy).
    dtype: read as this type, converting with range checks (None: the store's own)."""
    return _ndshard.zarr_load(_path(dir), None, None, _count(threads, "threads"),
                              _dtype_code(dtype), progress)


def load_rows(dir, first, last, threads=0, *, dtype=None, progress=None):
    """Read rows [first, last) of the store: only the chunks that hold them."""
    return _ndshard.zarr_load(_path(dir), _count(first, "first"), _count(last, "last"),
                              _count(threads, "threads"), _dtype_code(dtype), progress)


def inspect(dir):
    """What the store's .zarray says: dtype, shape, chunks, compressor."""
    return _store(_ndshard.zarr_inspect(_path(dir)))
