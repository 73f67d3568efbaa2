// RunningQemu: the medium of a CD-ROM. The new path goes into the device record, and with it
// into state.json (a reattached corrald knows what is in the drive) and the Devices property.
#include <algorithm>

#include "supervisor/running_qemu.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;

asio::awaitable<Outcome<Unit>> RunningQemu::changeMediaSteps(std::string id, std::string path) {
    auto hotplug = hotplug_;
    auto changed = co_await life_.guard(hotplug->changeMedium(id, path));
    // Whatever QEMU did, an error leaves the record as it was: the drive may be empty now, the
    // next successful change or eject puts record and drive in step again.
    if (!changed) co_return toOpError(changed.error(), Channel::Monitor);
    for (auto& device : state_.devices) {
        if (device.id != id) continue;
        if (path.empty())
            device.options.erase("path");
        else
            device.options.insert_or_assign("path", path);
        device.backend = path;
    }
    persist();
    notices_.devicesChanged.emit();
    log(5, path.empty() ? "cdrom " + id + " ejected" : "cdrom " + id + " now holds " + path);
    co_return Unit{};
}

void RunningQemu::changeMedia(std::string id, std::string path, Done done) {
    if (!hotplug_)
        return done(OpError{ErrorKind::InvalidState,
                            name_ + " has no QMP connection; media change is unavailable."});
    auto device = std::find_if(state_.devices.begin(), state_.devices.end(),
                               [&](const auto& d) { return d.id == id; });
    if (device == state_.devices.end())
        return done(OpError{ErrorKind::InvalidArgument, name_ + " has no device " + id + "."});
    if (device->kindName() != "cdrom")
        return done(OpError{ErrorKind::InvalidArgument,
                            name_ + ": " + id + " is a " + std::string(device->kindName()) +
                                ", not a cdrom; only CD-ROMs have removable media."});
    life_.run<Unit>(changeMediaSteps(std::move(id), std::move(path)), std::move(done),
                    exitedDuring("the media change"));
}

}  // namespace corral::supervisor
