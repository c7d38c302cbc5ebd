// bench/bench_util.hpp — what the microbenchmarks share: a private scratch directory.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace ndshard_bench {

/// A directory of its own under /dev/shm (the page cache is what is measured, not a disk), or the
/// temporary directory; removed with everything in it when the benchmark ends.
class scratch_dir {
  public:
    scratch_dir() {
        std::error_code ec;
        const std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                               ? std::filesystem::path("/dev/shm")
                                               : std::filesystem::temp_directory_path();
        path_ = base / ("ndshard_micro-" + std::to_string(::getpid()));
        std::filesystem::create_directories(path_);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  private:
    std::filesystem::path path_;
};

}  // namespace ndshard_bench
