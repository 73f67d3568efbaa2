#include "tests/integration/agent/guest_vm.hpp"

#include <regex>

namespace corral::test {

using namespace std::chrono_literals;

GuestVm::GuestVm(const std::string& machine, std::vector<std::string> extraArgs) {
    auto args = guestQemuArgs(machine);
    auto serial = (dir_ / "serial.sock").string();
    std::vector<std::string> extra = {
        "-chardev", "socket,id=serial0,path=" + serial + ",server=on,wait=off",
        "-serial",  "chardev:serial0",
        "-device",  "virtio-serial-pci,id=vs0",
        "-chardev", "socket,id=h2g,path=" + hostToGuest() + ",server=on,wait=off",
        "-device",  "virtserialport,bus=vs0.0,chardev=h2g,name=negotiator-host-to-guest.0",
        "-chardev", "socket,id=g2h,path=" + guestToHost() + ",server=on,wait=off",
        "-device",  "virtserialport,bus=vs0.0,chardev=g2h,name=negotiator-guest-to-host.0"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), extraArgs.begin(), extraArgs.end());
    qemu_ = Process::spawn(args, dir_ / "qemu.log");
    if (!waitForPath(serial, 10s)) throw std::runtime_error("qemu did not create " + serial);
    console_ = std::make_unique<SerialConsole>(serial);
    if (!console_->waitFor(std::regex("corral-guest: userspace ready"), 90s)) {
        throw std::runtime_error("guest did not boot:\n" + console_->transcript());
    }
}

}  // namespace corral::test
