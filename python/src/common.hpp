// python/src/common.hpp — what every translation unit of the ndshard Python module shares:
// numpy arrays seen as xtensor adaptors (zero copy in), containers handed to numpy (zero copy
// out), the dtype dispatch, the GIL release with Ctrl-C checks, and the exception classes.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xadapt.hpp>

#include "ndshard/dataset.hpp"
#include "ndshard/detail/convert.hpp"
#include "ndshard/dtype.hpp"
#include "ndshard/error.hpp"
#include "ndshard/progress.hpp"

namespace ndshard_py {

namespace py = pybind11;

/// A bad Python argument (unknown dtype, codec or format, an array of the wrong type): raised as
/// ndshard.ArgumentError (a ValueError).
class argument_error : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

/// Paths arrive as bytes (os.fsencode): any file name, UTF-8 or not.
inline std::filesystem::path to_path(const std::string& p) {
    return std::filesystem::path(p);
}

/// A dtype code from the Python side: kind letter and size ("f8", "b1", "u2").
inline ndshard::dtype parse_code(const std::string& code) {
    ndshard::parsed_descr d;
    if (code.size() != 2 ||
        !ndshard::parse_descr(std::string(code[1] == '1' ? "|" : "<") + code, d))
        throw argument_error("ndshard: unsupported dtype code '" + code + "'");
    return d.type;
}

/// Calls fn(type_tag<T>{}) for the element type of `d`.
template <class F>
void dispatch(const ndshard::dtype& d, F&& fn) {
    if (!ndshard::detail::visit_dtype(d, std::forward<F>(fn)))
        throw argument_error("ndshard: unsupported dtype " + ndshard::dtype_name(d));
}

/// The element type of a numpy array (checked by the Python side: native byte order, aligned,
/// strides a multiple of the item size).
inline ndshard::dtype dtype_of_array(const py::array& a) {
    const char kind = a.dtype().kind();
    return {kind, static_cast<std::size_t>(a.itemsize())};
}

/// The shape type of the adaptors: xtensor's default dynamic shape.
using shape_type = xt::dynamic_shape<std::size_t>;
using strides_type = xt::dynamic_shape<std::ptrdiff_t>;

/// A numpy array seen as an xtensor expression over its memory, with its strides (in elements,
/// possibly negative or zero): no copy. A C-contiguous array is written straight from its memory
/// by ndshard; any other is evaluated one bounded row block at a time.
template <class T>
auto adapt_input(const py::array& a) {
    const auto rank = static_cast<std::size_t>(a.ndim());
    shape_type shape(rank);
    strides_type strides(rank);
    for (std::size_t d = 0; d < rank; ++d) {
        shape[d] = static_cast<std::size_t>(a.shape(static_cast<py::ssize_t>(d)));
        strides[d] = static_cast<std::ptrdiff_t>(a.strides(static_cast<py::ssize_t>(d))) /
                     static_cast<std::ptrdiff_t>(sizeof(T));
    }
    return xt::adapt(static_cast<const T*>(a.data()), static_cast<std::size_t>(a.size()),
                     xt::no_ownership(), std::move(shape), std::move(strides));
}

template <class T>
using input_t = decltype(adapt_input<T>(std::declval<const py::array&>()));

/// Hands a row-major container to numpy without copying: the container moves to the heap, a
/// capsule owns it, and the array's base is the capsule.
template <class C>
py::array to_numpy(C&& c) {
    using container = std::decay_t<C>;
    using T = typename container::value_type;
    std::vector<py::ssize_t> shape(c.shape().begin(), c.shape().end());
    std::vector<py::ssize_t> strides(shape.size());
    py::ssize_t stride = static_cast<py::ssize_t>(sizeof(T));
    for (std::size_t d = shape.size(); d-- > 0;) {
        strides[d] = stride;
        stride *= shape[d] > 0 ? shape[d] : 1;
    }
    auto* owner = new container(std::move(c));
    py::capsule base(owner, [](void* p) { delete static_cast<container*>(p); });
    return py::array(py::dtype::of<T>(), std::move(shape), std::move(strides), owner->data(), base);
}

/// The GIL released around one long call, with Ctrl-C and an optional user callable checked from
/// the library's progress callback (called on this thread a few times a second): a pending
/// signal (KeyboardInterrupt) or the callable's exception is kept, the callback returns false,
/// the library cancels cleanly (ndshard::cancelled), and the kept exception is raised.
class io_call {
  public:
    explicit io_call(py::object user = py::none()) : user_(std::move(user)) {}
    io_call(const io_call&) = delete;
    io_call& operator=(const io_call&) = delete;
    ~io_call() {
        // the kept exception (if never raised) is dropped with the GIL held
        if (pending_) {
            py::gil_scoped_acquire gil;
            pending_.reset();
        }
    }

