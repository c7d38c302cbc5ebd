// python/src/files.cpp — single .npy files, zarr stores, and block streams.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "ndshard/file.hpp"
#include "ndshard/npy.hpp"
#include "ndshard/npy_file.hpp"
#include "ndshard/stream.hpp"
#include "ndshard/xtensor.hpp"
#include "ndshard/zarr.hpp"

namespace ndshard_py {
namespace {

/// The element type of a .npy file, from its header (errors as read_npy words them).
ndshard::dtype npy_type(const std::filesystem::path& path) {
    py::gil_scoped_release nogil;
    const ndshard::file f = ndshard::file::open_read(path);
    try {
        return ndshard::read_npy_header(f).type.type;
    } catch (const ndshard::error&) {
        ndshard::detail::explain_not_npy(f.path(), "cannot read");
        throw;
    }
}

ndshard::dtype zarr_type(const std::filesystem::path& dir) {
    const ndshard::zarr::store_info info = [&] {
        py::gil_scoped_release nogil;
        return ndshard::zarr::inspect(dir);
    }();
    ndshard::parsed_descr d;
    if (!ndshard::parse_descr(info.dtype, d))
        throw ndshard::error("ndshard: cannot load '" + dir.string() + "': unsupported dtype " +
                             info.dtype);
    return d.type;
}

ndshard::zarr::codec parse_codec(const std::string& c) {
    using ndshard::zarr::codec;
    if (c == "none") return codec::none;
    if (c == "zstd") return codec::zstd;
    if (c == "blosc_lz4" || c == "blosc") return codec::blosc_lz4;
    if (c == "blosc_zstd") return codec::blosc_zstd;
    throw argument_error("ndshard: unknown codec '" + c +
                         "' (expected None, 'zstd', 'blosc', 'blosc_lz4' or 'blosc_zstd')");
}

py::dict store_dict(const ndshard::zarr::store_info& s) {
    py::dict d;
    d["dtype"] = s.dtype;
    d["shape"] = py::tuple(py::cast(s.shape));
    d["chunks"] = py::tuple(py::cast(s.chunks));
    d["compressor"] = s.compressor;  // JSON text: decoded by the Python side
    return d;
}

/// What a source is, as block_reader tells them apart.
ndshard::dtype source_type(const std::filesystem::path& p) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
        if (std::filesystem::exists(p / ndshard::detail::zarray_name, ec)) return zarr_type(p);
        ndshard::parsed_descr d;
        const ndshard::dataset_info info = [&] {
            py::gil_scoped_release nogil;
            return ndshard::inspect(p);
        }();
        if (!ndshard::parse_descr(info.dtype, d))
            throw ndshard::error("ndshard: cannot stream '" + p.string() + "': unsupported dtype " +
                                 info.dtype);
        return d.type;
    }
    bool npy = false;
    {
        py::gil_scoped_release nogil;
        npy = ndshard::detail::starts_with_npy_magic(p);
    }
    if (npy) return npy_type(p);
    return ndshard::dtype_of<double>();  // a text file
}

/// A block_reader of any element type.
class reader_base {
  public:
    virtual ~reader_base() = default;
    /// The next block as (first_row, a fresh array), or None after the last.
    virtual py::object next(io_call& call) = 0;
    [[nodiscard]] virtual std::vector<std::size_t> shape() const = 0;
};

template <class T>
class reader_impl final : public reader_base {
  public:
    reader_impl(const std::filesystem::path& source, const ndshard::stream_options& o)
        : r_(source, o) {}
    py::object next(io_call& call) override {
        std::optional<xt::xarray<T>> block;
        call.run([&] {
            if (r_.next()) block.emplace(r_.rows());  // the reader reuses its blocks: a copy
        });
        if (!block) return py::none();
        return py::make_tuple(r_.first_row(), to_numpy(std::move(*block)));
    }
    [[nodiscard]] std::vector<std::size_t> shape() const override { return r_.shape(); }

  private:
    ndshard::block_reader<T> r_;
};

class py_reader {
  public:
    py_reader(const std::string& source, std::size_t block_rows,
              const std::optional<std::string>& dtype, std::size_t first_row,
              std::optional<std::size_t> last_row, std::size_t prefetch, bool verify,
              std::size_t threads, int delimiter, std::size_t skip_rows, int comment,
              py::object progress)
        : call_(std::make_unique<io_call>(std::move(progress))) {
        const std::filesystem::path p = to_path(source);
        ndshard::stream_options o;
        o.block_rows = block_rows;
        o.first_row = first_row;
        if (last_row) o.last_row = *last_row;
        o.prefetch = prefetch;
        o.verify = verify;
        o.threads = threads;
        o.text.delimiter = static_cast<char>(delimiter);
        o.text.skip_rows = skip_rows;
        o.text.comment = static_cast<char>(comment);
        o.progress = call_->progress();
        dispatch(dtype ? parse_code(*dtype) : source_type(p), [&](auto tag) {
            using T = typename decltype(tag)::type;
            impl_ = call_->run([&]() -> std::unique_ptr<reader_base> {
                return std::make_unique<reader_impl<T>>(p, o);
            });
        });
    }
    py_reader(const py_reader&) = delete;
    py_reader& operator=(const py_reader&) = delete;
    ~py_reader() { close(); }

