// The saved-state file's header and paths (managed_save.hpp).
#include "supervisor/managed_save.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hypervisor/runtime_dir.hpp"

namespace corral::supervisor {

namespace {

constexpr std::string_view kMagic = "corral-saved-state 1";

// The value of line `key VALUE`, or nullopt when the line is another.
std::optional<std::string_view> field(std::string_view line, std::string_view key) {
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ' ')
        return std::nullopt;
    return line.substr(key.size() + 1);
}

}  // namespace

OwnedFd& OwnedFd::operator=(OwnedFd&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

OwnedFd::~OwnedFd() {
    if (fd_ >= 0) ::close(fd_);
}

std::filesystem::path savedStatePath(const std::filesystem::path& stateRoot,
                                     const std::string& name) {
    return stateRoot / name / kSavedStateName;
}

std::filesystem::path savingStatePath(const std::filesystem::path& stateRoot,
                                      const std::string& name) {
    return stateRoot / name / kSavingStateName;
}

const char* toString(SaveReason reason) {
    return reason == SaveReason::HostShutdown ? "host-shutdown" : "save";
}

std::string savedHeaderText(const SavedHeader& header) {
    return std::string(kMagic) + "\nreason " + toString(header.reason) + "\nrunning " +
           (header.running ? "1" : "0") + "\ndevices " + hypervisor::devicesToJson(header.devices) +
           "\n\n";
}

std::optional<SavedHeader> parseSavedHeader(std::string_view text, std::string& why) {
    const std::string first = std::string(kMagic) + "\n";
    bool prefix = text.size() < first.size() && first.compare(0, text.size(), text) == 0;
    if (!prefix && text.substr(0, first.size()) != first) {
        why = "it is not a corral saved state (no 'corral-saved-state 1' header)";
        return std::nullopt;
    }
    std::vector<std::string_view> lines;
    std::size_t at = 0;
    while (lines.size() < 5) {
        auto end = text.find('\n', at);
        if (end == std::string_view::npos) {
            why = "its header is incomplete (truncated file?)";
            return std::nullopt;
        }
        lines.push_back(text.substr(at, end - at));
        at = end + 1;
    }
    SavedHeader header;
    auto reason = field(lines[1], "reason");
    auto running = field(lines[2], "running");
    auto devices = field(lines[3], "devices");
    if (!reason || (*reason != "save" && *reason != "host-shutdown") || !running ||
        (*running != "0" && *running != "1") || !devices || !lines[4].empty()) {
        why = "its header is damaged";
        return std::nullopt;
    }
    header.reason = *reason == "save" ? SaveReason::Save : SaveReason::HostShutdown;
    header.running = *running == "1";
    std::string error;
    auto records = hypervisor::devicesFromJson(*devices, error);
    if (!records) {
        why = "its device records are damaged (" + error + ")";
        return std::nullopt;
    }
    header.devices = std::move(*records);
    header.streamOffset = static_cast<off_t>(at);
    return header;
}

std::optional<SavedHeader> readSavedHeader(int fd, std::string& why) {
    std::string text(kSavedHeaderLimit, '\0');
    ssize_t got = ::pread(fd, text.data(), text.size(), 0);
    if (got < 0) {
        why = std::string("cannot read it: ") + std::strerror(errno);
        return std::nullopt;
    }
    text.resize(static_cast<std::size_t>(got));
    auto header = parseSavedHeader(text, why);
    if (!header) return std::nullopt;
    if (::lseek(fd, header->streamOffset, SEEK_SET) < 0) {
        why = std::string("cannot seek in it: ") + std::strerror(errno);
        return std::nullopt;
    }
    if (static_cast<std::size_t>(got) == static_cast<std::size_t>(header->streamOffset)) {
        why = "it holds no migration stream after its header (truncated file?)";
        return std::nullopt;
    }
    return header;
}

std::optional<SavedHeader> readSavedHeaderAt(const std::filesystem::path& path, std::string& why) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) why = std::string("cannot open it: ") + std::strerror(errno);
        return std::nullopt;
    }
    auto header = readSavedHeader(fd, why);
    ::close(fd);
    return header;
}

}  // namespace corral::supervisor
