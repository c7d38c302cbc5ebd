// ndshard/thread_pool.hpp — fixed workers and a parallel_for that rethrows the first exception.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "ndshard/error.hpp"
#include "ndshard/progress.hpp"

namespace ndshard {

/// The number of threads `threads == 0` stands for: every core the machine reports (at least 1).
[[nodiscard]] inline std::size_t default_threads() noexcept {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
}

namespace detail {
/// The threads a `threads` option stands for: itself, or default_threads() for 0.
[[nodiscard]] inline std::size_t resolve_threads(std::size_t threads) noexcept {
    return threads == 0 ? default_threads() : threads;
}
}  // namespace detail

/// A fixed set of worker threads. `parallel_for(n, fn)` runs fn(0) … fn(n-1) on the workers and
/// returns when all have finished; if a task throws, the tasks not yet started are skipped and the
/// first exception is rethrown to the caller. One parallel_for runs at a time per pool; a
/// parallel_for called from inside a task runs its tasks inline on that worker (no deadlock).
class thread_pool {
  public:
    /// `threads == 0`: one worker per core.
    explicit thread_pool(std::size_t threads = 0) {
        const std::size_t n = detail::resolve_threads(threads);
        workers_.reserve(n);
        try {
            for (std::size_t i = 0; i < n; ++i)
                workers_.emplace_back([this] { run(); });
        } catch (const std::system_error& e) {
            // the destructor will not run: stop the workers already started
            const std::size_t started = workers_.size();
            stop_and_join();
            throw error("ndshard: cannot start thread " + std::to_string(started + 1) + " of " +
                        std::to_string(n) + ": " + e.what());
        }
    }
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;
    ~thread_pool() { stop_and_join(); }

    [[nodiscard]] std::size_t size() const noexcept { return workers_.size(); }

    template <class F>
    void parallel_for(std::size_t n, F&& fn) {
        if (n == 0) return;
        if (inside_task()) {  // nested: run here, in order
            for (std::size_t i = 0; i < n; ++i)
                fn(i);
            return;
        }
        std::lock_guard<std::mutex> one_at_a_time(submit_);
        std::function<void(std::size_t)> task = std::ref(fn);
        // the workers count for the caller's progress meter; the caller calls its callback
        detail::progress_meter* const meter = detail::current_meter();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            task_ = &task;
            meter_ = meter;
            count_ = n;
            next_.store(0, std::memory_order_relaxed);
            failed_.store(false, std::memory_order_relaxed);
            first_error_ = nullptr;
            busy_ = workers_.size();
            ++generation_;
        }
        wake_.notify_all();
        std::exception_ptr err;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            const auto idle = [this] { return busy_ == 0; };
            if (meter) {
                lock.unlock();
                meter->tick();  // a call at the start too, when one is due
                lock.lock();
                while (!done_.wait_for(lock, std::chrono::milliseconds(50), idle)) {
                    lock.unlock();
                    meter->tick();
                    lock.lock();
                }
            } else {
                done_.wait(lock, idle);
            }
            task_ = nullptr;
            meter_ = nullptr;
            err = first_error_;
            first_error_ = nullptr;
        }
        if (err) std::rethrow_exception(err);
    }

  private:
    void stop_and_join() noexcept {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        for (auto& w : workers_)
            w.join();
        workers_.clear();
    }

    static bool& inside_task() noexcept {
        thread_local bool inside = false;
        return inside;
    }

    void run() {
        inside_task() = true;
        std::size_t seen = 0;
        for (;;) {
            std::function<void(std::size_t)>* task = nullptr;
            detail::progress_meter* meter = nullptr;
            std::size_t count = 0;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
                if (stop_) return;
                seen = generation_;
                task = task_;
                meter = meter_;
                count = count_;
            }
            detail::current_meter() = meter;
            for (;;) {
                const std::size_t i = next_.fetch_add(1, std::memory_order_relaxed);
                if (i >= count || failed_.load(std::memory_order_relaxed)) break;
                try {
                    (*task)(i);
                } catch (...) {
                    std::lock_guard<std::mutex> lock(mutex_);
                    if (!first_error_) first_error_ = std::current_exception();
                    failed_.store(true, std::memory_order_relaxed);
                }
            }
            detail::current_meter() = nullptr;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                if (--busy_ == 0) done_.notify_one();
            }
        }
    }

    std::vector<std::thread> workers_;
    std::mutex submit_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable done_;
    std::function<void(std::size_t)>* task_ = nullptr;
    detail::progress_meter* meter_ = nullptr;
    std::size_t count_ = 0;
    std::size_t busy_ = 0;
    std::size_t generation_ = 0;
    bool stop_ = false;
    std::atomic<std::size_t> next_{0};
    std::atomic<bool> failed_{false};
    std::exception_ptr first_error_;
};

namespace detail {

/// The threads a call runs on: its pool's, or its `threads` option (0: every core).
[[nodiscard]] inline std::size_t threads_for(std::size_t threads, const thread_pool* pool) {
    return pool ? pool->size() : resolve_threads(threads);
}

/// Runs fn(0) … fn(n-1) on `pool`, or in this thread when there is none.
template <class F>
void run_tasks(thread_pool* pool, std::size_t n, F&& fn) {
    if (pool) {
        pool->parallel_for(n, fn);
    } else {
        for (std::size_t i = 0; i < n; ++i)
            fn(i);
    }
}

/// The pool a call runs its tasks on, for as many rounds as it needs: the caller's, or one of
/// its own when more than one of `threads` (0: every core) is useful for `tasks` tasks, or none
/// (the tasks then run inline: no thread is started).
class call_pool {
  public:
    call_pool(thread_pool* given, std::size_t threads, std::size_t tasks) : pool_(given) {
        const std::size_t n = std::min(resolve_threads(threads), tasks);
        if (!pool_ && n > 1) pool_ = &own_.emplace(n);
    }
    [[nodiscard]] thread_pool* get() const noexcept { return pool_; }

  private:
    std::optional<thread_pool> own_;
    thread_pool* pool_;
};

/// Runs `fn` on `pool` when given, else on a pool of `threads` workers made for this call. With a
/// single thread and no pool, runs inline: no thread is started.
template <class F>
void with_pool(thread_pool* pool, std::size_t threads, std::size_t tasks, F&& fn) {
    const call_pool p(pool, threads, tasks);
    run_tasks(p.get(), tasks, fn);
}

}  // namespace detail
}  // namespace ndshard