    py::object next() { return impl_ ? impl_->next(*call_) : py::none(); }
    [[nodiscard]] py::tuple shape() const {
        return impl_ ? py::tuple(py::cast(impl_->shape())) : py::tuple();
    }
    /// Stops the read-ahead (joins its thread: no GIL).
    void close() {
        if (!impl_) return;
        py::gil_scoped_release nogil;
        impl_.reset();
    }

  private:
    std::unique_ptr<io_call> call_;
    std::unique_ptr<reader_base> impl_;
};

}  // namespace

void bind_files(py::module_& m) {
    m.def(
        "write_npy",
        [](const std::string& path, const py::array& a, std::size_t threads, bool sync) {
            io_call call;
            dispatch(dtype_of_array(a), [&](auto tag) {
                using T = typename decltype(tag)::type;
                const auto x = adapt_input<T>(a);
                call.run([&] {
                    ndshard::write_npy(to_path(path), x, ndshard::npy_write_options{threads, sync});
                });
            });
        },
        py::arg("path"), py::arg("array"), py::arg("threads"), py::arg("sync"));

    m.def(
        "read_npy",
        [](const std::string& path, std::size_t threads) {
            io_call call;
            py::array out;
            dispatch(npy_type(to_path(path)), [&](auto tag) {
                using T = typename decltype(tag)::type;
                out = to_numpy(
                    call.run([&] { return ndshard::read_npy<T>(to_path(path), threads); }));
            });
            return out;
        },
        py::arg("path"), py::arg("threads"));

    m.def(
        "read_npy_rows",
        [](const std::string& path, std::size_t first, std::size_t last, std::size_t threads) {
            io_call call;
            py::array out;
            dispatch(npy_type(to_path(path)), [&](auto tag) {
                using T = typename decltype(tag)::type;
                out = to_numpy(call.run([&] {
                    return ndshard::read_npy_rows<T>(to_path(path), first, last, threads);
                }));
            });
            return out;
        },
        py::arg("path"), py::arg("first"), py::arg("last"), py::arg("threads"));

    m.def(
        "zarr_save",
        [](const std::string& dir, const py::array& a, const std::string& codec, int level,
           std::size_t chunk_rows, std::size_t threads, bool sync, py::object progress) {
            io_call call(std::move(progress));
            ndshard::zarr::save_options o;
            o.compressor = parse_codec(codec);
            o.level = level;
            o.chunk_rows = chunk_rows;
            o.threads = threads;
            o.sync = sync;
            o.progress = call.progress();
            ndshard::zarr::store_info info;
            dispatch(dtype_of_array(a), [&](auto tag) {
                using T = typename decltype(tag)::type;
                const auto x = adapt_input<T>(a);
                info = call.run([&] { return ndshard::zarr::save(to_path(dir), x, o); });
            });
            return store_dict(info);
        },
        py::arg("dir"), py::arg("array"), py::arg("codec"), py::arg("level"), py::arg("chunk_rows"),
        py::arg("threads"), py::arg("sync"), py::arg("progress"));

    m.def(
        "zarr_inspect",
        [](const std::string& dir) {
            const ndshard::zarr::store_info info = [&] {
                py::gil_scoped_release nogil;
                return ndshard::zarr::inspect(to_path(dir));
            }();
            return store_dict(info);
        },
        py::arg("dir"));

    m.def(
        "zarr_load",
        [](const std::string& dir, std::optional<std::size_t> first,
           std::optional<std::size_t> last, std::size_t threads,
           const std::optional<std::string>& dtype, py::object progress) {
            io_call call(std::move(progress));
            ndshard::load_options o;
            o.threads = threads;
            o.convert = dtype.has_value();
            o.progress = call.progress();
            py::array out;
            dispatch(dtype ? parse_code(*dtype) : zarr_type(to_path(dir)), [&](auto tag) {
                using T = typename decltype(tag)::type;
                out = to_numpy(call.run([&] {
                    return first ? ndshard::zarr::load_rows<T>(to_path(dir), *first, *last, o)
                                 : ndshard::zarr::load<T>(to_path(dir), o);
                }));
            });
            return out;
        },
        py::arg("dir"), py::arg("first"), py::arg("last"), py::arg("threads"), py::arg("dtype"),
        py::arg("progress"));
    py::class_<py_reader>(m, "BlockReader")
        .def(py::init<const std::string&, std::size_t, const std::optional<std::string>&,
                      std::size_t, std::optional<std::size_t>, std::size_t, bool, std::size_t, int,
                      std::size_t, int, py::object>(),
             py::arg("source"), py::arg("block_rows"), py::arg("dtype"), py::arg("first_row"),
             py::arg("last_row"), py::arg("prefetch"), py::arg("verify"), py::arg("threads"),
             py::arg("delimiter"), py::arg("skip_rows"), py::arg("comment"), py::arg("progress"))
        .def("next", &py_reader::next)
        .def_property_readonly("shape", &py_reader::shape)
        .def("close", &py_reader::close);
}

}  // namespace ndshard_py
