#include "hypervisor/tap.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace corral::hypervisor {

using corral::Errc;
namespace {

monitor::Error tapError(const std::string& what) {
    return monitor::makeError(Errc::OpenFailed, "tap", what + ": " + std::strerror(errno));
}

// Runs an interface ioctl on a throwaway socket.
bool ifaceIoctl(unsigned long request, ifreq& ifr) {
    int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return false;
    int rc = ::ioctl(sock, request, &ifr);
    int saved = errno;
    ::close(sock);
    errno = saved;
    return rc == 0;
}

}  // namespace

TapDevice::TapDevice(TapDevice&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), name_(std::move(other.name_)) {}

TapDevice& TapDevice::operator=(TapDevice&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
        name_ = std::move(other.name_);
    }
    return *this;
}

TapDevice::~TapDevice() {
    if (fd_ >= 0) ::close(fd_);
}

monitor::Result<TapDevice> openTap(const std::string& ifname, const std::string& bridge) {
    if (ifname.size() >= IFNAMSIZ || bridge.size() >= IFNAMSIZ) {
        return monitor::makeError(Errc::InvalidArgument, "tap",
                                  "interface names have at most 15 bytes");
    }
    int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return tapError("cannot open /dev/net/tun");
    TapDevice tap(fd, "");  // owns fd from here on, also on every error return
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
        return tapError("TUNSETIFF " + (ifname.empty() ? std::string("(new tap)") : ifname));
    }
    tap.setName(ifr.ifr_name);

    ifreq up{};
    std::strncpy(up.ifr_name, tap.name().c_str(), IFNAMSIZ - 1);
    if (!ifaceIoctl(SIOCGIFFLAGS, up)) return tapError("SIOCGIFFLAGS " + tap.name());
    up.ifr_flags = static_cast<short>(up.ifr_flags | IFF_UP);
    if (!ifaceIoctl(SIOCSIFFLAGS, up)) return tapError("cannot set " + tap.name() + " up");
    if (!bridge.empty()) {
        ifreq br{};
        std::strncpy(br.ifr_name, bridge.c_str(), IFNAMSIZ - 1);
        br.ifr_ifindex = static_cast<int>(::if_nametoindex(tap.name().c_str()));
        if (!ifaceIoctl(SIOCBRADDIF, br)) {
            return tapError("cannot add " + tap.name() + " to bridge " + bridge);
        }
    }
    return tap;
}

}  // namespace corral::hypervisor
