"""Round trips through every path, bit for bit, for every dtype and ranks 0-4."""
import numpy as np
import pytest

import ndshard
from conftest import DTYPES, SHAPES, sample, same_bits


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"rank{len(s)}")
def test_save_load(tmp_path, dtype, shape):
    a = sample(dtype, shape, bits=True)
    info = ndshard.save(tmp_path / "d.nds", a, shards=3, threads=2)
    assert info["shape"] == shape
    assert info["dtype"] == a.dtype.str.replace("=", "<")
    b = ndshard.load(tmp_path / "d.nds")
    assert same_bits(a, b)
    assert b.flags.c_contiguous and b.flags.writeable and not b.flags.owndata
    assert type(b.base).__name__ == "PyCapsule"  # the owner of ndshard's buffer: no copy
    if len(shape) >= 1:
        assert same_bits(ndshard.load_rows(tmp_path / "d.nds", 1, shape[0]), a[1:])
        assert same_bits(ndshard.load_rows(tmp_path / "d.nds", 0, 0), a[:0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"rank{len(s)}")
def test_npy(tmp_path, dtype, shape):
    a = sample(dtype, shape, seed=1, bits=True)
    ndshard.write_npy(tmp_path / "a.npy", a)
    assert same_bits(np.load(tmp_path / "a.npy"), a)  # numpy reads ndshard's file
    np.save(tmp_path / "n.npy", a)
    assert same_bits(ndshard.read_npy(tmp_path / "n.npy"), a)  # ndshard reads numpy's
    if len(shape) >= 1:
        assert same_bits(ndshard.read_npy_rows(tmp_path / "n.npy", 1, shape[0]), a[1:])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"rank{len(s)}")
def test_zarr(tmp_path, dtype, shape):
    a = sample(dtype, shape, seed=2, bits=True)
    codec = "zstd" if ndshard.zarr.codecs else None
    info = ndshard.zarr.save(tmp_path / "a.zarr", a, codec=codec, chunk_rows=2)
    assert info["shape"] == shape
    assert same_bits(ndshard.zarr.load(tmp_path / "a.zarr"), a)
    if len(shape) >= 1:
        assert same_bits(ndshard.zarr.load_rows(tmp_path / "a.zarr", 1, shape[0]), a[1:])


@pytest.mark.parametrize("dtype", DTYPES)
def test_text_shortest_round_trip(tmp_path, dtype):
    a = sample(dtype, (40, 5), seed=3)
    for delimiter in ("\t", ",", " "):
        ndshard.write_text(tmp_path / "a.txt", a, delimiter=delimiter)
        b = ndshard.read_text(tmp_path / "a.txt", dtype=dtype)
        assert same_bits(a, b), delimiter
    # rank 1: one value per line; rank 3: flattened columns
    ndshard.write_text(tmp_path / "r1.tsv", a[:, 0])
    assert same_bits(ndshard.read_text(tmp_path / "r1.tsv", dtype=dtype)[:, 0], a[:, 0])
    a3 = a.reshape(40, 5, 1)
    ndshard.write_text(tmp_path / "r3.tsv", a3)
    assert same_bits(ndshard.read_text(tmp_path / "r3.tsv", dtype=dtype), a)


def test_text_float_extremes_bit_for_bit(tmp_path):
    for dtype in ("float32", "float64"):
        f = np.finfo(dtype)
        a = np.array([[np.nan, np.inf, -np.inf], [-0.0, f.smallest_subnormal, -f.max],
                      [f.max, f.tiny, f.smallest_subnormal * 3]], dtype=dtype)
        ndshard.write_text(tmp_path / "x.csv", a, delimiter=",")
        b = ndshard.read_text(tmp_path / "x.csv", dtype=dtype)
        assert same_bits(a, b)
        assert np.signbit(b[1, 0])
    # numpy reads ndshard's text and ndshard numpy's
    a = np.random.default_rng(4).standard_normal((30, 4))
    ndshard.write_text(tmp_path / "a.csv", a, delimiter=",")
    assert same_bits(np.loadtxt(tmp_path / "a.csv", delimiter=","), a)
    np.savetxt(tmp_path / "n.csv", a, delimiter=",", fmt="%.17g", header="a,b,c,d")
    assert same_bits(ndshard.read_text(tmp_path / "n.csv"), a)  # '# a,b,c,d' is a comment
    np.savetxt(tmp_path / "h.csv", a, delimiter=",", fmt="%.17g", header="a,b,c,d", comments="")
    assert same_bits(ndshard.read_text(tmp_path / "h.csv", skip_rows=1, delimiter=","), a)


