// dataset_writer and append: a dataset built batch by batch (any batch sizes, contiguous or not,
// any shard size) is the dataset save writes of the whole; nothing at the directory changes
// before commit(), and an abandoned writer leaves it as it was; appends leave the old shards
// untouched and refuse rows of another dtype, row shape or format; concurrent appends all land,
// each batch whole.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <ndshard/ndshard.hpp>
#include <ndshard/writer.hpp>
#include <numeric>
#include <string>
#include <thread>
#include <vector>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xview.hpp>

#include "child_process.hpp"
#include "generation.hpp"
#include "hostile.hpp"
#include "rows_support.hpp"

using ndshard_test::error_of;
using ndshard_test::numbered;
using ndshard_test::quarters;
using ndshard_test::quick;
using ndshard_test::shape_of;

namespace {

ndshard::writer_options wopts(std::size_t shard_rows,
                              ndshard::shard_format f = ndshard::shard_format::npy) {
    ndshard::writer_options o;
    o.format = f;
    o.shard_rows = shard_rows;
    o.threads = 2;
    o.sync = false;
    return o;
}

std::vector<std::size_t> row_shape_of(const std::vector<std::size_t>& shape) {
    return std::vector<std::size_t>(shape.begin() + 1, shape.end());
}

/// Checks that `info` lists shards of `shard_rows` rows (the last one shorter) from row `base`.
void check_shard_rows(const ndshard::dataset_info& info, std::size_t first_new, std::size_t base,
                      std::size_t rows, std::size_t shard_rows) {
    REQUIRE(info.shards.size() >= first_new);
    std::size_t next = base;
    for (std::size_t i = first_new; i < info.shards.size(); ++i) {
        INFO("shard " << i);
        CHECK(info.shards[i].first_row == next);
        CHECK(info.shards[i].last_row == std::min(base + rows, next + shard_rows));
        next = info.shards[i].last_row;
    }
    CHECK(next == base + rows);
}

/// Writes `a` through a dataset_writer in batches of the sizes `plan` gives (cycled), checking
/// rows() after each, and commits.
template <class T>
ndshard::dataset_info write_in_batches(const std::filesystem::path& dir, const xt::xarray<T>& a,
                                       const std::vector<std::size_t>& plan,
                                       const ndshard::writer_options& o) {
    ndshard::dataset_writer<T> w(dir, row_shape_of(shape_of(a)), o);
    const std::size_t rows = a.shape()[0];
    std::size_t r = 0;
    for (std::size_t k = 0; r < rows || k < plan.size(); ++k) {
        const std::size_t n = std::min(rows - r, plan[k % plan.size()]);
        w.write(xt::view(a, xt::range(r, r + n)));
        r += n;
        REQUIRE(w.rows() == r);
    }
    return w.commit();
}

struct file_state {
    ino_t inode;
    timespec mtime;
    std::string bytes;
};

file_state state_of(const std::filesystem::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return {st.st_ino, st.st_mtim, ndshard_test::read_file(p)};
}

void check_same(const file_state& a, const file_state& b) {
    CHECK(a.inode == b.inode);
    CHECK(a.mtime.tv_sec == b.mtime.tv_sec);
    CHECK(a.mtime.tv_nsec == b.mtime.tv_nsec);
    CHECK(a.bytes == b.bytes);
}

/// Everything in `dir`: names and bytes.
std::map<std::string, std::string> snapshot(const std::filesystem::path& dir) {
    std::map<std::string, std::string> m;
    for (const auto& name : ndshard_test::list_dir(dir))
        m[name] = ndshard_test::read_file(dir / name);
    return m;
}

template <class T>
xt::xarray<T> concat(const xt::xarray<T>& a, const xt::xarray<T>& b) {
    return xt::concatenate(xt::xtuple(a, b), 0);
}

/// `batches` holds batch 0, then batches 1000, 1001, ... and 2000, 2001, ... (`each` of both)
/// interleaved in any way, each appender's in its order.
void check_two_appenders(const std::vector<std::uint64_t>& batches, std::size_t each) {
    REQUIRE(batches.size() == 1 + 2 * each);
    std::vector<std::uint64_t> one, two;
    for (const auto b : batches) {
        if (b >= 2000) {
            two.push_back(b);
        } else if (b >= 1000) {
            one.push_back(b);
        }
    }
    REQUIRE(one.size() == each);
    REQUIRE(two.size() == each);
    for (std::size_t i = 0; i < each; ++i) {
        CHECK(one[i] == 1000 + i);
        CHECK(two[i] == 2000 + i);
    }
}

}  // namespace

