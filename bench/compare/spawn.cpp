// compare_spawn — runs one driver and reports its peak memory, as seen from a small parent.
//
//   compare_spawn REPORT PROGRAM [ARGS...]
//
// Runs PROGRAM (its stdin, stdout and stderr are this program's), waits for it with wait4 and
// writes {"status": S, "maxrss_kib": K, "shmem_kib": M} to the file REPORT, then exits with
// PROGRAM's status. M is the largest RssShmem seen, sampled every 5 ms: the resident pages of
// mapped tmpfs files (an input in /dev/shm), which ru_maxrss counts too.
//
// Why not wait4 from run.py itself: Linux carries the peak RSS of the process that calls exec into
// the new program's ru_maxrss, and a child forked (or vforked) from run.py starts with run.py's
// memory, numpy and all. This parent is a few MiB, so every driver starts from the same small
// floor.
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace {

long shmem_kib(pid_t pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(pid));
    FILE* f = std::fopen(path, "r");
    if (!f) return 0;
    char line[256];
    long kib = 0;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "RssShmem: %ld kB", &kib) == 1) break;
    std::fclose(f);
    return kib;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: compare_spawn REPORT PROGRAM [ARGS...]\n");
        return 2;
    }
    const pid_t pid = fork();
    if (pid < 0) {
        std::perror("compare_spawn: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        std::fprintf(stderr, "compare_spawn: cannot run %s: %s\n", argv[2], std::strerror(errno));
        _exit(127);
    }
    int status = 0;
    rusage usage{};
    long shmem = 0;
    const timespec pause{0, 5'000'000};
    for (;;) {
        const pid_t r = wait4(pid, &status, WNOHANG, &usage);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) {
            std::perror("compare_spawn: wait4");
            return 2;
        }
        const long s = shmem_kib(pid);
        if (s > shmem) shmem = s;
        nanosleep(&pause, nullptr);
    }
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE* report = std::fopen(argv[1], "w");
    if (!report) {
        std::perror("compare_spawn: report");
        return 2;
    }
    std::fprintf(report, "{\"status\": %d, \"maxrss_kib\": %ld, \"shmem_kib\": %ld}\n", code,
                 usage.ru_maxrss, shmem);
    std::fclose(report);
    return code;
}
