// ndshard/progress.hpp — progress callbacks for long calls, and the exception a cancelled one
// throws.
//
// Every long call takes a `progress` option: a function called with the bytes done and the
// bytes in all, from the calling thread (never two calls at once), at most five times a second,
// and once more with done == total when the work is done (that last call's result is ignored).
// Returning false cancels the call: it stops its workers at their next piece of work, removes
// what it wrote, and throws ndshard::cancelled; the target is left as it was.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "ndshard/error.hpp"

namespace ndshard {

/// `bool(done, total)`: bytes done so far and in all (the bytes of the array, or of the text
/// file for the calls that read text; total is 0 when not known in advance: dataset_writer).
/// Return false to cancel the call.
using progress_fn = std::function<bool(std::uint64_t done, std::uint64_t total)>;

/// Thrown by a call its progress callback cancelled (or whose callback threw).
class cancelled : public error {
  public:
    using error::error;
};

namespace detail {

class progress_meter;

/// The least time between two calls (tests set 0: a call at every chance).
inline std::chrono::milliseconds& progress_interval() noexcept {
    static std::chrono::milliseconds interval{200};
    return interval;
}

/// The meter of the call this thread works for (the pool's workers take their caller's).
inline progress_meter*& current_meter() noexcept {
    thread_local progress_meter* meter = nullptr;
    return meter;
}

/// Counts one call's bytes from any thread, calls the callback from the thread that made it
/// (ticks: the pool calls tick() while its caller waits; a call run inline ticks as it counts),
/// and turns a false into ndshard::cancelled in every worker. Installed as the calling thread's
/// current meter for its lifetime when there is a callback.
class progress_meter {
  public:
    /// `what`: the call and its target, for the message ("save to 'dir'"). `install`: the meter
    /// of this thread's call (and of the pool tasks it runs) for its lifetime, also when there is
    /// no callback (a call without one, made inside another's callback, must not count into the
    /// outer meter); otherwise (a block_reader's, a dataset_writer's) only add() counts, and
    /// every add() may call back.
    progress_meter(const progress_fn& fn, std::uint64_t total, std::string what,
                   bool install = true)
        : fn_(fn ? &fn : nullptr),
          total_(total),
          what_(std::move(what)),
          owner_(std::this_thread::get_id()),
          last_(std::chrono::steady_clock::now()),
          installed_(install) {
        if (installed_) {
            previous_ = current_meter();
            current_meter() = fn_ ? this : nullptr;
        }
    }
    progress_meter(const progress_meter&) = delete;
    progress_meter& operator=(const progress_meter&) = delete;
    ~progress_meter() {
        if (installed_) current_meter() = previous_;
    }

    [[nodiscard]] bool active() const noexcept { return fn_ != nullptr; }

    /// `n` more bytes done (any thread); throws cancelled once the callback said stop.
    void add(std::uint64_t n) {
        done_.fetch_add(n, std::memory_order_relaxed);
        if (!installed_ || std::this_thread::get_id() == owner_) tick();
        check();
    }

    /// Calls the callback when `interval` has passed since the last call (the owner thread only).
    void tick() noexcept {
        if (!fn_ || stop_.load(std::memory_order_relaxed)) return;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_ < progress_interval()) return;
        last_ = now;
        call(false);
    }

    /// Throws cancelled when the callback asked to stop.
    void check() const {
        if (stop_.load(std::memory_order_acquire))
            throw cancelled("ndshard: " + what_ + " cancelled by its progress callback" + why_);
    }

    /// The work is done: the last call, done == total, its result ignored.
    void finish() noexcept {
        if (!fn_ || finished_ || stop_.load(std::memory_order_relaxed)) return;
        finished_ = true;
        if (total_ == 0) total_ = done_.load(std::memory_order_relaxed);
        done_.store(total_, std::memory_order_relaxed);
        call(true);
    }

  private:
    void call(bool last) noexcept {
        const std::uint64_t done =
            std::min(done_.load(std::memory_order_relaxed), total_ == 0 ? UINT64_MAX : total_);
        bool go = true;
        // ndshard calls the callback makes are calls of their own: they count into no meter
        // (and cannot call this callback from inside itself)
        progress_meter* const outer = current_meter();
        current_meter() = nullptr;
        try {
            go = (*fn_)(done, total_);
        } catch (const std::exception& e) {
            go = false;
            why_ = std::string(" (it threw: ") + e.what() + ")";
        } catch (...) {
            go = false;
            why_ = " (it threw)";
        }
        current_meter() = outer;
        if (!go && !last) stop_.store(true, std::memory_order_release);  // why_ before it
    }

    const progress_fn* fn_;
    std::uint64_t total_;
    std::string what_;
    std::string why_;
    std::thread::id owner_;
    std::chrono::steady_clock::time_point last_;
    std::atomic<std::uint64_t> done_{0};
    std::atomic<bool> stop_{false};
    bool installed_;
    bool finished_ = false;
    progress_meter* previous_ = nullptr;
};

/// Throws cancelled when the call this thread works for was cancelled.
inline void progress_check() {
    if (const progress_meter* m = current_meter()) m->check();
}

/// Bytes `total` split evenly over `parts`: the share of part `i` (the shares add up to total).
[[nodiscard]] inline std::uint64_t share_of(std::uint64_t total, std::size_t parts,
                                            std::size_t i) noexcept {
    // total * k / parts without overflow: q * k + r * k / parts, r < parts (and k <= parts,
    // a count of blocks or chunks, far below 2^32)
    const auto at = [&](std::size_t k) {
        const std::uint64_t q = total / parts, r = total % parts;
        return q * k + r * k / parts;
    };
    return parts == 0 ? 0 : at(i + 1) - at(i);
}

/// Counts `n` bytes for the call this thread works for, if it has a callback; throws cancelled
/// when that call was cancelled.
inline void progress_add(std::uint64_t n) {
    if (progress_meter* m = current_meter()) m->add(n);
}

}  // namespace detail
}  // namespace ndshard