TEST_CASE("writer: any batch sizes and shard sizes give the dataset save gives", "[writer]") {
    ndshard_test::temp_dir tmp;
    const auto a = quarters({211, 3});
    (void)ndshard::save(tmp / "ref", a, quick(3));
    const auto ref = ndshard::load<double>(tmp / "ref");
    const std::vector<std::vector<std::size_t>> plans = {
        {1}, {1, 7, 1000, 3}, {211}, {0, 5, 0, 200, 0}, {2, 3, 5, 7, 11, 13}};
    std::size_t n = 0;
    for (const std::size_t shard_rows :
         {std::size_t{1}, std::size_t{13}, std::size_t{211}, std::size_t{5000}}) {
        for (const auto& plan : plans) {
            INFO("shard_rows " << shard_rows << ", plan " << n % plans.size());
            const auto dir = tmp / ("w" + std::to_string(n++));
            const auto info = write_in_batches(dir, a, plan, wopts(shard_rows));
            CHECK(info.shape == std::vector<std::size_t>{211, 3});
            CHECK(info.dtype == "<f8");
            check_shard_rows(info, 0, 0, 211, shard_rows);
            CHECK(ndshard::inspect(dir).shards.size() == info.shards.size());
            const auto got = ndshard::load<double>(dir);
            REQUIRE(shape_of(got) == shape_of(ref));
            REQUIRE(ndshard_test::same_bits(got, ref));
            CHECK(ndshard::verify(dir).ok());
            CHECK(ndshard_test::strays(dir, info).empty());
        }
    }
}

TEST_CASE("writer: non-contiguous batches (steps, transposes, column-major, expressions)",
          "[writer]") {
    ndshard_test::temp_dir tmp;
    const auto a = quarters({60, 4});
    ndshard::dataset_writer<double> w(tmp / "ds", {4}, wopts(7));
    // rows [0, 10): every other row of an array twice as long
    xt::xarray<double> twice = xt::zeros<double>({20, 4});
    xt::view(twice, xt::range(0, 20, 2)) = xt::view(a, xt::range(0, 10));
    w.write(xt::view(twice, xt::range(0, 20, 2)));
    // rows [10, 25): the transpose of a (4, 15) array
    const xt::xarray<double> turned = xt::transpose(xt::view(a, xt::range(10, 25)));
    w.write(xt::transpose(turned));
    // rows [25, 40): every other column of an array twice as wide
    xt::xarray<double> wide = xt::zeros<double>({15, 8});
    xt::view(wide, xt::all(), xt::range(0, 8, 2)) = xt::view(a, xt::range(25, 40));
    w.write(xt::view(wide, xt::all(), xt::range(0, 8, 2)));
    // rows [40, 50): a column-major array
    xt::xarray<double, xt::layout_type::column_major> cm = xt::view(a, xt::range(40, 50));
    w.write(cm);
    // rows [50, 60): an expression, evaluated as it is written; in reverse order, then reversed
    w.write(xt::view(a, xt::range(50, 55)) * 1.0);
    w.write(xt::flip(xt::view(a, xt::range(55, 60)), 0) * 0.0 + xt::view(a, xt::range(55, 60)));
    CHECK(w.rows() == 60);
    const auto info = w.commit();
    check_shard_rows(info, 0, 0, 60, 7);
    const auto got = ndshard::load<double>(tmp / "ds");
    REQUIRE(ndshard_test::same_bits(got, a));
}

