"""ndshard: huge ndarrays to and from disk, on every core, without copies and bit for bit.

Datasets (a directory of .npy or text shards and a JSON manifest), single .npy files, text files
(CSV/TSV), word-embedding files and zarr v2 stores, read and written by the C++ library ndshard.

    import numpy as np, ndshard
    x = np.random.rand(1_000_000, 10)
    ndshard.save("features.nds", x)            # one shard per core, committed atomically
    y = ndshard.load("features.nds")           # every shard read in parallel into one array
    assert np.array_equal(x, y)

Arrays come back owning the memory ndshard filled (no copy: ``a.base`` is the owner); arrays
passed in are read in place (a non-contiguous one, e.g. ``a.T`` or ``a[:, ::-1]``, is evaluated
one bounded row block at a time, never copied whole). The GIL is released for the whole I/O, and
Ctrl-C cancels a long call cleanly (the target stays as it was) and raises KeyboardInterrupt.

Errors: ``ndshard.FileError`` (also an ``OSError``) when a file or dataset is at fault, with the
library's message; ``ndshard.ParseError`` (a FileError) for a bad line of a text file, with
``.line``, ``.field`` and ``.column``; ``ndshard.ArgumentError`` (also a ``ValueError``) for a bad
argument; ``ndshard.Cancelled`` when a ``progress`` callable returned False. All derive from
``ndshard.Error``.
"""

import json as _json
import os as _os

import numpy as _np

from . import _ndshard
from ._ndshard import ArgumentError, Cancelled, Error, FileError, ParseError

__version__ = _ndshard.version

__all__ = [
    "ArgumentError", "Cancelled", "Error", "FileError", "ParseError", "Writer", "append",
    "blocks", "inspect", "load", "load_embeddings", "load_rows", "read_embeddings", "read_npy",
    "read_npy_rows", "read_text", "save", "save_embeddings", "text_read_header", "verify",
    "write_npy", "write_text",
    "writer", "zarr",
]

# numpy's names of the element types ndshard reads and writes
_SUPPORTED = ("bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, "
              "float64")


def _path(p):
    """A path (str, bytes or os.PathLike) as bytes, for any file name."""
    try:
        return _os.fsencode(p)
    except TypeError:
        raise ArgumentError(
            f"ndshard: expected a path (str, bytes or os.PathLike), found {type(p).__name__}"
        ) from None


def _code(dt):
    """The kind-and-size code ("f8", "b1") of a numpy dtype ndshard supports."""
    n = dt.itemsize
    if dt.fields is None and dt.subdtype is None and (
            (dt.kind == "b" and n == 1) or (dt.kind in "iu" and n in (1, 2, 4, 8))
            or (dt.kind == "f" and n in (4, 8))):
        return f"{dt.kind}{n}"
    raise ArgumentError(f"ndshard: unsupported dtype {dt} (ndshard reads and writes {_SUPPORTED})")


def _dtype_code(dtype):
    """The code of a dtype argument (a numpy dtype, a type, or a name such as "float32")."""
    if dtype is None:
        return None
    try:
        dt = _np.dtype(dtype)
    except TypeError as e:
        raise ArgumentError(f"ndshard: unknown dtype {dtype!r} ({e})") from None
    return _code(dt)


def _array(array, what="array"):
    """`array` as a numpy array ndshard can read in place: supported dtype, native byte order,
    aligned, strides whole elements. Numpy arrays that are already so are not copied."""
    a = _np.asarray(array)
    dt = a.dtype
    if dt.kind not in "biuf" or dt.fields is not None:
        raise ArgumentError(
            f"ndshard: unsupported dtype {dt} of the {what} (ndshard reads and writes {_SUPPORTED})")
    if not dt.isnative:
        # big-endian data: converted to this machine's byte order (a copy)
        a = a.astype(dt.newbyteorder("="))
        dt = a.dtype
    _code(dt)
    if not a.flags.aligned or any(s % dt.itemsize for s in a.strides):
        a = _np.ascontiguousarray(a)  # a copy: unaligned data cannot be read in place
    return a


def _char(c, what, allow_none):
    if c is None or c == "":
        if allow_none:
            return 0
        raise ArgumentError(f"ndshard: expected a {what} of one character, found {c!r}")
    if isinstance(c, bytes):
        c = c.decode("latin-1")
    if not isinstance(c, str) or len(c) != 1 or ord(c) > 127:
        raise ArgumentError(f"ndshard: expected a {what} of one ASCII character, found {c!r}")
    return ord(c)