    /// The callback to put in an options struct; valid while this object lives.
    [[nodiscard]] ndshard::progress_fn progress() {
        return [this](std::uint64_t done, std::uint64_t total) { return check(done, total); };
    }

    /// Runs fn() without the GIL; raises the exception kept by the callback, if any.
    template <class F>
    auto run(F&& fn) -> decltype(fn()) {
        using R = decltype(fn());
        try {
            if constexpr (std::is_void_v<R>) {
                {
                    py::gil_scoped_release nogil;
                    fn();
                }
                raise_pending();
            } else {
                std::optional<R> r;
                {
                    py::gil_scoped_release nogil;
                    r.emplace(fn());
                }
                raise_pending();
                return std::move(*r);
            }
        } catch (py::error_already_set&) {
            throw;
        } catch (...) {
            raise_pending();  // KeyboardInterrupt or the callable's error, before the cancellation
            throw;
        }
    }

    /// Raises the exception the callback kept (with the GIL held).
    void raise_pending() {
        if (!pending_) return;
        py::error_already_set e = std::move(*pending_);
        pending_.reset();
        throw e;
    }

  private:
    bool check(std::uint64_t done, std::uint64_t total) {
        py::gil_scoped_acquire gil;
        if (pending_) return false;
        // the final call (done == total: its result is ignored) leaves a signal pending for the
        // interpreter, which raises it right after the call returns
        const bool last = total != 0 && done >= total;
        try {
            if (!user_.is_none()) {
                const py::object r = user_(done, total);
                if (!last && !r.is_none()) {
                    const int go = PyObject_IsTrue(r.ptr());
                    if (go < 0) throw py::error_already_set();
                    if (go == 0) return false;
                }
            }
            if (!last && PyErr_CheckSignals() != 0) throw py::error_already_set();
        } catch (py::error_already_set& e) {
            pending_.emplace(std::move(e));
            return false;
        }
        return true;
    }

    py::object user_;
    std::optional<py::error_already_set> pending_;
};

/// Attributes from the Python side: JSON text (json.dumps) or None.
inline nlohmann::json parse_attributes(const std::optional<std::string>& text) {
    if (!text) return nlohmann::json();
    try {
        return nlohmann::json::parse(*text);
    } catch (const nlohmann::json::exception& e) {
        throw argument_error(std::string("ndshard: attributes are not valid JSON: ") + e.what());
    }
}

/// shard_format from "npy", "csv", "tsv".
ndshard::shard_format parse_format(const std::string& f);

/// A dataset_info as a dict (attributes as JSON text: the Python side decodes them).
py::dict info_dict(const ndshard::dataset_info& info);

/// Words as Python str (UTF-8; bytes that are not, kept with surrogateescape) and back.
py::list words_to_list(const std::vector<std::string>& words);
std::vector<std::string> words_from_list(const py::list& words);

void bind_datasets(py::module_& m);
void bind_files(py::module_& m);
void bind_text(py::module_& m);

}  // namespace ndshard_py