TEST_CASE("writer: rank 1 and rank 3, integer and bool rows, csv and tsv", "[writer]") {
    ndshard_test::temp_dir tmp;
    const auto r1 = numbered<std::int64_t>(
        {50}, [](std::size_t i) { return static_cast<std::int64_t>(i * i) - 1000; });
    auto info = write_in_batches(tmp / "r1", r1, {1, 7, 20}, wopts(9));
    CHECK(info.shape == std::vector<std::size_t>{50});
    check_shard_rows(info, 0, 0, 50, 9);
    CHECK((ndshard::load<std::int64_t>(tmp / "r1") == r1));

    const auto r3 = numbered<std::int16_t>({23, 2, 3}, [](std::size_t i) {
        return static_cast<std::int16_t>(static_cast<int>(i) * 37 - 2000);
    });
    info = write_in_batches(tmp / "r3", r3, {4, 1}, wopts(5));
    CHECK(info.shape == std::vector<std::size_t>{23, 2, 3});
    CHECK((ndshard::load<std::int16_t>(tmp / "r3") == r3));

    const auto flags = numbered<bool>({31, 2}, [](std::size_t i) { return i % 5 < 2; });
    (void)write_in_batches(tmp / "bool", flags, {3, 10}, wopts(8));
    CHECK((ndshard::load<bool>(tmp / "bool") == flags));

    for (const auto f : {ndshard::shard_format::csv, ndshard::shard_format::tsv}) {
        INFO(ndshard::to_string(f));
        const auto dir = tmp / ndshard::to_string(f);
        const auto a = quarters({40, 3});
        info = write_in_batches(dir, a, {1, 7, 1000, 3}, wopts(6, f));
        CHECK(info.format == f);
        CHECK(info.shards[0].path == std::string("part-000001-00000.") + ndshard::to_string(f));
        CHECK(ndshard::verify(dir).ok());
        CHECK((ndshard::load<double>(dir) == a));
        // the same bytes as save writes for the same rows per shard
        (void)ndshard::save(tmp / "ref", xt::view(a, xt::range(0, 6)), quick(1, f));
        CHECK(ndshard_test::read_file(dir / info.shards[0].path) ==
              ndshard_test::read_file(tmp / "ref" / ndshard::inspect(tmp / "ref").shards[0].path));
    }
}

TEST_CASE("writer: a writer committed with no rows makes an empty dataset", "[writer]") {
    ndshard_test::temp_dir tmp;
    {
        ndshard::dataset_writer<float> w(tmp / "ds", {3, 2}, wopts(4));
        w.write(xt::xarray<float>::from_shape({0, 3, 2}));
        CHECK(w.rows() == 0);
        const auto info = w.commit();
        CHECK(info.shape == std::vector<std::size_t>{0, 3, 2});
        REQUIRE(info.shards.size() == 1);
        CHECK(info.shards[0].first_row == 0);
        CHECK(info.shards[0].last_row == 0);
    }
    const auto got = ndshard::load<float>(tmp / "ds");
    CHECK(shape_of(got) == std::vector<std::size_t>{0, 3, 2});
    CHECK(ndshard::verify(tmp / "ds").ok());
    {
        ndshard::dataset_writer<std::uint8_t> w(tmp / "r1", {}, wopts(0));
        (void)w.commit();
    }
    CHECK(shape_of(ndshard::load<std::uint8_t>(tmp / "r1")) == std::vector<std::size_t>{0});
}

TEST_CASE("writer: an abandoned writer leaves the directory as it was", "[writer]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto old = quarters({9, 3});
    (void)ndshard::save(dir, old, quick(2));
    const auto before = snapshot(dir);
    for (const bool append : {false, true}) {
        INFO("append " << append);
        auto o = wopts(5);
        o.append = append;
        {
            ndshard::dataset_writer<double> w(dir, {3}, o);
            w.write(quarters({23, 3}));  // four full shards written in the background
        }
        CHECK(snapshot(dir) == before);
        CHECK((ndshard::load<double>(dir) == old));
    }
    {
        // one that failed a write, then was dropped
        ndshard::dataset_writer<double> w(dir, {3}, wopts(5));
        w.write(quarters({12, 3}));
        CHECK_THROWS_AS(w.write(quarters({2, 4})), ndshard::error);
    }
    CHECK(snapshot(dir) == before);

    // a writer into a new directory leaves no directory
    {
        ndshard::dataset_writer<double> w(tmp / "new", {3}, wopts(5));
        w.write(quarters({12, 3}));
        CHECK(std::filesystem::is_directory(tmp / "new"));  // made at once, for the lock
    }
    CHECK_FALSE(std::filesystem::exists(tmp / "new"));
    { ndshard::dataset_writer<double> w(tmp / "new2", {3}, wopts(5)); }
    CHECK_FALSE(std::filesystem::exists(tmp / "new2"));
    CHECK(ndshard_test::list_dir(tmp.path()) == std::set<std::string>{"ds"});
    {
        ndshard::dataset_writer<double> w(tmp / "p" / "q", {3}, wopts(5));
        w.write(quarters({12, 3}));
    }
    CHECK_FALSE(std::filesystem::exists(tmp / "p" / "q"));  // (its parent "p" stays, for now)
}

