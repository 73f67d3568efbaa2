#include "supervisor/log_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <sstream>
#include <vector>

namespace corral::supervisor {
namespace {

constexpr std::size_t kTailBytes = 64 * 1024;
constexpr std::string_view kCorraldTag = "corrald: ";
constexpr std::string_view kStartLine = "starting qemu";

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }

  private:
    int fd_;
};

std::string failed(const std::string& what, const std::filesystem::path& path) {
    return "cannot " + what + " " + path.string() + ": " + std::strerror(errno);
}

std::filesystem::path numbered(const std::filesystem::path& file, unsigned n) {
    return file.string() + "." + std::to_string(n);
}

// Copies [offset, end) of `from` into `to` (created with `mode` and `gid`).
std::optional<std::string> copyTail(int from, off_t offset, const std::filesystem::path& to,
                                    const struct stat& like) {
    Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (out.get() < 0) return failed("create", to);
    if (::fchown(out.get(), static_cast<uid_t>(-1), like.st_gid) != 0 ||
        ::fchmod(out.get(), like.st_mode & 07777) != 0)
        return failed("set the owner of", to);
    std::vector<char> buffer(64 * 1024);
    for (;;) {
        auto n = ::pread(from, buffer.data(), buffer.size(), offset);
        if (n < 0) return failed("read", to);
        if (n == 0) break;
        for (ssize_t written = 0; written < n;) {
            auto w = ::write(out.get(), buffer.data() + written, static_cast<size_t>(n - written));
            if (w < 0) return failed("write", to);
            written += w;
        }
        offset += n;
    }
    if (::fsync(out.get()) != 0) return failed("write", to);
    return std::nullopt;
}

// Strips qemu's "-msg timestamp=on" prefix ("2026-01-01T00:00:00.000000Z ").
std::string_view withoutTimestamp(std::string_view line) {
    auto space = line.find(' ');
    if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0])) &&
        space != std::string_view::npos && line.find('T') < space)
        line.remove_prefix(space + 1);
    return line;
}

}  // namespace

std::optional<std::string> rotateLog(const std::filesystem::path& file, const LogBound& bound,
                                     Rotation& done) {
    done = {};
    Fd in(::open(file.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (in.get() < 0) return errno == ENOENT ? std::nullopt : std::optional(failed("open", file));
    struct stat st {};
    if (::fstat(in.get(), &st) != 0) return failed("examine", file);
    auto size = static_cast<std::uint64_t>(st.st_size);
    if (size < bound.maxBytes || bound.keep == 0) return std::nullopt;
    auto offset = size - bound.maxBytes;
    auto temp = file.string() + ".rotating";
    if (auto error = copyTail(in.get(), static_cast<off_t>(offset), temp, st)) {
        ::unlink(temp.c_str());
        return error;
    }
    std::error_code ec;
    for (unsigned n = bound.keep; n > 1; --n) {
        if (!std::filesystem::exists(numbered(file, n - 1), ec)) continue;
        std::filesystem::rename(numbered(file, n - 1), numbered(file, n), ec);
        if (ec) {
            ::unlink(temp.c_str());
            return "cannot rename " + numbered(file, n - 1).string() + ": " + ec.message();
        }
    }
    if (::rename(temp.c_str(), numbered(file, 1).c_str()) != 0) {
        auto error = failed("rename", temp);
        ::unlink(temp.c_str());
        return error;
    }
    if (::ftruncate(in.get(), 0) != 0) return failed("truncate", file);
    done.rotated = true;
    // What arrived after the copy is gone with the truncation: that is not counted here.
    done.droppedBytes = offset;
    return std::nullopt;
}

std::optional<std::string> appendCorraldLine(const std::filesystem::path& file,
                                             std::string_view text) {
    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    struct tm utc {};
    ::gmtime_r(&now.tv_sec, &utc);
    char stamp[40];
    auto length = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(stamp + length, sizeof stamp - length, ".%06ldZ ", now.tv_nsec / 1000);
    std::string line = stamp + std::string(kCorraldTag) + std::string(text) + "\n";
    Fd out(::open(file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW));
    if (out.get() < 0) return failed("open", file);
    if (::write(out.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
        return failed("write to", file);
    return std::nullopt;
}

std::string lastQemuLine(const std::filesystem::path& file) {
    Fd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.get() < 0) return {};
    struct stat st {};
    if (::fstat(in.get(), &st) != 0) return {};
    auto size = static_cast<std::size_t>(st.st_size);
    auto offset = size > kTailBytes ? size - kTailBytes : 0;
    std::string tail(size - offset, '\0');
    auto n = ::pread(in.get(), tail.data(), tail.size(), static_cast<off_t>(offset));
    if (n < 0) return {};
    tail.resize(static_cast<std::size_t>(n));
    std::istringstream lines(tail);
    std::string line, last, lastError;
    while (std::getline(lines, line)) {
        if (line.empty()) continue;
        auto text = withoutTimestamp(line);
        if (text.substr(0, kCorraldTag.size()) == kCorraldTag) {
            // What an earlier qemu said is not the reason of this one.
            if (text.substr(kCorraldTag.size(), kStartLine.size()) == kStartLine) {
                last.clear();
                lastError.clear();
            }
            continue;
        }
        last = line;
        auto colon = text.find(": ");
        if (colon != std::string_view::npos && colon > 0 && text.find(' ') > colon)
            lastError = std::string(text);
    }
    return lastError.empty() ? last : lastError;
}

}  // namespace corral::supervisor
