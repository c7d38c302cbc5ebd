// The tests of ndshard/mpi.hpp, run by ctest under `mpirun -np N` for N = 1..4 (label mpi).
//
//   test_mpi DIR             every case below, in DIR (a fresh directory of rank 0's making)
//   test_mpi kill DIR        saves a dataset, then starts a second save in which the last rank
//                            kills itself: mpirun must abort (tests/mpi/kill.sh checks the rest)
//   test_mpi check-old DIR   the dataset of `kill` loads whole, as its first save wrote it
//   test_mpi large DIR       rank 0's part is larger than 2 GiB (MPI's int counts)
//
// A tiny harness instead of Catch: every rank runs every case; a failed check prints the rank,
// file and line; the exit status is 1 on every rank when any check failed on any rank.
#include <mpi.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <ndshard/mpi.hpp>
#include <ndshard/ndshard.hpp>

namespace fs = std::filesystem;

namespace {

int rank = 0, ranks = 1, failures = 0;
MPI_Comm world = MPI_COMM_WORLD;

#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            ++failures;                                                                          \
            std::fprintf(stderr, "rank %d: %s:%d: CHECK(%s) failed\n", rank, __FILE__, __LINE__, \
                         #cond);                                                                 \
        }                                                                                        \
    } while (0)

/// Runs `fn`, which must throw ndshard::error with exactly `expected` as its message.
template <class F>
void check_error(int line, F&& fn, const std::string& expected) {
    try {
        fn();
        ++failures;
        std::fprintf(stderr, "rank %d: line %d: expected an error, none thrown\n", rank, line);
    } catch (const ndshard::error& e) {
        if (e.what() != expected) {
            ++failures;
            std::fprintf(stderr, "rank %d: line %d: expected the error\n  %s\nfound\n  %s\n", rank,
                         line, expected.c_str(), e.what());
        }
    }
}

/// Runs `fn`, which must throw ndshard::error; returns its message.
template <class F>
std::string error_of(int line, F&& fn) {
    try {
        fn();
    } catch (const ndshard::error& e) {
        return e.what();
    }
    ++failures;
    std::fprintf(stderr, "rank %d: line %d: expected an error, none thrown\n", rank, line);
    return {};
}

/// The message of a collective call that failed on rank `r` and on `others` more ranks.
std::string rank_failed(int r, const std::string& rest, int others = 0) {
    std::string m =
        "ndshard: rank " + std::to_string(r) + " of " + std::to_string(ranks) + " failed";
    if (others > 0)
        m += " (and " + std::to_string(others) + " other rank" + (others > 1 ? "s" : "") + ")";
    return m + ": " + rest;
}

/// Every rank failed, rank 0 first.
std::string all_failed(const std::string& rest) {
    return rank_failed(0, rest, ranks - 1);
}

