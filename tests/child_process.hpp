// tests/child_process.hpp — start tests/crash_writer as a separate process (posix_spawn: a fresh
// program, never a fork of this threaded one), optionally with a pipe on its descriptor 3.
#pragma once

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace ndshard_test {

class child_process {
  public:
    /// Starts NDSHARD_CRASH_WRITER with `args`. With `ready_pipe`, the child's descriptor 3 is
    /// the write end of a pipe that wait_ready() reads.
    explicit child_process(const std::vector<std::string>& args, bool ready_pipe = false) {
        std::vector<std::string> all = {NDSHARD_CRASH_WRITER};
        all.insert(all.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : all)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        int fds[2] = {-1, -1};
        if (ready_pipe) {
            if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
            posix_spawn_file_actions_adddup2(&fa, fds[1], 3);  // dup2 clears close-on-exec
        }
        const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (ready_pipe) {
            ::close(fds[1]);
            ready_fd_ = fds[0];
        }
        if (rc != 0) throw std::runtime_error("posix_spawn failed: " + std::to_string(rc));
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            (void)wait();
        }
        if (ready_fd_ >= 0) ::close(ready_fd_);
    }

    /// Waits (at most 30 s) for the child's byte on the pipe; false when it exited first.
    [[nodiscard]] bool wait_ready() const {
        pollfd p{ready_fd_, POLLIN, 0};
        char c = 0;
        return ::poll(&p, 1, 30000) == 1 && ::read(ready_fd_, &c, 1) == 1;
    }
    void kill_now() const { ::kill(pid_, SIGKILL); }

    /// Waits for the child; "exit 0", "exit 1", "signal 9", ...
    std::string wait() {
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0) {
            if (errno != EINTR) return "waitpid failed";
        }
        pid_ = -1;
        if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
        if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
        return "unknown status";
    }

  private:
    pid_t pid_ = -1;
    int ready_fd_ = -1;
};

/// Starts crash_writer `mode` on `dir` from `first`, waits until it has committed once, lets it
/// run `delay` more, then kills it.
/// Whether a crash test that makes `kills` kills goes on to kill `k`: the `kills` planned, then,
/// while none of them has landed inside a write (`interrupted` is 0), up to 3 x `kills` more.
inline bool more_kills(int k, int kills, int interrupted) {
    return k <= kills || (interrupted == 0 && k <= 4 * kills);
}

/// The delay before kill `k`: uniform in [0, max_us]; past the planned `kills`, the range
/// doubles every 10 kills (up to 16x), since a slow build (TSan) can spend longer than max_us
/// between writes and every kill can land outside them.
inline std::chrono::microseconds kill_delay(std::mt19937& rng, int max_us, int k, int kills) {
    const int widen = k <= kills ? 0 : std::min(4, (k - kills - 1) / 10 + 1);
    return std::chrono::microseconds(std::uniform_int_distribution<int>(0, max_us << widen)(rng));
}

inline void run_then_kill(const char* mode, const std::filesystem::path& dir, std::uint64_t first,
                          std::chrono::microseconds delay) {
    ndshard_test::child_process child({mode, dir.string(), std::to_string(first), "0"}, true);
    REQUIRE(child.wait_ready());  // its first commit is done: it is in the loop
    std::this_thread::sleep_for(delay);
    child.kill_now();
    REQUIRE(child.wait() == "signal 9");
}

}  // namespace ndshard_test