def test_text_precision(tmp_path):
    a = np.array([[1 / 3, 2 / 3]])
    ndshard.write_text(tmp_path / "p.tsv", a, precision=3)
    assert (tmp_path / "p.tsv").read_text() == "0.333\t0.667\n"


@pytest.mark.parametrize("dtype", ["float64", "int32", "bool", "uint64"])
def test_text_shards(tmp_path, dtype):
    a = sample(dtype, (50, 3), seed=5)
    for fmt in ("csv", "tsv"):
        info = ndshard.save(tmp_path / f"{fmt}.nds", a, format=fmt, shards=4)
        assert info["format"] == fmt
        assert same_bits(ndshard.load(tmp_path / f"{fmt}.nds"), a)


def noncontiguous(a):
    yield "step", a[::2]
    yield "transpose", a.T
    yield "reversed columns", a[:, ::-1]
    yield "reversed rows", a[::-1]
    yield "both", a[::-3, ::-2]
    yield "fortran", np.asfortranarray(a)
    yield "broadcast", np.broadcast_to(a[:1], a.shape)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int16", "bool"])
def test_noncontiguous_inputs(tmp_path, dtype):
    a = sample(dtype, (12, 7), seed=6, bits=True)
    for name, v in noncontiguous(a):
        assert not v.flags.c_contiguous or name == "broadcast", name
        ndshard.save(tmp_path / "d.nds", v, shards=3)
        assert same_bits(ndshard.load(tmp_path / "d.nds"), np.ascontiguousarray(v)), name
        ndshard.write_npy(tmp_path / "v.npy", v)
        assert same_bits(np.load(tmp_path / "v.npy"), np.ascontiguousarray(v)), name
        ndshard.zarr.save(tmp_path / "v.zarr", v, codec=None, chunk_rows=2)
        assert same_bits(ndshard.zarr.load(tmp_path / "v.zarr"), np.ascontiguousarray(v)), name
        if dtype != "float64" or True:
            ndshard.write_text(tmp_path / "v.tsv", v)
            assert same_bits(ndshard.read_text(tmp_path / "v.tsv", dtype=dtype),
                             np.ascontiguousarray(v)), name
    # rank 3 with a strided middle axis
    a3 = sample(dtype, (6, 8, 5), seed=7, bits=True)
    v = a3[:, ::3, ::-2]
    ndshard.save(tmp_path / "d3.nds", v)
    assert same_bits(ndshard.load(tmp_path / "d3.nds"), np.ascontiguousarray(v))


def test_big_endian_input_is_converted(tmp_path):
    a = np.arange(12, dtype=">i4").reshape(3, 4)
    ndshard.save(tmp_path / "d.nds", a)
    b = ndshard.load(tmp_path / "d.nds")
    assert b.dtype == np.dtype("<i4") and np.array_equal(a, b)


def test_load_convert(tmp_path):
    a = np.arange(10, dtype="int64")
    ndshard.save(tmp_path / "d.nds", a)
    f = ndshard.load(tmp_path / "d.nds", dtype="float32")
    assert f.dtype == np.float32 and np.array_equal(f, a)
    assert ndshard.load_rows(tmp_path / "d.nds", 2, 4, dtype=np.int8).dtype == np.int8
    with pytest.raises(ndshard.FileError):
        ndshard.save(tmp_path / "big.nds", np.array([300]))
        ndshard.load(tmp_path / "big.nds", dtype="int8")  # 300 does not fit


