#include "supervisor/definition_store.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace corral::supervisor {

namespace fs = std::filesystem;

namespace {

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    // close(2) reports write-back errors some file systems only notice then.
    int close() {
        int r = ::close(fd_);
        fd_ = -1;
        return r;
    }

  private:
    int fd_;
};

StoreError failed(const std::string& what, const fs::path& file, int error) {
    return {StoreError::What::Failed,
            "cannot " + what + " " + file.string() + ": " + std::strerror(error)};
}

fs::path directoryOf(const fs::path& file) {
    return file.has_parent_path() ? file.parent_path() : fs::path(".");
}

std::optional<StoreError> syncDirectory(const fs::path& dir) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0 || ::fsync(fd.get()) < 0) return failed("sync directory", dir, errno);
    return std::nullopt;
}

bool writeAll(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        text.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// Moves `from` to `to` without replacing an existing `to`: EEXIST if there is one.
int renameNoReplace(const fs::path& from, const fs::path& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return errno;
    // A file system without RENAME_NOREPLACE: link(2) refuses an existing name as well.
    if (::link(from.c_str(), to.c_str()) < 0) return errno;
    ::unlink(from.c_str());
    return 0;
}

// D-Bus strings are UTF-8 without NUL bytes; sd-bus refuses to send anything else.
bool busString(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        auto c = static_cast<unsigned char>(text[i]);
        std::size_t n = c < 0x80           ? 1
                        : (c >> 5) == 0x6  ? 2
                        : (c >> 4) == 0xe  ? 3
                        : (c >> 3) == 0x1e ? 4
                                           : 0;
        if (c == 0 || n == 0 || i + n > text.size()) return false;
        for (std::size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) return false;
        i += n;
    }
    return true;
}

}  // namespace

std::optional<StoreError> writeDefinitionFile(const fs::path& file, std::string_view text,
                                              Replace replace, unsigned mode) {
    auto dir = directoryOf(file);
    std::string temp = (dir / ("." + file.filename().string() + ".tmp-XXXXXX")).string();
    Fd fd(::mkostemp(temp.data(), O_CLOEXEC));
    if (fd.get() < 0) return failed("create a temporary file in", dir, errno);
    auto discard = [&](const std::string& what, int error) {
        ::unlink(temp.c_str());
        return failed(what, what == "rename to" ? file : fs::path(temp), error);
    };
    if (::fchmod(fd.get(), static_cast<mode_t>(mode)) < 0) return discard("set the mode of", errno);
    if (!writeAll(fd.get(), text)) return discard("write", errno ? errno : EIO);
    if (::fsync(fd.get()) < 0) return discard("sync", errno);
    if (fd.close() < 0) return discard("close", errno);
    if (replace == Replace::Yes) {
        if (::rename(temp.c_str(), file.c_str()) < 0) return discard("rename to", errno);
    } else if (int error = renameNoReplace(temp, file)) {
        ::unlink(temp.c_str());
        if (error == EEXIST)
            return StoreError{StoreError::What::Exists, file.string() + " already exists"};
        return failed("rename to", file, error);
    }
    return syncDirectory(dir);
}

std::optional<StoreError> removeDefinitionFile(const fs::path& file) {
    if (::unlink(file.c_str()) < 0 && errno != ENOENT) return failed("remove", file, errno);
    return syncDirectory(directoryOf(file));
}

std::optional<std::string> readDefinitionFile(const fs::path& file, std::string& problem) {
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        problem = failed("read", file, errno).message;
        return std::nullopt;
    }
    std::string text;
    char buffer[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            problem = failed("read", file, errno).message;
            return std::nullopt;
        }
        if (n == 0 && !busString(text)) {
            problem =
                file.string() + " is not UTF-8 text without NUL bytes, which D-Bus cannot carry";
            return std::nullopt;
        }
        if (n == 0) return text;
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > kMaxDefinitionBytes) {
            problem = file.string() + " is larger than " + std::to_string(kMaxDefinitionBytes) +
                      " bytes (1 MiB), the most a definition may have";
            return std::nullopt;
        }
    }
}

}  // namespace corral::supervisor