TEST_CASE("writer: batches of another shape or type, and calls after commit", "[writer]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const std::string prefix = "ndshard: cannot write to '" + dir.string() + "': ";
    ndshard::dataset_writer<double> w(dir, {3}, wopts(4));
    w.write(quarters({2, 3}));
    CHECK(error_of([&] {
              w.write(quarters({2, 4}));
          }) == prefix + "expected a batch of shape (n, 3), found (2, 4)");
    CHECK(error_of([&] { w.write(quarters({6})); }) ==
          prefix + "expected a batch of shape (n, 3), found (6,)");
    CHECK(error_of([&] {
              w.write(quarters({1, 1, 3}));
          }) == prefix + "expected a batch of shape (n, 3), found (1, 1, 3)");
    CHECK(error_of([&] { w.write(xt::xarray<double>(1.5)); }) ==
          prefix + "expected a batch of shape (n, 3), found ()");
    CHECK(error_of([&] {
              w.write(xt::xarray<float>::from_shape({2, 3}));
          }) == prefix + "expected a batch of <f8 (float64) values, found <f4 (float32)");
    CHECK(error_of([&] {
              w.write(xt::xarray<std::int64_t>::from_shape({0, 3}));
          }) == prefix + "expected a batch of <f8 (float64) values, found <i8 (int64)");
    // refused batches add nothing: the writer goes on
    CHECK(w.rows() == 2);
    w.write(quarters({3, 3}) + 10);
    CHECK(w.rows() == 5);
    const auto info = w.commit();
    CHECK(info.shape == std::vector<std::size_t>{5, 3});
    CHECK((ndshard::load<double>(dir) == concat(xt::xarray<double>(quarters({2, 3})),
                                                xt::xarray<double>(quarters({3, 3}) + 10))));

    CHECK(error_of([&] {
              w.write(quarters({1, 3}));
          }) == prefix + "the writer has committed: write() must come before commit()");
    CHECK(error_of([&] { (void)w.commit(); }) == prefix + "the writer has already committed");

    ndshard::dataset_writer<std::int32_t> r1(tmp / "r1", {}, wopts(4));
    CHECK(error_of([&] {
              r1.write(xt::xarray<std::int32_t>::from_shape({2, 1}));
          }) == "ndshard: cannot write to '" + (tmp / "r1").string() +
                    "': expected a batch of shape (n,), found (2, 1)");
}

TEST_CASE("writer: append continues a dataset and leaves its shards untouched", "[writer]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto old = quarters({10, 3});
    const auto first = ndshard::save(dir, old, quick(2));
    std::vector<file_state> before;
    for (const auto& s : first.shards)
        before.push_back(state_of(dir / s.path));

    auto o = wopts(4);
    o.append = true;
    const auto more = xt::xarray<double>(quarters({11, 3}) + 100);
    ndshard::dataset_writer<double> w(dir, {3}, o);
    w.write(xt::view(more, xt::range(0, 5)));
    w.write(xt::view(more, xt::range(5, 11)));
    CHECK(w.rows() == 11);                       // this writer's rows only
    CHECK((ndshard::load<double>(dir) == old));  // nothing changes before the commit
    const auto info = w.commit();
    CHECK(info.shape == std::vector<std::size_t>{21, 3});
    CHECK(info.generation == first.generation + 1);
    REQUIRE(info.shards.size() == 2 + 3);
    for (std::size_t i = 0; i < 2; ++i) {
        CHECK(info.shards[i].path == first.shards[i].path);
        CHECK(info.shards[i].checksum == first.shards[i].checksum);
        check_same(state_of(dir / first.shards[i].path), before[i]);
    }
    check_shard_rows(info, 2, 10, 11, 4);
    CHECK((ndshard::load<double>(dir) == concat(old, more)));
    CHECK((ndshard::load_rows<double>(dir, 8, 13) ==
           xt::xarray<double>(xt::view(concat(old, more), xt::range(8, 13)))));
    CHECK(ndshard::verify(dir).ok());
    CHECK(ndshard_test::strays(dir, info).empty());

    // an append of nothing changes nothing
    const auto manifest = ndshard_test::read_file(dir / "manifest.json");
    {
        ndshard::dataset_writer<double> none(dir, {3}, o);
        none.write(quarters({0, 3}));
        const auto same = none.commit();
        CHECK(same.shape == std::vector<std::size_t>{21, 3});
        CHECK(same.generation == info.generation);
    }
    CHECK(ndshard_test::read_file(dir / "manifest.json") == manifest);

    // append into a directory that does not exist: a new dataset
    ndshard::dataset_writer<double> fresh(tmp / "a" / "b", {3}, o);
    fresh.write(old);
    const auto created = fresh.commit();
    CHECK(created.shape == std::vector<std::size_t>{10, 3});
    CHECK((ndshard::load<double>(tmp / "a" / "b") == old));
}

