// A private temporary directory, removed with everything in it when the test ends.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace corral::test {

class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
};

// Number of open fds of this process (for leak checks).
int openFdCount();
// Number of open fds of another process, e.g. corrald (0 if it is gone).
int openFdCount(pid_t pid);

// The whole file; empty if it cannot be read.
std::string readFile(const std::filesystem::path& file);

}  // namespace corral::test