def test_inspect_verify_attributes(tmp_path):
    a = np.ones((10, 2))
    attrs = {"columns": ["age", "height"], "unit": "cm", "n": 3, "nested": {"x": [1, 2.5]}}
    info = ndshard.save(tmp_path / "d.nds", a, shards=2, attributes=attrs)
    assert info["attributes"] == attrs
    i = ndshard.inspect(tmp_path / "d.nds")
    assert i["attributes"] == attrs and i["shape"] == (10, 2) and len(i["shards"]) == 2
    assert i["shards"][1]["last_row"] == 10 and i["words"] is None
    r = ndshard.verify(tmp_path / "d.nds")
    assert r["ok"] and r["problems"] == [] and r["shards"] == 2
    # a damaged shard is reported, not raised
    shard = tmp_path / "d.nds" / i["shards"][0]["path"]
    data = bytearray(shard.read_bytes())
    data[-1] ^= 1
    shard.write_bytes(bytes(data))
    r = ndshard.verify(tmp_path / "d.nds")
    assert not r["ok"] and r["problems"][0]["path"] == i["shards"][0]["path"]
    with pytest.raises(ndshard.FileError, match="checksum"):
        ndshard.load(tmp_path / "d.nds")
    assert ndshard.load(tmp_path / "d.nds", verify=False).shape == (10, 2)


def test_append(tmp_path):
    a = np.arange(12.0).reshape(6, 2)
    ndshard.save(tmp_path / "d.nds", a[:4], attributes={"k": "v"})
    info = ndshard.append(tmp_path / "d.nds", a[4:])
    assert info["shape"] == (6, 2) and info["attributes"] == {"k": "v"}
    assert same_bits(ndshard.load(tmp_path / "d.nds"), a)


@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_writer(tmp_path, dtype):
    a = sample(dtype, (1000, 4, 2), seed=8, bits=True)
    with ndshard.writer(tmp_path / "w.nds", (4, 2), dtype=dtype, shard_rows=300) as w:
        for i in range(0, 1000, 170):
            w.write(a[i:i + 170])
        w.write(a[:0])
        assert w.rows == 1000
    assert w.info["shape"] == (1000, 4, 2) and len(w.info["shards"]) == 4
    assert same_bits(ndshard.load(tmp_path / "w.nds"), a)
    # append=True continues it; a non-contiguous batch is fine
    with ndshard.writer(tmp_path / "w.nds", (4, 2), dtype=dtype, append=True,
                        attributes={"more": True}) as w:
        w.write(a[::-1][:10])
    b = ndshard.load(tmp_path / "w.nds")
    assert same_bits(b[1000:], a[::-1][:10])
    assert ndshard.inspect(tmp_path / "w.nds")["attributes"] == {"more": True}


def test_writer_rank1_and_lists(tmp_path):
    with ndshard.writer(tmp_path / "r.nds", (), dtype="int32") as w:
        w.write([1, 2, 3])
        w.write(np.array([4], dtype=np.int32))
    assert ndshard.load(tmp_path / "r.nds").tolist() == [1, 2, 3, 4]


def test_writer_exception_leaves_old_dataset(tmp_path):
    a = np.arange(6.0, dtype=np.float32)
    ndshard.save(tmp_path / "d.nds", a)
    with pytest.raises(RuntimeError):
        with ndshard.writer(tmp_path / "d.nds", (), dtype="float32") as w:
            w.write(np.zeros(5, dtype=np.float32))
            raise RuntimeError("stop")
    assert same_bits(ndshard.load(tmp_path / "d.nds"), a)
    assert sorted(p.name for p in (tmp_path / "d.nds").iterdir() if p.name.endswith(".npy")) \
        == [s["path"] for s in ndshard.inspect(tmp_path / "d.nds")["shards"]]
    with pytest.raises(ndshard.ArgumentError, match="float64"):
        with ndshard.writer(tmp_path / "e.nds", (), dtype="float32") as w:
            w.write(np.zeros(3))  # float64 batch into a float32 writer
    with pytest.raises(ndshard.FileError, match="shape"):
        with ndshard.writer(tmp_path / "e.nds", (2,), dtype="float32") as w:
            w.write(np.zeros((3, 3), dtype=np.float32))


