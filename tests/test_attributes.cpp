// User attributes: committed in the manifest with the shards, returned by save and inspect,
// kept by an append unless it is given new ones.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include <ndshard/ndshard.hpp>
#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>

#include "support.hpp"

using ndshard_test::error_of;
using ndshard_test::read_file;
using ndshard_test::same_bits;
using ndshard_test::temp_dir;
using nlohmann::json;

namespace {

xt::xarray<float> rows_of(std::size_t n, float base) {
    xt::xarray<float> a = xt::xarray<float>::from_shape({n, 2});
    for (std::size_t i = 0; i < a.size(); ++i)
        a.data()[i] = base + static_cast<float>(i);
    return a;
}

ndshard::save_options quick(json attributes = nullptr) {
    ndshard::save_options o;
    o.sync = false;
    o.attributes = std::move(attributes);
    return o;
}

}  // namespace

TEST_CASE("attributes: saved in the manifest, returned by save and inspect", "[attributes]") {
    temp_dir tmp;
    const auto dir = tmp / "d";
    const json attrs = {{"columns", {"x", "y"}},
                        {"unit", "m/s"},
                        {"scale", 0.5},
                        {"nested", {{"a", {1, 2, {{"b", nullptr}}}}}},
                        {"unicode", "\u00e9t\u00e9 \U0001F600"}};
    const auto a = rows_of(10, 1.0f);
    const auto info = ndshard::save(dir, a, quick(attrs));
    CHECK(info.attributes == attrs);
    CHECK(ndshard::inspect(dir).attributes == attrs);
    CHECK(same_bits(ndshard::load<float>(dir), a));
    // on one line of the manifest, after the generation
    const std::string m = read_file(dir / "manifest.json");
    CHECK(m.find("\n \"generation\": 1,\n \"attributes\": " + attrs.dump() + ",\n \"shards\": [") !=
          std::string::npos);

    // a save without attributes has none, and its manifest no such member
    const auto plain = ndshard::save(dir, a, quick());
    CHECK(plain.attributes == json::object());
    CHECK(ndshard::inspect(dir).attributes == json::object());
    CHECK(read_file(dir / "manifest.json").find("attributes") == std::string::npos);
    // text shards too
    ndshard::save_options csv = quick({{"k", 1}});
    csv.format = ndshard::shard_format::csv;
    CHECK(ndshard::save(dir, a, csv).attributes == json{{"k", 1}});
    CHECK(ndshard::inspect(dir).attributes == json{{"k", 1}});
}

TEST_CASE("attributes: an append keeps them unless given new ones; writers set them",
          "[attributes]") {
    temp_dir tmp;
    const auto dir = tmp / "d";
    (void)ndshard::save(dir, rows_of(4, 0.0f), quick({{"v", 1}}));
    CHECK(ndshard::append(dir, rows_of(3, 10.0f), quick()).attributes == json{{"v", 1}});
    CHECK(ndshard::inspect(dir).attributes == json{{"v", 1}});
    CHECK(ndshard::append(dir, rows_of(3, 20.0f), quick({{"v", 2}})).attributes == json{{"v", 2}});
    CHECK(ndshard::inspect(dir).attributes == json{{"v", 2}});
    CHECK(ndshard::append(dir, rows_of(1, 30.0f), quick(json::object())).attributes ==
          json::object());
    CHECK(ndshard::inspect(dir).shape == std::vector<std::size_t>{11, 2});

    ndshard::writer_options wo;
    wo.sync = false;
    wo.attributes = {{"source", "model-7"}};
    {
        ndshard::dataset_writer<float> w(dir, {2}, wo);
        w.write(rows_of(5, 0.0f));
        CHECK(w.commit().attributes == json{{"source", "model-7"}});
    }
    CHECK(ndshard::inspect(dir).attributes == json{{"source", "model-7"}});
    wo.attributes = nullptr;
    wo.append = true;
    {
        ndshard::dataset_writer<float> w(dir, {2}, wo);
        w.write(rows_of(2, 0.0f));
        CHECK(w.commit().attributes == json{{"source", "model-7"}});  // kept
    }
    wo.attributes = {{"source", "model-8"}};
    {
        ndshard::dataset_writer<float> w(dir, {2}, wo);
        w.write(rows_of(2, 0.0f));
        (void)w.commit();
    }
    CHECK(ndshard::inspect(dir).attributes == json{{"source", "model-8"}});
    CHECK(ndshard::inspect(dir).shape == std::vector<std::size_t>{9, 2});

    // a writer dropped without commit changes nothing, attributes included
    wo.attributes = {{"source", "never"}};
    {
        ndshard::dataset_writer<float> w(dir, {2}, wo);
        w.write(rows_of(2, 0.0f));
    }
    CHECK(ndshard::inspect(dir).attributes == json{{"source", "model-8"}});
}