TEST_CASE("writer: append refuses rows of another dtype, row shape or format", "[writer]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    (void)ndshard::save(dir, quarters({10, 3}), quick(2));
    const auto before = snapshot(dir);
    const std::string prefix = "ndshard: cannot append to '" + dir.string() + "': ";
    auto o = wopts(4);
    o.append = true;
    CHECK(error_of([&] { ndshard::dataset_writer<float> w(dir, {3}, o); }) ==
          prefix +
              "expected rows of dtype <f8 (float64) and shape (3,), as the dataset holds, found "
              "rows of dtype <f4 (float32) and shape (3,)");
    CHECK(error_of([&] { ndshard::dataset_writer<double> w(dir, {4}, o); }) ==
          prefix +
              "expected rows of dtype <f8 (float64) and shape (3,), as the dataset holds, found "
              "rows of dtype <f8 (float64) and shape (4,)");
    CHECK(error_of([&] {
              ndshard::dataset_writer<double> w(dir, {3, 1}, o);
          }) ==
          prefix +
              "expected rows of dtype <f8 (float64) and shape (3,), as the dataset holds, found "
              "rows of dtype <f8 (float64) and shape (3, 1)");
    auto csv = o;
    csv.format = ndshard::shard_format::csv;
    CHECK(error_of([&] { ndshard::dataset_writer<double> w(dir, {3}, csv); }) ==
          prefix + "expected shards of format npy, as the dataset's, found csv");
    // the same through append()
    CHECK(error_of([&] {
              (void)ndshard::append(dir, xt::xarray<std::int32_t>::from_shape({2, 3}), quick());
          }) ==
          prefix +
              "expected rows of dtype <f8 (float64) and shape (3,), as the dataset holds, found "
              "rows of dtype <i4 (int32) and shape (3,)");
    CHECK(error_of([&] {
              (void)ndshard::append(dir, quarters({2, 3}), quick(2, ndshard::shard_format::tsv));
          }) == prefix + "expected shards of format npy, as the dataset's, found tsv");
    CHECK(error_of([&] { (void)ndshard::append(dir, xt::xarray<double>(1.0), quick()); }) ==
          prefix + "expected rows (an array of rank 1 or more), found a rank-0 array");
    CHECK(snapshot(dir) == before);
    // the lock was given back: a save goes through
    (void)ndshard::save(dir, quarters({2, 3}), quick());

    // a rank-0 dataset has no rows to extend
    const auto scalar = tmp / "scalar";
    (void)ndshard::save(scalar, xt::xarray<double>(2.5), quick(1));
    CHECK(error_of([&] { (void)ndshard::append(scalar, quarters({2}), quick()); }) ==
          "ndshard: cannot append to '" + scalar.string() +
              "': expected a dataset of rank 1 or more (rows to extend), found rank 0");
}

