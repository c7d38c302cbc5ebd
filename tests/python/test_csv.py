"""pandas-style CSV from Python: header, usecols, missing values and quotes, checked against the
files pandas wrote (tests/fixtures/text) and, where pandas is installed, against pandas itself."""
import os

import numpy as np
import pytest

import ndshard

FIXTURES = os.path.join(os.environ.get("NDSHARD_FIXTURES", ""), "text")


def fixture(name):
    return os.path.join(FIXTURES, name)


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("name", ["pandas_missing", "pandas_na", "pandas_quoted"])
def test_to_csv_files_read_as_read_csv_reads_them(name):
    a = ndshard.read_text(fixture(name + ".csv"), header=True)
    assert same_bits(a, np.load(fixture(name + ".npy")))


def test_usecols_leaves_out_a_text_column():
    a = ndshard.read_text(fixture("pandas_labels.csv"), header=True, usecols=[0, 2, 3])
    assert same_bits(a, np.load(fixture("pandas_labels.npy")))
    assert ndshard.text_read_header(fixture("pandas_labels.csv"), usecols=[3, 0]) == ["weight",
                                                                                      "id"]
    assert ndshard.text_read_header(fixture("pandas_missing.csv")) == ["", "x", "y", "z", "w"]


def test_against_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(7)
    m = rng.standard_normal((200, 3)) * 10.0 ** rng.integers(-30, 30, (200, 3))
    m[rng.random((200, 3)) < 0.1] = np.nan
    frame = pd.DataFrame(m, columns=["a", "b, quoted", "c"])
    frame.to_csv(tmp_path / "f.csv")
    want = pd.read_csv(tmp_path / "f.csv", index_col=0, float_precision="round_trip")
    got = ndshard.read_text(tmp_path / "f.csv", header=True, usecols=[1, 2, 3])
    assert same_bits(got, want.to_numpy(np.float64))
    assert ndshard.text_read_header(tmp_path / "f.csv", usecols=[1, 2, 3]) == list(want.columns)
    # and back: ndshard's header and values, read by pandas
    ndshard.write_text(tmp_path / "g.csv", got, ",", header=list(want.columns))
    back = pd.read_csv(tmp_path / "g.csv", float_precision="round_trip")
    assert list(back.columns) == list(want.columns)
    assert same_bits(back.to_numpy(np.float64), got)


def test_missing_values_and_errors(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("1,\"\"\n2,NA\n3,null\n4,\n")
    a = ndshard.read_text(p)
    assert a[:, 0].tolist() == [1, 2, 3, 4] and np.isnan(a[:, 1]).all()
    with pytest.raises(ndshard.ParseError) as e:
        ndshard.read_text(p, na_values=[])
    assert str(e.value) == (f"ndshard: cannot parse '{p}' line 1, field 2 (byte 3): expected a "
                            "number, found '\"\"'")
    assert (e.value.line, e.value.field, e.value.column) == (1, 2, 3)
    with pytest.raises(ndshard.ParseError, match="a missing value: int64 has none"):
        ndshard.read_text(p, dtype="int64")
    with pytest.raises(ndshard.FileError, match=r"expected column indices \(usecols\) below 2"):
        ndshard.read_text(p, usecols=[5])
    with pytest.raises(ndshard.ArgumentError):
        ndshard.read_text(p, usecols=["a"])
    q = tmp_path / "q.csv"
    q.write_text('1,"2"\n')
    assert ndshard.read_text(q).tolist() == [[1.0, 2.0]]
    with pytest.raises(ndshard.ParseError, match="found '\"2\"'"):
        ndshard.read_text(q, quote=None)
