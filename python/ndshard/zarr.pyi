# Type stubs of ndshard.zarr (python/ndshard/zarr.py).
from typing import Any, Literal, Optional, Tuple, TypedDict

import numpy as np
import numpy.typing as npt

from . import PathLike, Progress

codecs: bool

class StoreInfo(TypedDict):
    dtype: str
    shape: Tuple[int, ...]
    chunks: Tuple[int, ...]
    compressor: Optional[dict[str, Any]]

def save(dir: PathLike, array: npt.ArrayLike,
         codec: Optional[Literal["zstd", "blosc", "blosc_lz4", "blosc_zstd", "none"]] = "zstd",
         level: int = 0, chunk_rows: int = 0, threads: int = 0, sync: bool = True, *,
         progress: Progress = None) -> StoreInfo: ...
def load(dir: PathLike, threads: int = 0, *, dtype: npt.DTypeLike = None,
         progress: Progress = None) -> np.ndarray: ...
def load_rows(dir: PathLike, first: int, last: int, threads: int = 0, *,
              dtype: npt.DTypeLike = None, progress: Progress = None) -> np.ndarray: ...
def inspect(dir: PathLike) -> StoreInfo: ...
