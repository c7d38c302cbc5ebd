// python/src/datasets.cpp — datasets: save, append, load, load_rows, the writer, and embeddings
// datasets.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "ndshard/dataset.hpp"
#include "ndshard/embeddings.hpp"
#include "ndshard/writer.hpp"
#include "ndshard/xtensor.hpp"

namespace ndshard_py {
namespace {

ndshard::save_options save_options_of(const std::string& format, std::size_t shards,
                                      std::size_t threads, bool sync,
                                      const std::optional<std::string>& attributes, io_call& call) {
    ndshard::save_options o;
    o.format = parse_format(format);
    o.shards = shards;
    o.threads = threads;
    o.sync = sync;
    o.attributes = parse_attributes(attributes);
    o.progress = call.progress();
    return o;
}

ndshard::load_options load_options_of(bool verify, std::size_t threads, bool convert,
                                      io_call& call) {
    ndshard::load_options o;
    o.verify = verify;
    o.threads = threads;
    o.convert = convert;
    o.progress = call.progress();
    return o;
}

/// The element type to load as: `dtype` when given (converting), else the dataset's.
ndshard::dtype load_type(const std::string& dir, const std::optional<std::string>& dtype) {
    if (dtype) return parse_code(*dtype);
    const ndshard::dataset_info info = [&] {
        py::gil_scoped_release nogil;
        return ndshard::inspect(to_path(dir));
    }();
    ndshard::parsed_descr d;
    if (!ndshard::parse_descr(info.dtype, d))
        throw ndshard::error("ndshard: cannot load '" + dir + "': unsupported dtype " + info.dtype);
    return d.type;
}

/// A dataset_writer of any element type.
class writer_base {
  public:
    virtual ~writer_base() = default;
    virtual void write(const py::array& rows, io_call& call) = 0;
    virtual ndshard::dataset_info commit(io_call& call) = 0;
    [[nodiscard]] virtual std::size_t rows() const noexcept = 0;
};

template <class T>
class writer_impl final : public writer_base {
  public:
    writer_impl(const std::filesystem::path& dir, std::vector<std::size_t> row_shape,
                const ndshard::writer_options& o)
        : w_(dir, std::move(row_shape), o) {}
    void write(const py::array& rows, io_call& call) override {
        if (dtype_of_array(rows) != ndshard::dtype_of<T>())
            throw argument_error("ndshard: expected a batch of " +
                                 ndshard::dtype_name(ndshard::dtype_of<T>()) + " values, found " +
                                 ndshard::dtype_name(dtype_of_array(rows)));
        const auto x = adapt_input<T>(rows);
        call.run([&] { w_.write(x); });
    }
    ndshard::dataset_info commit(io_call& call) override {
        return call.run([&] { return w_.commit(); });
    }
    [[nodiscard]] std::size_t rows() const noexcept override { return w_.rows(); }

  private:
    ndshard::dataset_writer<T> w_;
};

/// The Python writer: holds the progress state (which the writer's options point at) and the
/// writer; close() without commit() removes what it wrote.
class py_writer {
  public:
    py_writer(const std::string& dir, std::vector<std::size_t> row_shape, const std::string& dtype,
              const std::string& format, std::size_t shard_rows, std::size_t threads, bool sync,
              bool append, const std::optional<std::string>& attributes, py::object progress)
        : call_(std::make_unique<io_call>(std::move(progress))) {
        ndshard::writer_options o;
        o.format = parse_format(format);
        o.shard_rows = shard_rows;
        o.threads = threads;
        o.sync = sync;
        o.append = append;
        o.attributes = parse_attributes(attributes);
        o.progress = call_->progress();
        dispatch(parse_code(dtype), [&](auto tag) {
            using T = typename decltype(tag)::type;
            // waits for the directory's save lock: without the GIL
            impl_ = call_->run([&]() -> std::unique_ptr<writer_base> {
                return std::make_unique<writer_impl<T>>(to_path(dir), std::move(row_shape), o);
            });
        });
    }
    py_writer(const py_writer&) = delete;
    py_writer& operator=(const py_writer&) = delete;
    ~py_writer() { close(); }

    void write(const py::array& rows) { live().write(rows, *call_); }
    py::dict commit() {
        const ndshard::dataset_info info = live().commit(*call_);
        committed_rows_ = impl_->rows();
        close();
        return info_dict(info);
    }
    /// Without commit(): removes the writer's files (joining its background thread: no GIL).
    void close() {
        if (!impl_) return;
        py::gil_scoped_release nogil;
        impl_.reset();
    }
    [[nodiscard]] std::size_t rows() const { return impl_ ? impl_->rows() : committed_rows_; }
    [[nodiscard]] bool closed() const noexcept { return !impl_; }

  private:
    writer_base& live() {
        if (!impl_) throw ndshard::error("ndshard: the writer is closed (committed or aborted)");
        return *impl_;
    }