@pytest.mark.parametrize("kind", ["dataset", "npy", "zarr", "text"])
def test_blocks(tmp_path, kind):
    a = sample("float64", (1001, 3), seed=9)
    if kind == "dataset":
        src = tmp_path / "s.nds"
        ndshard.save(src, a, shards=3)
    elif kind == "npy":
        src = tmp_path / "s.npy"
        np.save(src, a)
    elif kind == "zarr":
        src = tmp_path / "s.zarr"
        ndshard.zarr.save(src, a, chunk_rows=100)
    else:
        src = tmp_path / "s.tsv"
        ndshard.write_text(src, a)
    got, firsts = [], []
    for first, block in ndshard.blocks(src, block_rows=128):
        firsts.append(first)
        assert block.shape[0] <= 128
        got.append(block)
    assert firsts == list(range(0, 1001, 128))
    assert same_bits(np.concatenate(got), a)
    # a row range, and a dtype other than the source's (text only: the others must match)
    part = list(ndshard.blocks(src, block_rows=50, first_row=10, last_row=120))
    assert same_bits(np.concatenate([b for _, b in part]), a[10:120])
    # leaving early closes the reader
    for _ in ndshard.blocks(src, block_rows=10):
        break


def test_blocks_int_dataset(tmp_path):
    a = np.arange(100, dtype=np.uint16).reshape(50, 2)
    ndshard.save(tmp_path / "u.nds", a, shards=2)
    blocks = list(ndshard.blocks(tmp_path / "u.nds", block_rows=7))
    assert blocks[0][1].dtype == np.uint16
    assert same_bits(np.concatenate([b for _, b in blocks]), a)


def test_embeddings(tmp_path):
    text = "3 4\nthe 0.1 0.2 0.3 0.4\nköln -1 -2 -3 -4\n, 1e-3 2 3 4\n"
    (tmp_path / "e.vec").write_text(text, encoding="utf-8")
    words, vectors = ndshard.read_embeddings(tmp_path / "e.vec")
    assert words == ["the", "köln", ","]
    assert vectors.dtype == np.float32 and vectors.shape == (3, 4)
    assert vectors[0, 0] == np.float32(0.1)
    info = ndshard.save_embeddings(tmp_path / "e.nds", words, vectors, attributes={"src": "vec"})
    assert info["words"] is not None
    w2, v2 = ndshard.load_embeddings(tmp_path / "e.nds")
    assert w2 == words and same_bits(v2, vectors)
    assert same_bits(ndshard.load(tmp_path / "e.nds"), vectors)
    w3, v3 = ndshard.read_embeddings(tmp_path / "e.vec", dtype="float64")
    assert v3.dtype == np.float64
    with pytest.raises(ndshard.ArgumentError):
        ndshard.read_embeddings(tmp_path / "e.vec", dtype="int32")
    # non-UTF-8 bytes in a word survive the round trip
    (tmp_path / "b.txt").write_bytes(b"caf\xe9 1 2\n")
    wb, vb = ndshard.read_embeddings(tmp_path / "b.txt")
    ndshard.save_embeddings(tmp_path / "b.nds", wb, vb)
    assert ndshard.load_embeddings(tmp_path / "b.nds")[0] == wb
    assert wb[0].encode("utf-8", "surrogateescape") == b"caf\xe9"


def test_paths_of_every_kind(tmp_path):
    a = np.arange(3.0)
    ndshard.save(str(tmp_path / "s.nds"), a)
    ndshard.save(bytes(tmp_path / "b.nds"), a)
    ndshard.save(tmp_path / "caf\udce9.nds", a)  # a file name that is not UTF-8
    assert same_bits(ndshard.load(tmp_path / "caf\udce9.nds"), a)
    assert same_bits(ndshard.load(bytes(tmp_path / "b.nds")), a)


def test_version():
    assert isinstance(ndshard.__version__, str) and ndshard.__version__.count(".") == 2
