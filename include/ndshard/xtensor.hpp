// ndshard/xtensor.hpp — the glue between xtensor expressions and ndshard's row sources and
// destinations. Contiguous row-major containers, adaptors and views are used in place (zero copy);
// anything else is evaluated one bounded row block at a time, never copied whole.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuffer_adaptor.hpp>
#include <xtensor/xexpression.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "ndshard/detail/row_source.hpp"
#include "ndshard/dtype.hpp"
#include "ndshard/error.hpp"
#include "ndshard/npy.hpp"

namespace ndshard {
namespace detail {

template <class S>
struct is_std_array : std::false_type {};
template <class V, std::size_t N>
struct is_std_array<std::array<V, N>> : std::true_type {};

/// The element type an expression is saved as.
template <class E>
using element_t = std::remove_cv_t<typename E::value_type>;

/// Points at `e`'s elements when they lie in memory in C order with no gaps, else nullptr.
template <class E>
[[nodiscard]] const element_t<E>* contiguous_data(const E& e) {
    if constexpr (xt::has_data_interface<E>::value) {
        const auto& shape = e.shape();
        const auto& strides = e.strides();
        std::ptrdiff_t expected = 1;
        for (std::size_t i = shape.size(); i-- > 0;) {
            if (shape[i] != 1 && static_cast<std::ptrdiff_t>(strides[i]) != expected)
                return nullptr;
            expected *= static_cast<std::ptrdiff_t>(shape[i]);
        }
        return e.data() + e.data_offset();
    } else {
        return nullptr;
    }
}

/// A row source over an xtensor expression. `e` must outlive the source.
template <class E>
[[nodiscard]] row_source<element_t<E>> make_row_source(const E& e) {
    using T = element_t<E>;
    static_assert(is_supported_v<T>,
                  "ndshard: element type must be bool, float, double or a fixed-width integer");
    row_source<T> src;
    src.shape.assign(e.shape().begin(), e.shape().end());
    src.contiguous = contiguous_data(e);
    if (src.contiguous) return src;
    if (src.shape.empty()) {
        src.fill = [&e](std::size_t, std::size_t, T* out) { *out = e(); };
    } else {
        // xtensor computes a view's strides lazily inside const methods: compute them here, on
        // one thread, before workers evaluate the expression in parallel (else a data race).
        // Not on an empty expression: xtensor's end of an empty array offsets a null pointer
        // (undefined behaviour, and nothing is evaluated then anyway).
        if (src.row_size() > 0 && src.shape[0] > 0) {
            auto warm = xt::view(e, xt::range(0, 1));
            (void)warm.template cbegin<xt::layout_type::row_major>();
            (void)warm.template cend<xt::layout_type::row_major>();
            (void)e.template cbegin<xt::layout_type::row_major>();
        }
        src.fill_flat = [&e](std::size_t first, std::size_t n, T* out) {
            // a stepper placed at `first` in one step per axis: an iterator's += walks one step
            // per row to get there, which made evaluating a long array in blocks quadratic
            if (n == 0) return;
            const auto& shape = e.shape();
            const std::size_t last_axis = shape.size() - 1;
            std::vector<std::size_t> index(shape.size());
            for (std::size_t d = shape.size(), rest = first; d-- > 0; rest /= shape[d])
                index[d] = rest % shape[d];
            auto st = e.stepper_begin(shape);
            for (std::size_t d = 0; d < shape.size(); ++d)
                if (index[d] != 0) st.step(d, index[d]);
            for (std::size_t k = 0; k < n; ++k) {
                out[k] = *st;
                if (k + 1 == n) break;
                // the next element in row-major order, as xtensor's row-major iterator steps
                std::size_t d = last_axis;
                for (; ++index[d] == shape[d]; --d) {
                    index[d] = 0;
                    st.reset(d);
                }
                st.step(d);
            }
        };
        src.fill = [&e](std::size_t first, std::size_t last, T* out) {
            auto rows = xt::view(e, xt::range(first, last));
            std::copy(rows.template cbegin<xt::layout_type::row_major>(),
                      rows.template cend<xt::layout_type::row_major>(), out);
        };
    }
    return src;
}

/// Destinations at least this large are advised to use huge pages.
inline constexpr std::size_t huge_page_min_bytes = std::size_t{4} << 20;

/// Asks the kernel to back a large destination with transparent huge pages: filling fresh memory
/// then takes one page fault per 2 MiB instead of one per 4 KiB, and on these machines the faults
/// of a fresh destination cost as much as reading the file (numpy.load does the same). Only a
/// hint: without THP, or on memory already touched, nothing changes.
inline void advise_huge_pages(void* data, std::size_t bytes) noexcept {
#ifdef MADV_HUGEPAGE
    if (bytes < huge_page_min_bytes) return;
    const std::uintptr_t page = 4096;
    const std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(data) & ~(page - 1);
    const std::uintptr_t end = reinterpret_cast<std::uintptr_t>(data) + bytes;
    ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
    (void)data;
    (void)bytes;
#endif
}

/// A fresh row-major array of `shape` whose memory is not yet touched (first touch happens in the
/// worker that fills it), advised to use huge pages when large.
template <class T>
[[nodiscard]] xt::xarray<T> allocate_array(const std::vector<std::size_t>& shape) {
    using shape_type = typename xt::xarray<T>::shape_type;
    auto a = xt::xarray<T>::from_shape(shape_type(shape.begin(), shape.end()));
    advise_huge_pages(a.data(), a.size() * sizeof(T));
    return a;
}

template <class S>
struct is_fixed_shape : std::false_type {};
template <std::size_t... N>
struct is_fixed_shape<xt::fixed_shape<N...>> : std::true_type {};

/// Storage whose size cannot change: a std::array, a buffer ndshard does not own (xt::adapt of
/// a pointer without acquire_ownership, or a smart pointer), an iterator range.
template <class S>
struct is_fixed_storage : std::false_type {};
template <class V, std::size_t N>
struct is_fixed_storage<std::array<V, N>> : std::true_type {};
template <class CP, class O, class A>
struct is_fixed_storage<xt::xbuffer_adaptor<CP, O, A>>
    : std::bool_constant<!std::is_same_v<O, xt::acquire_ownership>> {};
template <class I, class CI>
struct is_fixed_storage<xt::xiterator_adaptor<I, CI>> : std::true_type {};
template <class C, class IG>
struct is_fixed_storage<xt::xiterator_owner_adaptor<C, IG>> : std::true_type {};

/// Whether load_into may resize `C`: not an xtensor_fixed (its shape is part of its type), and not
/// an adaptor over storage of a fixed size.
template <class C>
inline constexpr bool is_resizable_destination_v =
    !is_fixed_shape<typename C::shape_type>::value &&
    !is_fixed_storage<std::remove_cv_t<std::remove_reference_t<typename C::storage_type>>>::value;

/// Prepares a caller's container to receive an array of `shape` and returns where its elements
/// start. A resizable container is resized (its memory reused when the size already fits) and,
/// when its rank is fixed (xt::xtensor<T, N>), must be of the dataset's rank. One that cannot
/// resize (xt::xtensor_fixed, xt::adapt of a buffer it does not own) must already have exactly
/// `shape`. Either way it must be row-major.
template <class C>
[[nodiscard]] element_t<C>* prepare_destination(C& out, const std::vector<std::size_t>& shape,
                                                const std::filesystem::path& file) {
    static_assert(C::static_layout != xt::layout_type::column_major,
                  "ndshard: load_into needs a row-major destination");
    if constexpr (!is_resizable_destination_v<C>) {
        const std::vector<std::size_t> found(out.shape().begin(), out.shape().end());
        if (found != shape)
            fail("cannot load", file,
                 "expected a destination of shape " + shape_text(shape) + ", found " +
                     shape_text(found));
    } else {
        using shape_type = typename C::shape_type;
        shape_type s{};
        if constexpr (is_std_array<shape_type>::value) {
            if (std::tuple_size<shape_type>::value != shape.size()) {
                fail("cannot load", file,
                     "expected a destination of rank " + std::to_string(shape.size()) +
                         ", found one of fixed rank " +
                         std::to_string(std::tuple_size<shape_type>::value));
            }
        } else {
            s = xtl::make_sequence<shape_type>(shape.size(), 0);
        }
        std::copy(shape.begin(), shape.end(), s.begin());
        if constexpr (C::static_layout == xt::layout_type::dynamic) {
            out.resize(s, xt::layout_type::row_major);
        } else {
            out.resize(s);
        }
    }
    if (out.layout() != xt::layout_type::row_major)
        fail("cannot load", file, "expected a row-major destination, found another layout");
    advise_huge_pages(out.data(), out.size() * sizeof(element_t<C>));
    return out.data();
}

}  // namespace detail
}  // namespace ndshard