    std::unique_ptr<io_call> call_;  // outlives impl_, whose options call it
    std::unique_ptr<writer_base> impl_;
    std::size_t committed_rows_ = 0;
};

/// save (or, with `append`, append) of a numpy array, read in place.
py::dict store(const std::string& dir, const py::array& a, const std::string& format,
               std::size_t shards, std::size_t threads, bool sync,
               const std::optional<std::string>& attributes, py::object progress, bool append) {
    io_call call(std::move(progress));
    const auto o = save_options_of(format, shards, threads, sync, attributes, call);
    ndshard::dataset_info info;
    dispatch(dtype_of_array(a), [&](auto tag) {
        using T = typename decltype(tag)::type;
        const auto x = adapt_input<T>(a);
        info = call.run([&] {
            return append ? ndshard::append(to_path(dir), x, o) : ndshard::save(to_path(dir), x, o);
        });
    });
    return info_dict(info);
}

}  // namespace

void bind_datasets(py::module_& m) {
    m.def(
        "save",
        [](const std::string& dir, const py::array& a, const std::string& format,
           std::size_t shards, std::size_t threads, bool sync,
           const std::optional<std::string>& attributes, py::object progress) {
            return store(dir, a, format, shards, threads, sync, attributes, std::move(progress),
                         false);
        },
        py::arg("dir"), py::arg("array"), py::arg("format"), py::arg("shards"), py::arg("threads"),
        py::arg("sync"), py::arg("attributes"), py::arg("progress"));

    m.def(
        "append",
        [](const std::string& dir, const py::array& a, const std::string& format,
           std::size_t shards, std::size_t threads, bool sync,
           const std::optional<std::string>& attributes, py::object progress) {
            return store(dir, a, format, shards, threads, sync, attributes, std::move(progress),
                         true);
        },
        py::arg("dir"), py::arg("rows"), py::arg("format"), py::arg("shards"), py::arg("threads"),
        py::arg("sync"), py::arg("attributes"), py::arg("progress"));

    m.def(
        "load",
        [](const std::string& dir, bool verify, std::size_t threads,
           const std::optional<std::string>& dtype, py::object progress) {
            io_call call(std::move(progress));
            const auto o = load_options_of(verify, threads, dtype.has_value(), call);
            py::array out;
            dispatch(load_type(dir, dtype), [&](auto tag) {
                using T = typename decltype(tag)::type;
                out = to_numpy(call.run([&] { return ndshard::load<T>(to_path(dir), o); }));
            });
            return out;
        },
        py::arg("dir"), py::arg("verify"), py::arg("threads"), py::arg("dtype"),
        py::arg("progress"));

    m.def(
        "load_rows",
        [](const std::string& dir, std::size_t first, std::size_t last, bool verify,
           std::size_t threads, const std::optional<std::string>& dtype, py::object progress) {
            io_call call(std::move(progress));
            const auto o = load_options_of(verify, threads, dtype.has_value(), call);
            py::array out;
            dispatch(load_type(dir, dtype), [&](auto tag) {
                using T = typename decltype(tag)::type;
                out = to_numpy(
                    call.run([&] { return ndshard::load_rows<T>(to_path(dir), first, last, o); }));
            });
            return out;
        },
        py::arg("dir"), py::arg("first"), py::arg("last"), py::arg("verify"), py::arg("threads"),
        py::arg("dtype"), py::arg("progress"));

    m.def(
        "save_embeddings",
        [](const std::string& dir, const py::list& words, const py::array& vectors,
           const std::string& format, std::size_t shards, std::size_t threads, bool sync,
           const std::optional<std::string>& attributes, py::object progress) {
            if (vectors.ndim() != 2)
                throw argument_error(
                    "ndshard: expected vectors of rank 2 (words, dimensions), "
                    "found rank " +
                    std::to_string(vectors.ndim()));
            io_call call(std::move(progress));
            const auto o = save_options_of(format, shards, threads, sync, attributes, call);
            const std::vector<std::string> w = words_from_list(words);
            ndshard::dataset_info info;
            dispatch(dtype_of_array(vectors), [&](auto tag) {
                using T = typename decltype(tag)::type;
                const auto x = adapt_input<T>(vectors);
                // save_embeddings takes an xtensor it would copy the vectors into: the same calls
                // on the array in place
                info = call.run([&] {
                    ndshard::detail::check_words(to_path(dir), w, x.shape()[0]);
                    return ndshard::detail::save_rows(
                        to_path(dir), ndshard::detail::make_row_source(x), o, false, &w);
                });
            });
            return info_dict(info);
        },
        py::arg("dir"), py::arg("words"), py::arg("vectors"), py::arg("format"), py::arg("shards"),
        py::arg("threads"), py::arg("sync"), py::arg("attributes"), py::arg("progress"));

    m.def(
        "load_embeddings",
        [](const std::string& dir, bool verify, std::size_t threads,
           const std::optional<std::string>& dtype, py::object progress) {
            io_call call(std::move(progress));
            const auto o = load_options_of(verify, threads, dtype.has_value(), call);
            py::tuple out;
            dispatch(load_type(dir, dtype), [&](auto tag) {
                using T = typename decltype(tag)::type;
                auto e = call.run([&] { return ndshard::load_embeddings<T>(to_path(dir), o); });
                py::list words = words_to_list(e.words);
                e.words = {};
                out = py::make_tuple(std::move(words), to_numpy(std::move(e.vectors)));
            });
            return out;
        },
        py::arg("dir"), py::arg("verify"), py::arg("threads"), py::arg("dtype"),
        py::arg("progress"));

    py::class_<py_writer>(m, "Writer")
        .def(py::init<const std::string&, std::vector<std::size_t>, const std::string&,
                      const std::string&, std::size_t, std::size_t, bool, bool,
                      const std::optional<std::string>&, py::object>(),
             py::arg("dir"), py::arg("row_shape"), py::arg("dtype"), py::arg("format"),
             py::arg("shard_rows"), py::arg("threads"), py::arg("sync"), py::arg("append"),
             py::arg("attributes"), py::arg("progress"))
        .def("write", &py_writer::write, py::arg("rows"))
        .def("commit", &py_writer::commit)
        .def("close", &py_writer::close)
        .def_property_readonly("rows", &py_writer::rows)
        .def_property_readonly("closed", &py_writer::closed);
}

}  // namespace ndshard_py