TEST_CASE("append: 100 appends of 10 rows, and appends of nothing", "[writer]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    const auto all = numbered<std::int32_t>(
        {1000, 2}, [](std::size_t i) { return static_cast<std::int32_t>(i) * 3 - 7; });
    for (std::size_t k = 0; k < 100; ++k) {
        const auto info =
            ndshard::append(dir, xt::view(all, xt::range(10 * k, 10 * k + 10)), quick(1 + k % 3));
        REQUIRE(info.shape == std::vector<std::size_t>{10 * k + 10, 2});
        REQUIRE(info.generation == k + 1);
    }
    CHECK((ndshard::load<std::int32_t>(dir) == all));
    CHECK(ndshard::verify(dir).ok());
    CHECK(ndshard_test::strays(dir, ndshard::inspect(dir)).empty());

    const auto manifest = ndshard_test::read_file(dir / "manifest.json");
    const auto names = ndshard_test::list_dir(dir);
    const auto same = ndshard::append(dir, xt::xarray<std::int32_t>::from_shape({0, 2}), quick());
    CHECK(same.shape == std::vector<std::size_t>{1000, 2});
    CHECK(ndshard_test::read_file(dir / "manifest.json") == manifest);
    CHECK(ndshard_test::list_dir(dir) == names);

    // an append of nothing into no dataset: an empty one
    const auto info =
        ndshard::append(tmp / "new", xt::xarray<std::int32_t>::from_shape({0, 2}), quick());
    CHECK(info.shape == std::vector<std::size_t>{0, 2});
    CHECK(shape_of(ndshard::load<std::int32_t>(tmp / "new")) == std::vector<std::size_t>{0, 2});

    // text datasets append too
    const auto text = tmp / "csv";
    const auto a = quarters({7, 2});
    (void)ndshard::append(text, xt::view(a, xt::range(0, 3)), quick(2, ndshard::shard_format::csv));
    (void)ndshard::append(text, xt::view(a, xt::range(3, 7)), quick(2, ndshard::shard_format::csv));
    CHECK((ndshard::load<double>(text) == a));
}

TEST_CASE("append: two threads appending at once both land, each batch whole", "[writer]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    (void)ndshard::append(dir, ndshard_test::batch_array(0), quick(1));
    const std::size_t each = 20;
    std::vector<std::string> problems(2);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
            try {
                for (std::uint64_t b = (t + 1) * 1000; b < (t + 1) * 1000 + each; ++b) {
                    const auto a = ndshard_test::batch_array(b);
                    if (b % 2 == 0) {
                        (void)ndshard::append(dir, a, quick(1 + b % 3));
                    } else {
                        auto o = wopts(8);
                        o.append = true;
                        ndshard::dataset_writer<std::int64_t> w(dir, {ndshard_test::batch_cols}, o);
                        w.write(xt::view(a, xt::range(0, 1)));
                        w.write(xt::view(a, xt::range(1, a.shape()[0])));
                        (void)w.commit();
                    }
                }
            } catch (const std::exception& e) {
                problems[t] = e.what();
            }
        });
    }
    for (auto& t : threads)
        t.join();
    CHECK(problems[0] == "");
    CHECK(problems[1] == "");
    std::vector<std::uint64_t> batches;
    std::string why;
    INFO(why);
    REQUIRE(ndshard_test::batches_of(ndshard::load<std::int64_t>(dir), batches, why));
    CHECK(batches[0] == 0);
    check_two_appenders(batches, each);
    CHECK(ndshard_test::strays(dir, ndshard::inspect(dir)).empty());
}

TEST_CASE("append: two processes appending at once both land, each batch whole",
          "[writer][concurrency]") {
    ndshard_test::temp_dir tmp;
    const auto dir = tmp / "ds";
    (void)ndshard::append(dir, ndshard_test::batch_array(0), quick(1));
    const std::size_t each = 30;
    {
        ndshard_test::child_process p1({"append", dir.string(), "1000", std::to_string(each)});
        ndshard_test::child_process p2({"append", dir.string(), "2000", std::to_string(each)});
        CHECK(p1.wait() == "exit 0");
        CHECK(p2.wait() == "exit 0");
    }
    std::vector<std::uint64_t> batches;
    std::string why;
    INFO(why);
    REQUIRE(ndshard_test::batches_of(ndshard::load<std::int64_t>(dir), batches, why));
    CHECK(batches[0] == 0);
    check_two_appenders(batches, each);
    CHECK(ndshard::inspect(dir).generation == 1 + 2 * each);
    CHECK(ndshard::verify(dir).ok());
}