TEST_CASE("attributes: a failed save keeps the old attributes with the old data", "[attributes]") {
    temp_dir tmp;
    const auto dir = tmp / "d";
    const auto old = rows_of(6, 0.0f);
    (void)ndshard::save(dir, old, quick({{"gen", "old"}}));
    ndshard::save_options o = quick({{"gen", "new"}});
    o.progress = [](std::uint64_t, std::uint64_t) { return false; };
    const auto saved = ndshard::detail::progress_interval();
    ndshard::detail::progress_interval() = std::chrono::milliseconds(0);
    o.threads = 1;
    CHECK_THROWS_AS(ndshard::save(dir, rows_of(600, 5.0f), o), ndshard::cancelled);
    ndshard::detail::progress_interval() = saved;
    CHECK(ndshard::inspect(dir).attributes == json{{"gen", "old"}});
    CHECK(same_bits(ndshard::load<float>(dir), old));
}

TEST_CASE("attributes: what is not an object, not UTF-8 or too deep is refused, unchanged",
          "[attributes]") {
    temp_dir tmp;
    const auto dir = tmp / "d";
    (void)ndshard::save(dir, rows_of(2, 0.0f), quick({{"ok", true}}));
    const std::string before = read_file(dir / "manifest.json");
    const std::string d = "'" + dir.string() + "'";
    CHECK(error_of([&] {
              (void)ndshard::save(dir, rows_of(2, 0.0f), quick({1, 2}));
          }) ==
          "ndshard: cannot save " + d +
              ": expected attributes as a JSON object (or null: none, or the dataset's own on an "
              "append), found an array of 2 items");
    CHECK(error_of([&] { (void)ndshard::append(dir, rows_of(2, 0.0f), quick("x")); }) ==
          "ndshard: cannot append to " + d +
              ": expected attributes as a JSON object (or null: none, or the dataset's own on an "
              "append), found \"x\"");
    CHECK(error_of([&] {
              (void)ndshard::save(dir, rows_of(2, 0.0f), quick({{"bad", std::string("a\xff")}}));
          }) == "ndshard: cannot save " + d +
                    ": cannot store the attributes: [json.exception.type_error.316] invalid "
                    "UTF-8 byte at index 1: 0xFF");
    json deep = 1;
    for (int i = 0; i < 8; ++i)
        deep = json{{"k", deep}};
    CHECK(error_of([&] { (void)ndshard::save(dir, rows_of(2, 0.0f), quick(deep)); }) ==
          "ndshard: cannot save " + d + ": expected attributes nested at most 7 levels deep");
    // a million levels: an error too, not a stack overflow (checked before anything recurses)
    json* leaf = &deep;
    for (int i = 0; i < 1000000; ++i)
        leaf = &((*leaf)["k"] = json::object());
    CHECK(error_of([&] { (void)ndshard::save(dir, rows_of(2, 0.0f), quick(std::move(deep))); }) ==
          "ndshard: cannot save " + d + ": expected attributes nested at most 7 levels deep");
    CHECK(error_of([&] {
              (void)ndshard::save(dir, rows_of(2, 0.0f),
                                  quick({{"x", std::numeric_limits<double>::quiet_NaN()}}));
          }) == "ndshard: cannot save " + d +
                    ": expected finite numbers in the attributes (JSON has no NaN or infinity), "
                    "found nan");
    ndshard::writer_options wo;
    wo.attributes = json::array();
    CHECK(error_of([&] { ndshard::dataset_writer<float> w(dir, {2}, wo); }) ==
          "ndshard: cannot write to " + d +
              ": expected attributes as a JSON object (or null: none, or the dataset's own on an "
              "append), found an array of 0 items");
    CHECK(read_file(dir / "manifest.json") == before);
    CHECK(ndshard::inspect(dir).attributes == json{{"ok", true}});

    // 7 objects, one inside the other: the deepest accepted (a manifest then nests 8 levels,
    // what every ndshard reader accepts)
    json ok = 1;
    for (int i = 0; i < 7; ++i)
        ok = json{{"k", ok}};
    CHECK(ndshard::save(dir, rows_of(2, 0.0f), quick(ok)).attributes == ok);
    CHECK(ndshard::inspect(dir).attributes == ok);

    // a manifest whose attributes are not an object is invalid
    std::string m = read_file(dir / "manifest.json");
    m.replace(m.find("\"attributes\": "), 14, "\"attributes\": [1], \"was\": ");
    ndshard_test::write_file(dir / "manifest.json", m);
    CHECK(error_of([&] { (void)ndshard::inspect(dir); }) ==
          "ndshard: invalid manifest '" + (dir / "manifest.json").string() +
              "': expected 'attributes' to be a JSON object, found [1]");
}
