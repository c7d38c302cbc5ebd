"""Files written by the C++ library (the ndshard program, the C++ tests' fixtures) read from
Python, and files Python writes read by the C++ program."""
import subprocess

import numpy as np
import pytest

import ndshard
from conftest import FIXTURES, sample, same_bits

FIXTURE_DTYPES = ["b1", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"]


@pytest.mark.parametrize("code", FIXTURE_DTYPES)
def test_fixtures_read_as_numpy_does(code):
    f = FIXTURES / f"dtype_{code}.npy"
    assert same_bits(ndshard.read_npy(f), np.load(f))


@pytest.mark.parametrize("name", ["big_endian_f8", "big_endian_i4", "fortran_2d", "fortran_3d",
                                  "fortran_big_endian", "v1_f8", "v2_i4", "v3_u2", "zero_d",
                                  "empty_0x3", "empty_2x0"])
def test_special_fixtures(name):
    f = FIXTURES / f"{name}.npy"
    want = np.load(f)
    got = ndshard.read_npy(f)
    assert got.dtype == want.dtype.newbyteorder("=") and np.array_equal(got, want)


def run(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "uint8", "bool"])
def test_cli_writes_python_reads(cli, tmp_path, dtype):
    a = sample(dtype, (300, 4, 2), seed=11)  # text keeps no NaN payloads
    np.save(tmp_path / "a.npy", a)
    run(cli, "convert", "--no-progress", "--shards", "3", str(tmp_path / "a.npy"),
        str(tmp_path / "a.nds"))
    assert same_bits(ndshard.load(tmp_path / "a.nds"), a)
    assert len(ndshard.inspect(tmp_path / "a.nds")["shards"]) == 3
    run(cli, "convert", "--no-progress", "--codec", "zstd" if ndshard.zarr.codecs else "none",
        str(tmp_path / "a.npy"), str(tmp_path / "a.zarr"))
    assert same_bits(ndshard.zarr.load(tmp_path / "a.zarr"), a)
    if dtype != "bool":
        run(cli, "convert", "--no-progress", str(tmp_path / "a.npy"), str(tmp_path / "t.nds"),
            "--format", "tsv")
        assert same_bits(ndshard.load(tmp_path / "t.nds"), a)


@pytest.mark.parametrize("dtype", ["float64", "int16", "uint64"])
def test_python_writes_cli_reads(cli, tmp_path, dtype):
    a = sample(dtype, (200, 3), seed=12, bits=dtype != "float64")
    ndshard.save(tmp_path / "p.nds", a[:, ::-1], shards=4)
    run(cli, "verify", str(tmp_path / "p.nds"))
    run(cli, "convert", "--no-progress", str(tmp_path / "p.nds"), str(tmp_path / "back.npy"))
    assert same_bits(np.load(tmp_path / "back.npy"), np.ascontiguousarray(a[:, ::-1]))
    ndshard.write_text(tmp_path / "p.csv", a, delimiter=",")
    run(cli, "convert", "--no-progress", "--dtype", dtype, str(tmp_path / "p.csv"),
        str(tmp_path / "csv.npy"))
    assert same_bits(np.load(tmp_path / "csv.npy"), a)
    ndshard.zarr.save(tmp_path / "p.zarr", a, chunk_rows=33)
    run(cli, "convert", "--no-progress", str(tmp_path / "p.zarr"), str(tmp_path / "z.npy"))
    assert same_bits(np.load(tmp_path / "z.npy"), a)
    info = run(cli, "info", str(tmp_path / "p.nds")).stdout
    assert "(200, 3)" in info or "200" in info


def test_numpy_reads_dataset_shards(tmp_path):
    """The format promise: shards are plain .npy files numpy.load reads, in manifest order."""
    a = sample("float32", (100, 5), seed=13)
    info = ndshard.save(tmp_path / "d.nds", a, shards=4)
    parts = [np.load(tmp_path / "d.nds" / s["path"]) for s in info["shards"]]
    assert same_bits(np.concatenate(parts), a)
