// python/src/text.cpp — text files (CSV, TSV, space-separated) and word-embedding files.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "ndshard/text.hpp"
#include "ndshard/xtensor.hpp"

namespace ndshard_py {

void bind_text(py::module_& m) {
    m.def(
        "write_text",
        [](const std::string& path, const py::array& a, int delimiter, int precision,
           std::size_t threads, bool sync, std::vector<std::string> header, py::object progress) {
            io_call call(std::move(progress));
            ndshard::text_write_options o;
            o.header = std::move(header);
            o.delimiter = static_cast<char>(delimiter);
            o.precision = precision;
            o.threads = threads;
            o.sync = sync;
            o.progress = call.progress();
            dispatch(dtype_of_array(a), [&](auto tag) {
                using T = typename decltype(tag)::type;
                const auto x = adapt_input<T>(a);
                call.run([&] { ndshard::write_text(to_path(path), x, o); });
            });
        },
        py::arg("path"), py::arg("array"), py::arg("delimiter"), py::arg("precision"),
        py::arg("threads"), py::arg("sync"), py::arg("header"), py::arg("progress"));

    m.def(
        "read_text",
        [](const std::string& path, const std::string& dtype, int delimiter, std::size_t skip_rows,
           int comment, std::size_t threads, bool overflow_to_infinity, bool header,
           std::vector<std::size_t> usecols, std::optional<std::vector<std::string>> na_values,
           int quote, py::object progress) {
            io_call call(std::move(progress));
            ndshard::text_read_options o;
            o.delimiter = static_cast<char>(delimiter);
            o.skip_rows = skip_rows;
            o.comment = static_cast<char>(comment);
            o.threads = threads;
            o.overflow_to_infinity = overflow_to_infinity;
            o.header = header;
            o.usecols = std::move(usecols);
            if (na_values) o.na_values = std::move(*na_values);
            o.quote = static_cast<char>(quote);
            o.progress = call.progress();
            py::array out;
            dispatch(parse_code(dtype), [&](auto tag) {
                using T = typename decltype(tag)::type;
                out = to_numpy(call.run([&] { return ndshard::read_text<T>(to_path(path), o); }));
            });
            return out;
        },
        py::arg("path"), py::arg("dtype"), py::arg("delimiter"), py::arg("skip_rows"),
        py::arg("comment"), py::arg("threads"), py::arg("overflow_to_infinity"), py::arg("header"),
        py::arg("usecols"), py::arg("na_values"), py::arg("quote"), py::arg("progress"));

    m.def(
        "text_read_header",
        [](const std::string& path, int delimiter, std::size_t skip_rows, int comment,
           std::vector<std::size_t> usecols, int quote) {
            ndshard::text_read_options o;
            o.delimiter = static_cast<char>(delimiter);
            o.skip_rows = skip_rows;
            o.comment = static_cast<char>(comment);
            o.usecols = std::move(usecols);
            o.quote = static_cast<char>(quote);
            io_call call;
            const auto names =
                call.run([&] { return ndshard::text_read_header(to_path(path), o); });
            return words_to_list(names);
        },
        py::arg("path"), py::arg("delimiter"), py::arg("skip_rows"), py::arg("comment"),
        py::arg("usecols"), py::arg("quote"));

    m.def(
        "read_embeddings",
        [](const std::string& path, const std::string& dtype, int delimiter, std::size_t skip_rows,
           std::size_t threads, bool overflow_to_infinity, py::object progress) {
            io_call call(std::move(progress));
            ndshard::text_read_options o;
            o.delimiter = static_cast<char>(delimiter);
            o.skip_rows = skip_rows;
            o.threads = threads;
            o.overflow_to_infinity = overflow_to_infinity;
            o.progress = call.progress();
            const auto read = [&](auto tag) {
                using T = typename decltype(tag)::type;
                auto e = call.run([&] { return ndshard::read_embeddings<T>(to_path(path), o); });
                py::list words = words_to_list(e.words);
                e.words = {};
                return py::make_tuple(std::move(words), to_numpy(std::move(e.vectors)));
            };
            // float vectors only: the parser is instantiated for these two
            const ndshard::dtype d = parse_code(dtype);
            if (d == ndshard::dtype_of<float>()) return read(ndshard::detail::type_tag<float>{});
            if (d == ndshard::dtype_of<double>()) return read(ndshard::detail::type_tag<double>{});
            throw argument_error("ndshard: read_embeddings reads float32 or float64 vectors, not " +
                                 ndshard::dtype_name(d));
        },
        py::arg("path"), py::arg("dtype"), py::arg("delimiter"), py::arg("skip_rows"),
        py::arg("threads"), py::arg("overflow_to_infinity"), py::arg("progress"));
}

}  // namespace ndshard_py
