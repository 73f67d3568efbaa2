// Tap devices for NICs in "tap"/"bridge" mode, opened by corrald and handed to qemu as fds so
// qemu itself needs no network privileges.
#pragma once

#include <string>

#include "monitor/error.hpp"

namespace corral::hypervisor {

// An open, non-persistent tap: it disappears when the last fd (ours and qemu's) is closed.
class TapDevice {
  public:
    TapDevice() = default;
    TapDevice(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
    TapDevice(TapDevice&& other) noexcept;
    TapDevice& operator=(TapDevice&& other) noexcept;
    TapDevice(const TapDevice&) = delete;
    TapDevice& operator=(const TapDevice&) = delete;
    ~TapDevice();

    int fd() const { return fd_; }
    const std::string& name() const { return name_; }
    void setName(std::string name) { name_ = std::move(name); }

  private:
    int fd_ = -1;
    std::string name_;
};

// Opens /dev/net/tun as IFF_TAP|IFF_NO_PI|IFF_VNET_HDR (O_CLOEXEC), named `ifname` or chosen by
// the kernel if empty, sets it up, and adds it to `bridge` if not empty.
monitor::Result<TapDevice> openTap(const std::string& ifname, const std::string& bridge);

}  // namespace corral::hypervisor