bool starts_with(const std::string& s, const std::string& p) {
    return s.compare(0, p.size(), p) == 0;
}
bool ends_with(const std::string& s, const std::string& p) {
    return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

/// Element `i` of the reference arrays: every bit pattern that matters for T (extremes, NaN,
/// infinities, -0, subnormals) among ordinary values.
template <class T>
T value(std::uint64_t i) {
    if constexpr (std::is_same_v<T, bool>) {
        return i % 3 == 0;
    } else if constexpr (std::is_floating_point_v<T>) {
        switch (i % 11) {
            case 0:
                return std::numeric_limits<T>::quiet_NaN();
            case 1:
                return -std::numeric_limits<T>::infinity();
            case 2:
                return std::numeric_limits<T>::max();
            case 3:
                return std::numeric_limits<T>::denorm_min();
            case 4:
                return T(-0.0);
            default:
                return static_cast<T>(static_cast<double>(i) * 0.1 - 7.0 / 3.0);
        }
    } else {
        switch (i % 7) {
            case 0:
                return std::numeric_limits<T>::min();
            case 1:
                return std::numeric_limits<T>::max();
            default:
                return static_cast<T>(i * 2654435761u + 17u);
        }
    }
}

/// The reference array: `rows` rows of `row_shape`, starting at global row `first`.
template <class T>
xt::xarray<T> rows_of(std::size_t first, std::size_t rows, std::vector<std::size_t> row_shape) {
    std::vector<std::size_t> shape = row_shape;
    shape.insert(shape.begin(), rows);
    xt::xarray<T> a = xt::xarray<T>::from_shape(shape);
    const std::size_t rs = ndshard::detail::row_size_of(shape);
    for (std::size_t k = 0; k < a.size(); ++k)
        a.data()[k] = value<T>(first * rs + k);
    return a;
}

/// Bit for bit, shapes included.
template <class T>
bool same(const xt::xarray<T>& a, const xt::xarray<T>& b) {
    if (a.shape() != b.shape()) return false;
    if constexpr (std::is_same_v<T, bool>) {
        return std::equal(a.data(), a.data() + a.size(), b.data());
    } else {
        return a.size() == 0 || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
    }
}

/// The rows each rank holds in the uneven split: rank 1 none (when there are 2 ranks or more).
std::size_t uneven_rows(int r) {
    static const std::size_t counts[] = {5, 0, 7, 3};
    return counts[r % 4];
}

std::size_t before(const std::function<std::size_t(int)>& count, int r) {
    std::size_t n = 0;
    for (int i = 0; i < r; ++i)
        n += count(i);
    return n;
}

std::size_t total(const std::function<std::size_t(int)>& count) {
    return before(count, ranks);
}

fs::path base;

fs::path fresh(const std::string& name) {
    const fs::path p = base / name;
    if (rank == 0) fs::remove_all(p);
    MPI_Barrier(world);
    return p;
}

std::set<std::string> files_in(const fs::path& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        out.insert(e.path().filename().string());
    return out;
}

std::string file_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// save, load and the .npy file of one dtype and row shape, in the split `count` gives.
template <class T>
void round_trip(const std::string& name, const std::vector<std::size_t>& row_shape,
                const std::function<std::size_t(int)>& count, std::size_t shards = 0) {
    const fs::path dir = fresh(name);
    const std::size_t all = total(count);
    const xt::xarray<T> local = rows_of<T>(before(count, rank), count(rank), row_shape);
    ndshard::save_options so;
    so.shards = shards;
    so.threads = 2;
    const ndshard::dataset_info info = ndshard::mpi::save(world, dir, local, so);
    CHECK(info.shape.size() == row_shape.size() + 1 && info.shape[0] == all);
    CHECK(info.dtype == ndshard::descr_of<T>());

    const ndshard::row_range mine = ndshard::mpi::rows_of_rank(world, all);
    const xt::xarray<T> expect = rows_of<T>(mine.first_row, mine.rows(), row_shape);
    CHECK(same(ndshard::mpi::load<T>(world, dir), expect));
    // the single-process API reads it whole, and finds nothing wrong
    if (rank == 0) {
        CHECK(same(ndshard::load<T>(dir), rows_of<T>(0, all, row_shape)));
        const ndshard::verify_result v = ndshard::verify(dir);
        CHECK(v.ok() && v.unchecked == 0);
    }
    // one .npy file by every rank
    const fs::path npy = dir.string() + ".npy";
    for (const bool collective : {false, true}) {
        ndshard::mpi::npy_options o;
        o.collective = collective;
        ndshard::mpi::write_npy(world, npy, local, o);
        CHECK(same(ndshard::mpi::read_npy<T>(world, npy, o), expect));
        if (rank == 0) CHECK(same(ndshard::read_npy<T>(npy), rows_of<T>(0, all, row_shape)));
    }
    MPI_Barrier(world);
}

template <class... T>
void every_dtype() {
    (round_trip<T>("dtype-" + ndshard::descr_of<T>().substr(1), {3}, uneven_rows), ...);
}

void case_dtypes_and_ranks() {
    every_dtype<bool, std::int8_t, std::int16_t, std::int32_t, std::int64_t, std::uint8_t,
                std::uint16_t, std::uint32_t, std::uint64_t, float, double>();
    // rank 1 and rank 3 arrays, an even split (rows_of_rank's own), one shard per rank
    const auto even = [](int r) {
        return ndshard::split_rows(10, static_cast<std::size_t>(ranks))
            .at(static_cast<std::size_t>(r))
            .rows();
    };
    round_trip<double>("rank1", {}, uneven_rows);
    round_trip<float>("rank3", {2, 3}, uneven_rows, 1);
    round_trip<std::int64_t>("even", {4}, even, 3);
    // no rows anywhere: one empty shard keeps the shape
    round_trip<double>("empty", {3}, [](int) { return std::size_t{0}; });
    // more ranks than rows: the ranks past the last row read none
    round_trip<std::uint16_t>("sparse", {2}, [](int r) { return r == ranks - 1 ? 2u : 0u; });
}

void case_rows_of_rank() {
    const ndshard::row_range r = ndshard::mpi::rows_of_rank(world, 10);
    const auto split = ndshard::split_rows(10, static_cast<std::size_t>(ranks));
    CHECK(r.first_row == split[static_cast<std::size_t>(rank)].first_row);
    CHECK(r.last_row == split[static_cast<std::size_t>(rank)].last_row);
    const ndshard::row_range none = ndshard::mpi::rows_of_rank(world, 1);
    CHECK(none.rows() == (rank == 0 ? 1u : 0u));
    if (rank > 0) CHECK(none.first_row == 1 && none.last_row == 1);
}

/// A dataset to keep: what a failed save must leave as it was.
xt::xarray<double> keep_rows() {
    return rows_of<double>(0, 6, {3});
}

void save_old(const fs::path& dir) {
    if (rank == 0) (void)ndshard::save(dir, keep_rows(), {ndshard::shard_format::npy, 2});
    MPI_Barrier(world);
}

void check_old(const fs::path& dir, const std::set<std::string>& files) {
    MPI_Barrier(world);
    if (rank == 0) {
        CHECK(same(ndshard::load<double>(dir), keep_rows()));
        CHECK(files_in(dir) == files);
        CHECK(ndshard::verify(dir).ok());
    }
    MPI_Barrier(world);
}

void case_wrong_shapes() {
    const fs::path dir = fresh("wrong-shape");
    save_old(dir);
    const std::set<std::string> files = files_in(dir);
    const int last = ranks - 1;
    if (ranks > 1) {
        const xt::xarray<double> local = rows_of<double>(0, 2, {rank == last ? 4u : 3u});
        check_error(
            __LINE__, [&] { (void)ndshard::mpi::save(world, dir, local); },
            rank_failed(last, "cannot save '" + dir.string() +
                                  "': expected rows of dtype <f8 (float64) and shape (3,), "
                                  "as rank 0's, found rows of dtype <f8 (float64) and "
                                  "shape (4,)"));
        check_old(dir, files);
        check_error(
            __LINE__, [&] { ndshard::mpi::write_npy(world, dir / "x.npy", local); },
            rank_failed(last, "cannot write '" + (dir / "x.npy").string() +
                                  "': expected rows of dtype <f8 (float64) and shape (3,), "
                                  "as rank 0's, found rows of dtype <f8 (float64) and "
                                  "shape (4,)"));
        // another element type on the last rank
        if (rank == last) {
            const xt::xarray<float> f = rows_of<float>(0, 2, {3});
            check_error(
                __LINE__, [&] { (void)ndshard::mpi::save(world, dir, f); },
                rank_failed(last, "cannot save '" + dir.string() +
                                      "': expected rows of dtype <f8 (float64) and shape "
                                      "(3,), as rank 0's, found rows of dtype <f4 "
                                      "(float32) and shape (3,)"));
        } else {
            check_error(
                __LINE__, [&] { (void)ndshard::mpi::save(world, dir, local); },
                rank_failed(last, "cannot save '" + dir.string() +
                                      "': expected rows of dtype <f8 (float64) and shape "
                                      "(3,), as rank 0's, found rows of dtype <f4 "
                                      "(float32) and shape (3,)"));
        }
        check_old(dir, files);
    }
    // a rank-0 part on the last rank (and, with one rank, on rank 0)
    xt::xarray<double> scalar = xt::xarray<double>::from_shape({});
    scalar() = 1.5;
    const xt::xarray<double> local = rows_of<double>(0, 2, {3});
    const std::string expected =
        rank_failed(last, "cannot save '" + dir.string() +
                              "': expected this rank's part as an array of rank 1 or more (rows "
                              "to join), found rank 0");
    if (rank == last)
        check_error(
            __LINE__, [&] { (void)ndshard::mpi::save(world, dir, scalar); }, expected);
    else
        check_error(
            __LINE__, [&] { (void)ndshard::mpi::save(world, dir, local); }, expected);
    check_old(dir, files);
}

/// The last rank cannot write more than 4 KiB per file (RLIMIT_FSIZE, as on a full quota).
struct small_files {
    rlimit old{};
    bool on;
    explicit small_files(bool on_this_rank) : on(on_this_rank) {
        if (!on) return;
        std::signal(SIGXFSZ, SIG_IGN);  // write() fails with EFBIG instead of killing us
        getrlimit(RLIMIT_FSIZE, &old);
        rlimit small = old;
        small.rlim_cur = 4096;
        setrlimit(RLIMIT_FSIZE, &small);
    }
    ~small_files() {
        if (on) setrlimit(RLIMIT_FSIZE, &old);
    }
};

void case_write_fails() {
    const fs::path dir = fresh("write-fails");
    save_old(dir);
    const std::set<std::string> files = files_in(dir);
    const int last = ranks - 1;
    const xt::xarray<double> local = rows_of<double>(0, 20000, {3});  // 480 kB a rank
    {
        const small_files limit(rank == last);
        const std::string m =
            error_of(__LINE__, [&] { (void)ndshard::mpi::save(world, dir, local); });
        CHECK(starts_with(m, rank_failed(last, "cannot write '" + (dir / "part-").string())));
        CHECK(ends_with(m, ".npy': File too large"));
    }
    check_old(dir, files);

    // one .npy file over an old one: whichever rank writes the data (MPI-IO may gather it on
    // aggregator ranks), the write fails on every rank and the old file stays
    const fs::path npy = dir / "one.npy";
    if (rank == 0) ndshard::write_npy(npy, keep_rows());
    MPI_Barrier(world);
    const std::string old_bytes = rank == 0 ? file_bytes(npy) : std::string();
    const std::set<std::string> with_npy = rank == 0 ? files_in(dir) : std::set<std::string>();
    for (const bool collective : {false, true}) {
        ndshard::mpi::npy_options o;
        o.collective = collective;
        {
            const small_files limit(true);
            const std::string m =
                error_of(__LINE__, [&] { ndshard::mpi::write_npy(world, npy, local, o); });
            CHECK(starts_with(m, "ndshard: rank "));
            CHECK(m.find("cannot write '" + npy.string() + "'") != std::string::npos);
        }
        MPI_Barrier(world);
        if (rank == 0) {
            CHECK(file_bytes(npy) == old_bytes);
            CHECK(files_in(dir) == with_npy);  // the private file is gone
        }
        MPI_Barrier(world);
    }
    // the last rank alone: independent writes name it
    {
        const small_files limit(rank == last);
        const std::string m =
            error_of(__LINE__, [&] { ndshard::mpi::write_npy(world, npy, local); });
        if (rank == last && ranks > 1) std::fprintf(stderr, "(last rank alone: %s)\n", m.c_str());
        // ompio: "expected to write 480000 bytes at offset ..., wrote 0"; romio: "MPI_ERR_IO: ..."
        CHECK(starts_with(m, rank_failed(last, "cannot write '" + npy.string() + "': ")));
    }
    MPI_Barrier(world);
    if (rank == 0) CHECK(file_bytes(npy) == old_bytes);
    MPI_Barrier(world);
}

void case_interop() {
    const fs::path dir = fresh("interop");
    const xt::xarray<std::int32_t> all = rows_of<std::int32_t>(0, 23, {2});
    // the single-process save: three shards
    if (rank == 0) (void)ndshard::save(dir, all, {ndshard::shard_format::npy, 3});
    MPI_Barrier(world);
    const ndshard::row_range r = ndshard::mpi::rows_of_rank(world, 23);
    CHECK(same(ndshard::mpi::load<std::int32_t>(world, dir),
               rows_of<std::int32_t>(r.first_row, r.rows(), {2})));
    // text shards, read as another type with convert
    const fs::path text = fresh("interop-text");
    if (rank == 0) (void)ndshard::save(text, all, {ndshard::shard_format::csv, 2});
    MPI_Barrier(world);
    ndshard::load_options convert;
    convert.convert = true;
    const xt::xarray<double> as_double = ndshard::mpi::load<double>(world, text, convert);
    CHECK(same(as_double, xt::xarray<double>(xt::cast<double>(
                              rows_of<std::int32_t>(r.first_row, r.rows(), {2})))));
    // dataset_writer, then append: four more rows
    const fs::path written = fresh("interop-writer");
    if (rank == 0) {
        ndshard::dataset_writer<std::int32_t> w(written, {2});
        w.write(xt::view(all, xt::range(0, 10)));
        w.write(xt::view(all, xt::range(10, 23)));
        (void)w.commit();
        (void)ndshard::append(written, rows_of<std::int32_t>(23, 4, {2}));
    }
    MPI_Barrier(world);
    const ndshard::row_range r27 = ndshard::mpi::rows_of_rank(world, 27);
    CHECK(same(ndshard::mpi::load<std::int32_t>(world, written),
               rows_of<std::int32_t>(r27.first_row, r27.rows(), {2})));
    // rows of each rank's choosing: overlapping, reversed order of ranks, one empty
    const std::size_t a = static_cast<std::size_t>(rank) * 3, b = rank == 1 ? a : a + 5;
    CHECK(same(ndshard::mpi::load_rows<std::int32_t>(world, written, a, b),
               rows_of<std::int32_t>(a, b - a, {2})));
    // an mpi::save extended by a plain append, read back by every rank
    const fs::path extended = fresh("interop-append");
    const std::size_t mine = uneven_rows(rank), first = before(uneven_rows, rank);
    (void)ndshard::mpi::save(world, extended, rows_of<std::int32_t>(first, mine, {2}));
    const std::size_t n = total(uneven_rows);
    if (rank == 0) (void)ndshard::append(extended, rows_of<std::int32_t>(n, 5, {2}));
    MPI_Barrier(world);
    const ndshard::row_range re = ndshard::mpi::rows_of_rank(world, n + 5);
    CHECK(same(ndshard::mpi::load<std::int32_t>(world, extended),
               rows_of<std::int32_t>(re.first_row, re.rows(), {2})));
    if (rank == 0)
        CHECK(same(ndshard::load<std::int32_t>(extended), rows_of<std::int32_t>(0, n + 5, {2})));
    // text shards from every rank: exact (shortest round trip), read back by every rank
    const fs::path csv = fresh("interop-tsv");
    const xt::xarray<double> mine_d = rows_of<double>(first, mine, {3});
    ndshard::save_options tsv;
    tsv.format = ndshard::shard_format::tsv;
    const ndshard::dataset_info ti = ndshard::mpi::save(world, csv, mine_d, tsv);
    CHECK(ti.format == ndshard::shard_format::tsv && ti.shape[0] == n);
    CHECK(same(ndshard::mpi::load<double>(world, csv),
               rows_of<double>(ndshard::mpi::rows_of_rank(world, n).first_row,
                               ndshard::mpi::rows_of_rank(world, n).rows(), {3})));
    if (rank == 0) CHECK(same(ndshard::load<double>(csv), rows_of<double>(0, n, {3})));
    // a second mpi::save replaces the dataset and removes the old generation's shards
    (void)ndshard::mpi::save(world, extended, rows_of<std::int32_t>(first, mine, {2}));
    MPI_Barrier(world);
    if (rank == 0) {
        const ndshard::dataset_info info = ndshard::inspect(extended);
        std::set<std::string> expect = {"manifest.json", ".ndshard.lock"};
        for (const auto& s : info.shards)
            expect.insert(s.path);
        CHECK(files_in(extended) == expect);
        CHECK(info.generation == 3);
    }
    MPI_Barrier(world);
}

void case_bad_input() {
    const fs::path missing = base / "no-such-dataset";
    check_error(
        __LINE__, [&] { (void)ndshard::mpi::load<double>(world, missing); },
        rank_failed(0, "cannot read '" + missing.string() + "': no such directory"));
    // the wrong element type: every rank says so, and rank 0 is the first
    const fs::path dir = fresh("bad-input");
    save_old(dir);
    check_error(
        __LINE__, [&] { (void)ndshard::mpi::load<float>(world, dir); },
        all_failed("cannot load '" + (dir / "manifest.json").string() +
                   "': expected dtype <f4 (float32), found <f8 (float64): set "
                   "load_options::convert to convert while reading"));
    check_error(
        __LINE__, [&] { (void)ndshard::mpi::load_rows<double>(world, dir, 2, 9); },
        all_failed("cannot load rows of '" + dir.string() +
                   "': expected a row range [first, last) with first <= last <= 6 "
                   "(the rows there are), found [2, 9)"));
    // a damaged shard: the rank that reads it fails, every rank throws
    const ndshard::dataset_info info = ndshard::inspect(dir);
    if (rank == 0) {
        const fs::path shard = dir / info.shards.back().path;
        std::string bytes = file_bytes(shard);
        bytes.back() = static_cast<char>(bytes.back() ^ 1);
        std::ofstream(shard, std::ios::binary | std::ios::trunc) << bytes;
    }
    MPI_Barrier(world);
    // the last shard holds rows [3, 6): the first rank whose rows reach into it reads it
    int reader = 0;
    for (int r = 0; r < ranks; ++r) {
        const auto split = ndshard::split_rows(6, static_cast<std::size_t>(ranks));
        if (static_cast<std::size_t>(r) < split.size() &&
            split[static_cast<std::size_t>(r)].last_row > 3) {
            reader = r;
            break;
        }
    }
    const std::string m = error_of(__LINE__, [&] { (void)ndshard::mpi::load<double>(world, dir); });
    // the ranks that read the shard fail: the first of them is named
    CHECK(starts_with(
        m, "ndshard: rank " + std::to_string(reader) + " of " + std::to_string(ranks) + " failed"));
    CHECK(m.find("checksum mismatch in '" + (dir / info.shards.back().path).string() + "'") !=
          std::string::npos);
    // .npy files: the wrong type, Fortran order, a rank-0 array, a truncated file
    const fs::path npy = dir / "a.npy";
    if (rank == 0) ndshard::write_npy(npy, keep_rows());
    MPI_Barrier(world);
    check_error(
        __LINE__, [&] { (void)ndshard::mpi::read_npy<std::int64_t>(world, npy); },
        all_failed("cannot read '" + npy.string() +
                   "': expected dtype <i8 (int64), found <f8 (float64)"));
    const fs::path fortran = dir / "f.npy";
    if (rank == 0) {
        xt::xarray<double, xt::layout_type::column_major> f = keep_rows();
        ndshard::write_npy(fortran, f);
        std::string bytes = file_bytes(fortran);
        const auto at = bytes.find("'fortran_order': False");
        if (at != std::string::npos) bytes.replace(at, 22, "'fortran_order': True ");
        std::ofstream(fortran, std::ios::binary | std::ios::trunc) << bytes;
    }
    MPI_Barrier(world);
    check_error(
        __LINE__, [&] { (void)ndshard::mpi::read_npy<double>(world, fortran); },
        all_failed("cannot read rows of '" + fortran.string() +
                   "': expected a C-ordered file, found Fortran order (its rows "
                   "are not contiguous: ndshard::read_npy reads it whole)"));
    const fs::path truncated = dir / "t.npy";
    if (rank == 0) {
        std::string bytes = file_bytes(npy);
        bytes.resize(bytes.size() - 8);
        std::ofstream(truncated, std::ios::binary | std::ios::trunc) << bytes;
    }
    MPI_Barrier(world);
    const std::string t =
        error_of(__LINE__, [&] { (void)ndshard::mpi::read_npy<double>(world, truncated); });
    CHECK(starts_with(t, rank_failed(0, "")));
    CHECK(t.find(truncated.string()) != std::string::npos);
    check_error(
        __LINE__, [&] { (void)ndshard::mpi::read_npy<double>(world, dir / "none.npy"); },
        rank_failed(0, "cannot open for reading '" + (dir / "none.npy").string() +
                           "': No such file or directory"));
    // a directory where the .npy file should go
    check_error(
        __LINE__, [&] { ndshard::mpi::write_npy(world, dir, keep_rows()); },
        rank_failed(0, "cannot write '" + dir.string() + "': Is a directory"));
    MPI_Barrier(world);
}

/// Uneven, unaligned byte ranges through collective MPI-IO, read back by every rank in another
/// split: the access pattern of ompio's data-sieving read bug (open-mpi/ompi #10546). Run under
/// the default io component and under romio321 (see tests/CMakeLists.txt).
void case_unaligned_ranges() {
    const fs::path dir = fresh("unaligned");
    if (rank == 0) fs::create_directories(dir);
    MPI_Barrier(world);
    const fs::path npy = dir / "u.npy";
    // 13-byte rows of int8 (odd offsets everywhere), rank r holding 1000 * r + 7 rows
    const auto count = [](int r) { return std::size_t(1000) * static_cast<std::size_t>(r) + 7; };
    const xt::xarray<std::int8_t> local =
        rows_of<std::int8_t>(before(count, rank), count(rank), {13});
    ndshard::mpi::write_npy(world, npy, local);
    const ndshard::row_range r = ndshard::mpi::rows_of_rank(world, total(count));
    // collective calls, with hints (one aggregator; striping hints, which ext4 and tmpfs ignore)
    ndshard::mpi::npy_options collective;
    collective.collective = true;
    MPI_Info_create(&collective.hints);
    MPI_Info_set(collective.hints, "cb_nodes", "1");
    MPI_Info_set(collective.hints, "romio_cb_write", "enable");
    MPI_Info_set(collective.hints, "striping_factor", "4");
    CHECK(same(ndshard::mpi::read_npy<std::int8_t>(world, npy),
               rows_of<std::int8_t>(r.first_row, r.rows(), {13})));
    CHECK(same(ndshard::mpi::read_npy<std::int8_t>(world, npy, collective),
               rows_of<std::int8_t>(r.first_row, r.rows(), {13})));
    ndshard::mpi::write_npy(world, npy, local, collective);
    CHECK(same(ndshard::mpi::read_npy<std::int8_t>(world, npy, collective),
               rows_of<std::int8_t>(r.first_row, r.rows(), {13})));
    MPI_Info_free(&collective.hints);
    if (rank == 0)
        CHECK(
            same(ndshard::read_npy<std::int8_t>(npy), rows_of<std::int8_t>(0, total(count), {13})));
    MPI_Barrier(world);
}

/// A non-contiguous part (a transposed view): evaluated in pieces, written in rank order.
void case_noncontiguous() {
    const fs::path dir = fresh("strided");
    const std::size_t n = uneven_rows(rank), first = before(uneven_rows, rank);
    const xt::xarray<double> expect = rows_of<double>(first, n, {4});
    const xt::xarray<double> t = xt::transpose(expect);  // (4, n): its transpose is `expect`
    const auto local = xt::transpose(t);                 // not contiguous in row-major order
    (void)ndshard::mpi::save(world, dir, local);
    ndshard::mpi::write_npy(world, dir.string() + ".npy", local);
    if (rank == 0) {
        const xt::xarray<double> all = rows_of<double>(0, total(uneven_rows), {4});
        CHECK(same(ndshard::load<double>(dir), all));
        CHECK(same(ndshard::read_npy<double>(dir.string() + ".npy"), all));
    }
    MPI_Barrier(world);
}

/// Ranks that do not share the directory (each its own working directory, a relative path):
/// rank 0 finds the other ranks' shards missing before it commits, and keeps the old dataset.
void case_not_shared() {
    if (ranks < 2) return;
    const fs::path root = fresh("not-shared");
    const fs::path home = root / ("cwd-" + std::to_string(rank));
    fs::create_directories(home / "ds");
    const fs::path cwd = fs::current_path();
    fs::current_path(home);
    if (rank == 0) (void)ndshard::save("ds", keep_rows(), {ndshard::shard_format::npy, 2});
    MPI_Barrier(world);
    const std::set<std::string> files = rank == 0 ? files_in("ds") : std::set<std::string>();
    ndshard::save_options one;
    one.shards = 1;
    const xt::xarray<double> local = rows_of<double>(2 * static_cast<std::size_t>(rank), 2, {3});
    // rank 1's shard is the first rank 0 cannot see: generation 2, index 1, 2 rows of 3 doubles
    check_error(
        __LINE__, [&] { (void)ndshard::mpi::save(world, "ds", local, one); },
        rank_failed(0,
                    "cannot save 'ds': expected shard 'part-000002-00001.npy' of 176 "
                    "bytes, written by rank 1, found no such file where rank 0 sees "
                    "the directory (is it shared by every rank?)"));
    if (rank == 0) {
        CHECK(same(ndshard::load<double>("ds"), keep_rows()));
        CHECK(files_in("ds") == files);
    }
    // one .npy file: the other ranks do not see rank 0's new file, and say so
    const std::string m =
        error_of(__LINE__, [&] { ndshard::mpi::write_npy(world, "x.npy", local); });
    CHECK(starts_with(m, rank_failed(1,
                                     "cannot write 'x.npy': expected this rank to see the new "
                                     "file rank 0 made beside it, found No such file or "
                                     "directory (is the directory shared by every rank?)",
                                     ranks - 2)));
    if (rank == 0) {
        CHECK(!fs::exists("x.npy"));
        CHECK(files_in(".") == std::set<std::string>{"ds"});
        ndshard::write_npy("y.npy", local);
    }
    MPI_Barrier(world);
    check_error(
        __LINE__, [&] { (void)ndshard::mpi::read_npy<double>(world, "y.npy"); },
        rank_failed(1,
                    "cannot read 'y.npy': expected this rank to see the file rank 0 "
                    "read, found No such file or directory (is it on a file system "
                    "every rank sees?)",
                    ranks - 2));
    fs::current_path(cwd);
    MPI_Barrier(world);
}

int run_all() {
    case_rows_of_rank();
    case_dtypes_and_ranks();
    case_interop();
    case_noncontiguous();
    case_unaligned_ranges();
    case_wrong_shapes();
    case_write_fails();
    case_bad_input();
    case_not_shared();
    return 0;
}

/// `kill`: the old dataset, then a save in which the last rank dies while writing its shards.
void run_kill() {
    const fs::path dir = base;
    if (rank == 0) (void)ndshard::save(dir, keep_rows(), {ndshard::shard_format::npy, 2});
    MPI_Barrier(world);
    const xt::xarray<double> big = rows_of<double>(0, 400000, {4});
    if (rank == ranks - 1) {
        // evaluated lazily, element by element, by the save's threads: dies half way through
        const auto dying = xt::make_lambda_xfunction(
            [](double x) {
                static std::atomic<std::size_t> seen{0};
                if (seen.fetch_add(1) == 800000) ::raise(SIGKILL);
                return x;
            },
            big);
        (void)ndshard::mpi::save(world, dir, dying);
    } else {
        (void)ndshard::mpi::save(world, dir, big);
    }
    std::fprintf(stderr, "rank %d: the save finished, though a rank was killed\n", rank);
    ++failures;
}

void run_large() {
    // rank 0: 2.25 GiB of int8 in rows of 1 MiB; the others a few rows each
    const std::size_t row = std::size_t{1} << 20;
    const std::size_t mine = rank == 0 ? 2304 : 3;
    const std::size_t first = rank == 0 ? 0 : 2304 + 3 * static_cast<std::size_t>(rank - 1);
    xt::xarray<std::int8_t> local = xt::xarray<std::int8_t>::from_shape({mine, row});
    const auto fill = [&](std::size_t r0, std::size_t k) {  // element k of global row r0
        return static_cast<std::int8_t>((r0 * 131 + k * 7 + (k >> 9)) & 0x7f);
    };
    for (std::size_t r = 0; r < mine; ++r)
        for (std::size_t k = 0; k < row; ++k)
            local.data()[r * row + k] = fill(first + r, k);
    const auto check = [&](const xt::xarray<std::int8_t>& got, std::size_t f, std::size_t n) {
        CHECK(got.shape().size() == 2 && got.shape()[0] == n && got.shape()[1] == row);
        if (got.shape()[0] != n) return;
        std::size_t bad = 0;
        for (std::size_t r = 0; r < n; ++r)
            for (std::size_t k = 0; k < row; ++k)
                bad += got.data()[r * row + k] != fill(f + r, k);
        CHECK(bad == 0);
    };
    const std::size_t all = 2304 + 3 * static_cast<std::size_t>(ranks - 1);
    const ndshard::row_range r = ndshard::mpi::rows_of_rank(world, all);
    ndshard::mpi::write_npy(world, base / "large.npy", local);
    check(ndshard::mpi::read_npy<std::int8_t>(world, base / "large.npy"), r.first_row, r.rows());
    fs::remove(base / "large.npy");
    ndshard::save_options one;
    one.shards = 1;  // rank 0's shard is larger than 2 GiB too
    (void)ndshard::mpi::save(world, base / "large", local, one);
    local = xt::xarray<std::int8_t>();
    check(ndshard::mpi::load<std::int8_t>(world, base / "large"), r.first_row, r.rows());
    MPI_Barrier(world);
    if (rank == 0) fs::remove_all(base);
}

}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(world, &rank);
    MPI_Comm_size(world, &ranks);
    const std::string mode = argc == 3 ? argv[1] : "all";
    if (argc < 2 || argc > 3) {
        if (rank == 0) std::fprintf(stderr, "usage: test_mpi [kill|check-old|large] DIR\n");
        MPI_Finalize();
        return 2;
    }
    base = argv[argc - 1];
    try {
        if (mode == "all") {
            if (rank == 0) {
                fs::remove_all(base);
                fs::create_directories(base);
            }
            MPI_Barrier(world);
            run_all();
        } else if (mode == "kill") {
            run_kill();
        } else if (mode == "check-old") {
            if (rank == 0) {
                CHECK(same(ndshard::load<double>(base), keep_rows()));
                CHECK(ndshard::verify(base).ok());
                // the killed save's shards are left for the next save to remove
                (void)ndshard::save(base, rows_of<double>(0, 2, {3}),
                                    {ndshard::shard_format::npy, 1});
                CHECK(files_in(base).size() == 3);  // manifest, lock, one shard
            }
        } else if (mode == "large") {
            if (rank == 0) {
                fs::remove_all(base);
                fs::create_directories(base);
            }
            MPI_Barrier(world);
            run_large();
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rank %d: unexpected exception: %s\n", rank, e.what());
        ++failures;
    }
    int all = 0;
    MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, world);
    if (rank == 0) std::printf("%s: %d rank(s), %d failed check(s)\n", mode.c_str(), ranks, all);
    if (rank == 0 && mode == "all" && all == 0) fs::remove_all(base);
    MPI_Finalize();
    return all == 0 ? 0 : 1;
}