def _attributes(attributes):
    if attributes is None:
        return None
    if not isinstance(attributes, dict):
        raise ArgumentError(
            f"ndshard: expected attributes as a dict, found {type(attributes).__name__}")
    try:
        return _json.dumps(attributes, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise ArgumentError(f"ndshard: attributes cannot be stored as JSON: {e}") from None


def _count(n, what):
    if n is None:
        return 0
    if not isinstance(n, (int, _np.integer)) or isinstance(n, bool) or n < 0:
        raise ArgumentError(f"ndshard: expected {what} as a non-negative integer, found {n!r}")
    return int(n)


def _strings(names, what):
    if names is None:
        return []
    if isinstance(names, (str, bytes)):
        raise ArgumentError(f"ndshard: expected {what} as a list of str, found {names!r}")
    out = list(names)
    for n in out:
        if not isinstance(n, str):
            raise ArgumentError(f"ndshard: expected {what} as a list of str, found {n!r} in it")
    return out


def _columns(usecols):
    if usecols is None:
        return []
    if isinstance(usecols, (int, _np.integer)) and not isinstance(usecols, bool):
        usecols = [usecols]
    return [_count(c, "usecols") for c in usecols]


def _info(d):
    d["attributes"] = _json.loads(d["attributes"])
    return d


def save(dir, array, format="npy", shards=0, threads=0, sync=True, *, attributes=None,
         progress=None):
    """Write `array` as the dataset `dir` (created if missing), replacing what was there
    atomically; return the new dataset's info (as `inspect`).

    format: "npy" (binary shards numpy.load reads), "csv" or "tsv" (shortest round-trip text).
    shards: number of shards (0: one per thread). threads: 0 for every core. sync: fsync the
    shards, manifest and directory. attributes: a JSON-able dict committed with the data
    (numbers finite, nested at most 7 levels). progress: called as progress(done, total) with
    bytes a few times a second; returning False cancels (raises Cancelled, nothing changes).

    The array is read in place: no copy when C-contiguous, bounded row blocks otherwise.
    """
    a = _array(array)
    return _info(_ndshard.save(_path(dir), a, format, _count(shards, "shards"),
                               _count(threads, "threads"), bool(sync), _attributes(attributes),
                               progress))


def append(dir, rows, format="npy", shards=0, threads=0, sync=True, *, attributes=None,
           progress=None):
    """Add `rows` (shape (n, *row_shape), the dataset's dtype and format) at the end of the
    dataset `dir` (a new dataset if there is none): new shards, then one manifest swap; the old
    shards are untouched. Returns the new info. attributes=None keeps the dataset's own."""
    a = _array(rows, "rows")
    return _info(_ndshard.append(_path(dir), a, format, _count(shards, "shards"),
                                 _count(threads, "threads"), bool(sync), _attributes(attributes),
                                 progress))


def load(dir, verify=True, threads=0, *, dtype=None, progress=None):
    """Read the dataset `dir` into a new numpy array (no copy: the array owns the memory ndshard
    filled). verify: check every shard's checksum. dtype: read as this type, converting with range
    checks (None: the dataset's own)."""
    return _ndshard.load(_path(dir), bool(verify), _count(threads, "threads"), _dtype_code(dtype),
                         progress)


def load_rows(dir, first, last, verify=True, threads=0, *, dtype=None, progress=None):
    """Read rows [first, last) of the dataset `dir`: only the shards (and bytes) holding them."""
    return _ndshard.load_rows(_path(dir), _count(first, "first"), _count(last, "last"),
                              bool(verify), _count(threads, "threads"), _dtype_code(dtype),
                              progress)


def inspect(dir):
    """The dataset's manifest as a dict: dtype ("<f8"), shape, format, shards (path, first_row,
    last_row, bytes, checksum), generation, attributes (a dict), words (embeddings, else None)."""
    return _info(_ndshard.inspect(_path(dir)))


def verify(dir, threads=0, *, progress=None):
    """Check every shard of the dataset `dir` against its manifest and checksums; return a dict:
    ok, problems (a list of dicts: shard, path, message), shards, unchecked, bytes. Raises
    FileError only when there is no dataset to check."""
    return _ndshard.verify(_path(dir), _count(threads, "threads"), progress)


def write_npy(path, array, threads=0, sync=True):
    """Write `array` as one .npy file (numpy.load reads it), every core writing its rows at their
    offsets; the file appears whole or not at all."""
    _ndshard.write_npy(_path(path), _array(array), _count(threads, "threads"), bool(sync))


def read_npy(path, threads=0):
    """Read a .npy file (any version; big-endian and Fortran-ordered files too) with every core."""
    return _ndshard.read_npy(_path(path), _count(threads, "threads"))


def read_npy_rows(path, first, last, threads=0):
    """Read rows [first, last) of a C-ordered .npy file: only those rows' bytes."""
    return _ndshard.read_npy_rows(_path(path), _count(first, "first"), _count(last, "last"),
                                  _count(threads, "threads"))


def write_text(path, array, delimiter="\t", precision=-1, threads=0, sync=True, *, header=None,
               progress=None):
    """Write `array` as text, one row per line (rank > 2: the dimensions after the first
    flattened into columns). precision -1: the shortest text that reads back bit for bit; 1-767:
    significant digits. nan, inf, -inf as numpy writes them; bools as 1/0. header: column names
    (one per column) written as the first line, quoted where needed, as pandas writes them."""
    if not isinstance(precision, (int, _np.integer)) or isinstance(precision, bool):
        raise ArgumentError(f"ndshard: expected precision as an integer, found {precision!r}")
    if precision != -1 and not 1 <= precision <= 767:
        raise ArgumentError(f"ndshard: expected precision -1 or 1 to 767, found {precision}")
    _ndshard.write_text(_path(path), _array(array), _char(delimiter, "delimiter", False),
                        int(precision), _count(threads, "threads"), bool(sync),
                        _strings(header, "header"), progress)


def read_text(path, dtype="float64", delimiter=None, skip_rows=0, comment="#", threads=0, *,
              overflow_to_infinity=False, header=False, usecols=None, na_values=None, quote='"',
              progress=None):
    """Read a CSV/TSV/space-separated text file into a 2-d array of `dtype` (correctly rounded).
    delimiter None: detected (tab, else comma, else runs of spaces). skip_rows: lines skipped
    first. comment: starts a comment (None: no comments). A bad value raises ParseError with
    .line, .field and .column.

    pandas' CSV reads as pandas.read_csv(float_precision="round_trip") reads it: header=True
    skips a first line of column names (text_read_header returns them); usecols reads only those
    columns, in that order; na_values (None: pandas' list, the empty field included; [] for none)
    read as NaN in float columns and are errors in integer ones; quote encloses fields ("1.5",
    "a, b"; None: quotes are ordinary characters)."""
    return _ndshard.read_text(_path(path), _dtype_code(dtype), _char(delimiter, "delimiter", True),
                              _count(skip_rows, "skip_rows"), _char(comment, "comment", True),
                              _count(threads, "threads"), bool(overflow_to_infinity),
                              bool(header), _columns(usecols),
                              None if na_values is None else _strings(na_values, "na_values"),
                              _char(quote, "quote", True), progress)


def text_read_header(path, delimiter=None, skip_rows=0, comment="#", *, usecols=None, quote='"'):
    """The column names of a text file: the fields of its first data line (after skip_rows),
    unquoted, usecols applied, as pandas names the columns (an unnamed index column: "")."""
    return _ndshard.text_read_header(_path(path), _char(delimiter, "delimiter", True),
                                     _count(skip_rows, "skip_rows"),
                                     _char(comment, "comment", True), _columns(usecols),
                                     _char(quote, "quote", True))


def read_embeddings(path, dtype="float32", delimiter=None, skip_rows=0, threads=0, *,
                    overflow_to_infinity=False, progress=None):
    """Read a GloVe, fastText .vec or word2vec text file: return (words, vectors), words a list of
    str (bytes that are not UTF-8 kept with surrogateescape), vectors a (len(words), D) array of
    float32 or float64."""
    return _ndshard.read_embeddings(_path(path), _dtype_code(dtype),
                                    _char(delimiter, "delimiter", True),
                                    _count(skip_rows, "skip_rows"), _count(threads, "threads"),
                                    bool(overflow_to_infinity), progress)


def save_embeddings(dir, words, vectors, format="npy", shards=0, threads=0, sync=True, *,
                    attributes=None, progress=None):
    """Save an embedding table (one word per row of `vectors`, no word holding a line end) as the
    dataset `dir`: the vectors as shards, the words in a file beside them, one commit."""
    words = list(words)
    v = _array(vectors, "vectors")
    return _info(_ndshard.save_embeddings(_path(dir), words, v, format, _count(shards, "shards"),
                                          _count(threads, "threads"), bool(sync),
                                          _attributes(attributes), progress))


def load_embeddings(dir, verify=True, threads=0, *, dtype=None, progress=None):
    """Read a dataset saved by save_embeddings: return (words, vectors)."""
    return _ndshard.load_embeddings(_path(dir), bool(verify), _count(threads, "threads"),
                                    _dtype_code(dtype), progress)


def blocks(source, block_rows=0, dtype=None, *, first_row=0, last_row=None, prefetch=2,
           verify=True, threads=0, delimiter=None, skip_rows=0, comment="#", progress=None):
    """Iterate over the rows of a dataset, zarr store, .npy file or text file, in order, as
    (first_row, block) pairs, reading ahead in the background. block_rows 0: about 64 MiB of
    rows. dtype None: the source's (float64 for text). Each block is a fresh array (one copy of
    the reader's buffer); memory stays bounded whatever the source's size."""
    r = _ndshard.BlockReader(_path(source), _count(block_rows, "block_rows"), _dtype_code(dtype),
                             _count(first_row, "first_row"),
                             None if last_row is None else _count(last_row, "last_row"),
                             _count(prefetch, "prefetch"), bool(verify),
                             _count(threads, "threads"), _char(delimiter, "delimiter", True),
                             _count(skip_rows, "skip_rows"), _char(comment, "comment", True),
                             progress)
    return _blocks(r)


def _blocks(r):
    try:
        while True:
            item = r.next()
            if item is None:
                return
            yield item
    finally:
        r.close()


class Writer:
    """A dataset built batch by batch with bounded memory (see `writer`). Nothing at the
    directory changes until commit(); close() (or leaving a `with` block by an exception) removes
    what was written."""

    def __init__(self, dir, row_shape, dtype="float32", format="npy", shard_rows=0, threads=0,
                 sync=True, append=False, attributes=None, progress=None):
        code = _dtype_code(dtype)
        if code is None:
            raise ArgumentError("ndshard: a writer needs a dtype")
        self.dtype = _np.dtype(dtype)
        if isinstance(row_shape, (int, _np.integer)):
            row_shape = (row_shape,)
        self.row_shape = tuple(_count(d, "row_shape") for d in row_shape)
        self.info = None
        self._w = _ndshard.Writer(_path(dir), list(self.row_shape), code, format,
                                  _count(shard_rows, "shard_rows"), _count(threads, "threads"),
                                  bool(sync), bool(append), _attributes(attributes), progress)

    def write(self, batch):
        """Add rows: an array of shape (n, *row_shape) of the writer's dtype (lists are
        converted); copied into the current shard, full shards written in the background."""
        if not isinstance(batch, _np.ndarray):
            batch = _np.asarray(batch, dtype=self.dtype)
        self._w.write(_array(batch, "batch"))

    def commit(self):
        """Write the last shard, wait for all, commit atomically; return the dataset's info."""
        self.info = _info(self._w.commit())
        return self.info

    def close(self):
        """Without commit(): remove what was written; the directory stays as it was."""
        self._w.close()

    @property
    def rows(self):
        """Rows written so far."""
        return self._w.rows

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and not self._w.closed:
            self.commit()
        else:
            self.close()
        return False


def writer(dir, row_shape, dtype="float32", format="npy", shard_rows=0, threads=0, sync=True,
           append=False, *, attributes=None, progress=None):
    """A Writer for the dataset `dir` whose rows have shape `row_shape` (() for a rank-1 dataset):

        with ndshard.writer("out.nds", (768,), dtype="float32") as w:
            for batch in batches:
                w.write(batch)          # committed when the block ends without an exception

    append=True continues the dataset already there (same dtype, row shape and format)."""
    return Writer(dir, row_shape, dtype, format, shard_rows, threads, sync, append, attributes,
                  progress)


from . import zarr  # noqa: E402  (ndshard.zarr.save, ndshard.zarr.load, ...)
