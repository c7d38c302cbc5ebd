// save_embeddings / load_embeddings: words and vectors in one dataset, one commit.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <ndshard/ndshard.hpp>
#include <xtensor/xtensor.hpp>

#include "support.hpp"

using ndshard_test::error_of;
using ndshard_test::list_dir;
using ndshard_test::read_file;
using ndshard_test::same_bits;
using ndshard_test::temp_dir;

namespace {

ndshard::embeddings<float> table(std::vector<std::string> words, std::size_t dims, float base) {
    ndshard::embeddings<float> e;
    e.vectors = xt::xtensor<float, 2>::from_shape({words.size(), dims});
    for (std::size_t i = 0; i < e.vectors.size(); ++i)
        e.vectors.data()[i] = base + static_cast<float>(i) / 8;
    e.words = std::move(words);
    return e;
}

ndshard::save_options quick() {
    ndshard::save_options o;
    o.sync = false;
    o.shards = 2;
    return o;
}

}  // namespace

TEST_CASE("embeddings dataset: words with spaces, '#', tabs and unicode round trip exactly",
          "[embeddings]") {
    temp_dir tmp;
    const auto dir = tmp / "emb.nds";
    const std::vector<std::string> words = {
        "the",       "New York", "#hashtag", "caf\u00e9", "\xe6\x97\xa5\xe6\x9c\xac",
        "tab\there", "",         "-0.5",     "x\\y"};
    for (const auto format : {ndshard::shard_format::npy, ndshard::shard_format::tsv}) {
        auto e = table(words, 3, -1.0f);
        e.vectors(2, 1) = -0.0f;
        ndshard::save_options o = quick();
        o.format = format;
        const auto info = ndshard::save_embeddings(dir, e, o);
        CHECK(info.words.path == "part-00000" + std::to_string(info.generation) + "-00000.words");
        CHECK(info.words.last_row == words.size());
        const auto back = ndshard::load_embeddings<float>(dir);
        CHECK(back.words == words);
        CHECK(same_bits(back.vectors, e.vectors));
        // the vectors are an ordinary dataset's rows
        CHECK(same_bits(ndshard::load<float>(dir), e.vectors));
        const auto r = ndshard::verify(dir);
        CHECK(r.ok());
        CHECK(r.shards == 3);  // two shards and the words
    }
    // the words file: UTF-8 as given, one per line, '\n' after each (what Python's
    // open(p).read().split("\n")[:-1] gives back)
    const auto info = ndshard::inspect(dir);
    CHECK(
        read_file(dir / info.words.path) ==
        "the\nNew York\n#hashtag\ncaf\u00e9\n\xe6\x97\xa5\xe6\x9c\xac\ntab\there\n\n-0.5\nx\\y\n");
    CHECK(read_file(dir / "manifest.json")
              .find("\n \"words\": {\"path\": \"" + info.words.path +
                    "\", \"rows\": [0, 9], \"bytes\": ") != std::string::npos);
    // the previous generation's words went with its shards
    CHECK(list_dir(dir) == std::set<std::string>{".ndshard.lock", "manifest.json",
                                                 "part-000002-00000.tsv", "part-000002-00001.tsv",
                                                 "part-000002-00000.words"});
    // an empty table
    const auto none = table({}, 4, 0.0f);
    (void)ndshard::save_embeddings(dir, none, quick());
    const auto empty = ndshard::load_embeddings<float>(dir);
    CHECK(empty.words.empty());
    CHECK(empty.vectors.shape() == std::array<std::size_t, 2>{0, 4});
}

