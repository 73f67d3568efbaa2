// Managed save: a running VM's state in a file under <state_dir>/NAME/, written by QEMU's
// migration stream, and read back by the next start (docs/architecture.md "Managed save").
// This file is the file format and its paths; the steps are RunningQemu's
// (running_qemu_save.cpp) and QemuVm's (qemu_vm_save.cpp).
//
// The file: a short text header, then the migration stream as QEMU wrote it.
//   corral-saved-state 1
//   reason save|host-shutdown
//   running 0|1
//   devices <the device records as JSON, one line>
//   <empty line>
// It is written as saved.state.tmp and renamed to saved.state only once QEMU said the migration
// completed and the data is on disk: a saved.state is always whole.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hypervisor/device.hpp"

namespace corral::supervisor {

inline constexpr const char* kSavedStateName = "saved.state";
inline constexpr const char* kSavingStateName = "saved.state.tmp";
inline constexpr std::size_t kSavedHeaderLimit = 1 << 20;

// An open file descriptor that closes itself.
class OwnedFd {
  public:
    OwnedFd() = default;
    explicit OwnedFd(int fd) : fd_(fd) {}
    OwnedFd(OwnedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    OwnedFd& operator=(OwnedFd&& other) noexcept;
    OwnedFd(const OwnedFd&) = delete;
    OwnedFd& operator=(const OwnedFd&) = delete;
    ~OwnedFd();
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }

  private:
    int fd_ = -1;
};

enum class SaveReason { Save, HostShutdown };

struct SavedHeader {
    SaveReason reason = SaveReason::Save;
    bool running = true;  // the vCPUs ran when the save began
    std::vector<hypervisor::Device> devices;
    off_t streamOffset = 0;  // where the migration stream begins
};

std::filesystem::path savedStatePath(const std::filesystem::path& stateRoot,
                                     const std::string& name);
std::filesystem::path savingStatePath(const std::filesystem::path& stateRoot,
                                      const std::string& name);

std::string savedHeaderText(const SavedHeader& header);
// The header at the start of `text` (the first bytes of a file); `why` says what is wrong.
std::optional<SavedHeader> parseSavedHeader(std::string_view text, std::string& why);
// Reads the header of the open file `fd` and leaves its offset where the stream begins.
std::optional<SavedHeader> readSavedHeader(int fd, std::string& why);
// The header of the file at `path` (nullopt, `why` empty: no such file).
std::optional<SavedHeader> readSavedHeaderAt(const std::filesystem::path& path, std::string& why);

const char* toString(SaveReason reason);

}  // namespace corral::supervisor
