#include "hypervisor/cpu_models.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>

#include "hypervisor/cpu_spec.hpp"

extern char** environ;

namespace corral::hypervisor {

namespace {

constexpr auto kHelpTimeout = std::chrono::seconds(10);

// The file `binary` names: itself if it has a '/', else the first executable in PATH.
std::string resolve(const std::string& binary) {
    if (binary.find('/') != std::string::npos) return binary;
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        std::string candidate = (dir.empty() ? "." : dir) + "/" + binary;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

// `file -cpu help`'s standard output, bounded by kHelpTimeout; nullopt if it did not run.
std::optional<std::string> runHelp(const std::string& file, std::string& why) {
    int pipeFds[2];
    if (::pipe2(pipeFds, O_CLOEXEC) != 0) {
        why = "cannot create a pipe";
        return std::nullopt;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipeFds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    std::string arg0 = file;
    char cpuArg[] = "-cpu";
    char helpArg[] = "help";
    char* argv[] = {arg0.data(), cpuArg, helpArg, nullptr};
    pid_t pid = -1;
    int spawned = ::posix_spawn(&pid, file.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipeFds[1]);
    if (spawned != 0) {
        ::close(pipeFds[0]);
        why = "cannot be run";
        return std::nullopt;
    }
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + kHelpTimeout;
    bool timedOut = false;
    while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd fd{pipeFds[0], POLLIN, 0};
        if (left.count() <= 0 || ::poll(&fd, 1, static_cast<int>(left.count())) == 0) {
            timedOut = true;
            break;
        }
        char buf[4096];
        auto n = ::read(pipeFds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(pipeFds[0]);
    if (timedOut) ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (timedOut || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        why = timedOut ? "did not answer -cpu help in time" : "failed on -cpu help";
        return std::nullopt;
    }
    return out;
}

}  // namespace

std::vector<std::string> parseCpuHelp(std::string_view text) {
    std::vector<std::string> models;
    std::istringstream lines{std::string(text)};
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        std::string arch, name;
        if (!(words >> arch >> name) || arch != "x86") continue;
        models.push_back(name);
    }
    return models;
}

std::optional<std::vector<std::string>> cpuModelsOf(const std::string& binary, std::string& why) {
    static std::mutex mutex;
    static std::map<std::pair<std::string, std::int64_t>, std::vector<std::string>> cache;
    std::string file = resolve(binary);
    struct stat st {};
    if (file.empty() || ::stat(file.c_str(), &st) != 0) {
        why = "is not found";
        return std::nullopt;
    }
    std::pair key(file, std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
    std::lock_guard lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
    auto help = runHelp(file, why);
    if (!help) return std::nullopt;
    auto models = parseCpuHelp(*help);
    if (models.empty()) {
        why = "lists no x86 CPU models";
        return std::nullopt;
    }
    cache[key] = models;
    return models;
}

std::optional<std::string> checkCpuModel(std::string_view model, const std::string& binary) {
    if (model.empty() || model == kCpuHost || model == kCpuMax) return std::nullopt;
    std::string why;
    auto models = cpuModelsOf(binary, why);
    if (!models) return std::nullopt;
    if (std::find(models->begin(), models->end(), model) != models->end()) return std::nullopt;
    return "CPU model \"" + std::string(model) + "\" is not offered by " + binary +
           " (its -cpu help lists " + std::to_string(models->size()) + " models, such as " +
           "\"qemu64\" and \"max\")";
}

}  // namespace corral::hypervisor
