# Type stubs of the ndshard package (python/ndshard/__init__.py).
import os
from typing import Any, Callable, Iterator, Literal, Optional, Sequence, Tuple, TypedDict, Union

import numpy as np
import numpy.typing as npt

from . import zarr as zarr

__version__: str

PathLike = Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]
DTypeLike = npt.DTypeLike
Progress = Optional[Callable[[int, int], Optional[bool]]]
Format = Literal["npy", "csv", "tsv"]

class Error(Exception): ...
class FileError(Error, OSError): ...
class ParseError(FileError):
    line: int
    field: int
    column: int
class ArgumentError(Error, ValueError): ...
class Cancelled(Error): ...

class ShardInfo(TypedDict):
    path: str
    first_row: int
    last_row: int
    bytes: int
    checksum: str

class DatasetInfo(TypedDict):
    dtype: str
    shape: Tuple[int, ...]
    format: str
    shards: list[ShardInfo]
    generation: int
    attributes: dict[str, Any]
    words: Optional[ShardInfo]

class ShardProblem(TypedDict):
    shard: int
    path: str
    message: str

class VerifyResult(TypedDict):
    ok: bool
    problems: list[ShardProblem]
    shards: int
    unchecked: int
    bytes: int

def save(dir: PathLike, array: npt.ArrayLike, format: Format = "npy", shards: int = 0,
         threads: int = 0, sync: bool = True, *, attributes: Optional[dict[str, Any]] = None,
         progress: Progress = None) -> DatasetInfo: ...
def append(dir: PathLike, rows: npt.ArrayLike, format: Format = "npy", shards: int = 0,
           threads: int = 0, sync: bool = True, *, attributes: Optional[dict[str, Any]] = None,
           progress: Progress = None) -> DatasetInfo: ...
def load(dir: PathLike, verify: bool = True, threads: int = 0, *, dtype: DTypeLike = None,
         progress: Progress = None) -> np.ndarray: ...
def load_rows(dir: PathLike, first: int, last: int, verify: bool = True, threads: int = 0, *,
              dtype: DTypeLike = None, progress: Progress = None) -> np.ndarray: ...
def inspect(dir: PathLike) -> DatasetInfo: ...
def verify(dir: PathLike, threads: int = 0, *, progress: Progress = None) -> VerifyResult: ...
def write_npy(path: PathLike, array: npt.ArrayLike, threads: int = 0, sync: bool = True) -> None: ...
def read_npy(path: PathLike, threads: int = 0) -> np.ndarray: ...
def read_npy_rows(path: PathLike, first: int, last: int, threads: int = 0) -> np.ndarray: ...
def write_text(path: PathLike, array: npt.ArrayLike, delimiter: str = "\t", precision: int = -1,
               threads: int = 0, sync: bool = True, *, header: Optional[Sequence[str]] = None,
               progress: Progress = None) -> None: ...
def read_text(path: PathLike, dtype: DTypeLike = "float64", delimiter: Optional[str] = None,
              skip_rows: int = 0, comment: Optional[str] = "#", threads: int = 0, *,
              overflow_to_infinity: bool = False, header: bool = False,
              usecols: Optional[Union[int, Sequence[int]]] = None,
              na_values: Optional[Sequence[str]] = None, quote: Optional[str] = '"',
              progress: Progress = None) -> np.ndarray: ...
def text_read_header(path: PathLike, delimiter: Optional[str] = None, skip_rows: int = 0,
                     comment: Optional[str] = "#", *,
                     usecols: Optional[Union[int, Sequence[int]]] = None,
                     quote: Optional[str] = '"') -> list[str]: ...
def read_embeddings(path: PathLike, dtype: DTypeLike = "float32",
                    delimiter: Optional[str] = None, skip_rows: int = 0, threads: int = 0, *,
                    overflow_to_infinity: bool = False,
                    progress: Progress = None) -> Tuple[list[str], np.ndarray]: ...
def save_embeddings(dir: PathLike, words: Sequence[str], vectors: npt.ArrayLike,
                    format: Format = "npy", shards: int = 0, threads: int = 0, sync: bool = True,
                    *, attributes: Optional[dict[str, Any]] = None,
                    progress: Progress = None) -> DatasetInfo: ...
def load_embeddings(dir: PathLike, verify: bool = True, threads: int = 0, *,
                    dtype: DTypeLike = None,
                    progress: Progress = None) -> Tuple[list[str], np.ndarray]: ...
def blocks(source: PathLike, block_rows: int = 0, dtype: DTypeLike = None, *,
           first_row: int = 0, last_row: Optional[int] = None, prefetch: int = 2,
           verify: bool = True, threads: int = 0, delimiter: Optional[str] = None,
           skip_rows: int = 0, comment: Optional[str] = "#",
           progress: Progress = None) -> Iterator[Tuple[int, np.ndarray]]: ...

class Writer:
    dtype: np.dtype[Any]
    row_shape: Tuple[int, ...]
    info: Optional[DatasetInfo]
    def __init__(self, dir: PathLike, row_shape: Union[int, Sequence[int]],
                 dtype: DTypeLike = "float32", format: Format = "npy", shard_rows: int = 0,
                 threads: int = 0, sync: bool = True, append: bool = False,
                 attributes: Optional[dict[str, Any]] = None, progress: Progress = None) -> None: ...
    def write(self, batch: npt.ArrayLike) -> None: ...
    def commit(self) -> DatasetInfo: ...
    def close(self) -> None: ...
    @property
    def rows(self) -> int: ...
    def __enter__(self) -> "Writer": ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Literal[False]: ...

def writer(dir: PathLike, row_shape: Union[int, Sequence[int]], dtype: DTypeLike = "float32",
           format: Format = "npy", shard_rows: int = 0, threads: int = 0, sync: bool = True,
           append: bool = False, *, attributes: Optional[dict[str, Any]] = None,
           progress: Progress = None) -> Writer: ...
