#include "agent/commands.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

namespace corral::agent {

namespace fs = std::filesystem;

namespace {

bool isExecutableFile(const fs::path& path) {
    std::error_code ec;
    return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

bool isSafeCommandName(std::string_view name) {
    return !name.empty() && name != "." && name.find('/') == std::string_view::npos &&
           name.find("..") == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

std::vector<std::string> listCommands(const std::vector<fs::path>& dirs) {
    std::vector<std::string> names;
    for (const auto& dir : dirs) {
        std::error_code ec;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
            auto name = it->path().filename().string();
            if (isSafeCommandName(name) && isExecutableFile(it->path())) names.push_back(name);
        }
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

std::optional<fs::path> findCommand(std::string_view name, const std::vector<fs::path>& dirs) {
    if (!isSafeCommandName(name)) return std::nullopt;
    for (const auto& dir : dirs) {
        auto candidate = dir / name;
        if (isExecutableFile(candidate)) return candidate;
    }
    return std::nullopt;
}

std::string tail(std::string_view text, std::size_t limit) {
    if (text.size() <= limit) return std::string(text);
    auto cut = text.substr(text.size() - limit);
    auto newline = cut.find('\n');
    if (newline != std::string_view::npos && newline + 1 < cut.size())
        cut.remove_prefix(newline + 1);
    return "..." + std::string(cut);
}

std::string describeFailure(std::string_view name, int status, std::string_view stderrText) {
    std::string message = "command '" + std::string(name) + "' ";
    if (WIFEXITED(status)) {
        message += "failed with exit code " + std::to_string(WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        message += "was killed by signal " + std::to_string(WTERMSIG(status));
    } else {
        message += "ended with wait status " + std::to_string(status);
    }
    auto quoted = tail(stderrText, kStderrTail);
    while (!quoted.empty() && (quoted.back() == '\n' || quoted.back() == ' ')) quoted.pop_back();
    if (!quoted.empty()) message += ": " + quoted;
    return message;
}

}  // namespace corral::agent