TEST_CASE("embeddings dataset: a plain save replaces the words; errors name what fits",
          "[embeddings]") {
    temp_dir tmp;
    const auto dir = tmp / "emb.nds";
    const std::string d = "'" + dir.string() + "'";
    (void)ndshard::save_embeddings(dir, table({"a", "b", "c"}, 2, 0.0f), quick());
    const std::string manifest = read_file(dir / "manifest.json");
    CHECK(error_of([&] {
              (void)ndshard::save_embeddings(dir, table({"a", "b\nc"}, 2, 0.0f), quick());
          }) == "ndshard: cannot save " + d +
                    ": expected words without line ends (they are stored one per line), found "
                    "word 1 'b?c'");
    CHECK(error_of([&] {
              (void)ndshard::save_embeddings(dir, table({"a\rb", "c"}, 2, 0.0f), quick());
          }) == "ndshard: cannot save " + d +
                    ": expected words without line ends (they are stored one per line), found "
                    "word 0 'a?b'");
    auto wrong = table({"a", "b"}, 2, 0.0f);
    wrong.words.pop_back();
    CHECK(error_of([&] { (void)ndshard::save_embeddings(dir, wrong, quick()); }) ==
          "ndshard: cannot save " + d +
              ": expected one word per row of vectors (2), found 1 words");
    const std::string no_append =
        "ndshard: cannot append to " + d +
        ": expected a dataset of rows only, found an embeddings dataset (its rows have words: "
        "save_embeddings replaces it whole)";
    CHECK(error_of([&] {
              (void)ndshard::append(dir, xt::xtensor<float, 2>::from_shape({1, 2}), quick());
          }) == no_append);
    ndshard::writer_options wo;
    wo.append = true;
    CHECK(error_of([&] { ndshard::dataset_writer<float> w(dir, {2}, wo); }) == no_append);
    CHECK(read_file(dir / "manifest.json") == manifest);  // nothing changed
    CHECK(ndshard::load_embeddings<float>(dir).words == std::vector<std::string>{"a", "b", "c"});

    // a plain save: rows only, the words file goes
    (void)ndshard::save(dir, xt::xtensor<float, 2>::from_shape({2, 2}), quick());
    for (const auto& name : list_dir(dir))
        CHECK(name.find(".words") == std::string::npos);
    CHECK(error_of([&] { (void)ndshard::load_embeddings<float>(dir); }) ==
          "ndshard: cannot load embeddings from " + d +
              ": expected a dataset saved by save_embeddings (with words), found one of rows only "
              "(read it with load)");
}

TEST_CASE("embeddings dataset: a damaged words file is reported by load and verify",
          "[embeddings]") {
    temp_dir tmp;
    const auto dir = tmp / "emb.nds";
    const auto info = ndshard::save_embeddings(dir, table({"one", "two"}, 2, 0.0f), quick());
    const auto words = dir / info.words.path;
    const std::string w = "'" + words.string() + "'";
    ndshard_test::write_file(words, "one\ntwp\n");
    CHECK(error_of([&] { (void)ndshard::load_embeddings<float>(dir); }) ==
          "ndshard: checksum mismatch in " + w + ": expected " + info.words.checksum +
              " (from the manifest), found " +
              [&] {
                  ndshard::detail::xxh3_stream h;
                  h.update("one\ntwp\n", 8);
                  return h.text();
              }() +
              ": the shard is corrupt");
    auto r = ndshard::verify(dir);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].shard == 2);
    CHECK(r.problems[0].path == info.words.path);
    CHECK(r.problems[0].message.rfind("ndshard: checksum mismatch in " + w, 0) == 0);
    // without verify, a file of the manifest's size but another word count still fails
    ndshard_test::write_file(words, "one two\n");
    ndshard::load_options lo;
    lo.verify = false;
    CHECK(error_of([&] { (void)ndshard::load_embeddings<float>(dir, lo); }) ==
          "ndshard: words file disagrees with the manifest: " + w + ": expected 2 words, found 1");
    ndshard_test::write_file(words, "one\n");
    CHECK(error_of([&] { (void)ndshard::load_embeddings<float>(dir, lo); }) ==
          "ndshard: shard disagrees with the manifest: " + w + ": expected 8 bytes, found 4");
    std::filesystem::remove(words);
    r = ndshard::verify(dir);
    REQUIRE(r.problems.size() == 1);
    CHECK(r.problems[0].message ==
          "ndshard: cannot open shard " + w + ": No such file or directory");
}
