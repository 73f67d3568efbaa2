// A NIC's backend: netdev "<id>-netdev", QEMU's user network or a tap that corrald opens (and
// adds to a bridge), so qemu itself needs no network privileges. The tap goes to qemu as an fd
// inherited at spawn, or with getfd "corral-fd-<id>" at hotplug.
#include "hypervisor/device_backend.hpp"
#include "hypervisor/instance_spec.hpp"

namespace corral::hypervisor {

using monitor::awaitable;
using monitor::JsonObject;
using monitor::Result;

namespace {

constexpr std::string_view kNetdevSuffix = "-netdev";

std::string netdevOf(std::string_view id) {
    return std::string(id) + std::string(kNetdevSuffix);
}

std::string fdNameOf(std::string_view id) {
    return "corral-fd-" + std::string(id);
}

NicMode modeOf(const Device& nic) {
    return kNicModes.fromString(nic.text("mode")).value_or(NicMode::User);
}

monitor::Result<TapDevice> openTapFor(const Device& nic) {
    return openTap("", modeOf(nic) == NicMode::Bridge ? std::string(nic.text("bridge")) : "");
}

class NetBackend final : public DeviceBackend {
  public:
    std::vector<std::string_view> hotplugCommands() const override {
        return {"netdev_add", "getfd"};
    }

    void bootArgs(const Device& nic, int& nextFd, std::vector<std::string>& argv) const override {
        std::string netdev = modeOf(nic) == NicMode::User
                                 ? "user,id=" + netdevOf(nic.id)
                                 : "tap,id=" + netdevOf(nic.id) + ",fd=" + std::to_string(nextFd++);
        argv.insert(argv.end(), {"-netdev", netdev});
    }

    Result<std::optional<TapDevice>> openBootFd(const Device& nic) const override {
        if (modeOf(nic) == NicMode::User) return std::nullopt;
        auto tap = openTapFor(nic);
        if (!tap) return tap.error();
        return std::optional<TapDevice>(std::move(*tap));
    }

    Properties deviceLinks(const Device& nic) const override {
        return {{"netdev", netdevOf(nic.id)}};
    }

    // tap/bridge: open a tap, getfd, netdev_add, device_add; user: netdev_add, device_add.
    awaitable<Result<void>> attach(monitor::QmpClient& qmp, Device& nic,
                                   const PlugDevice& plug) const override {
        std::string tapName;
        JsonObject netdev;
        netdev.set("id", netdevOf(nic.id));
        bool tapMode = modeOf(nic) != NicMode::User;
        if (!tapMode) {
            netdev.set("type", "user");
        } else {
            auto tap = openTapFor(nic);
            if (!tap) co_return tap.error();
            tapName = tap->name();
            auto passed = co_await qmp.getfd(fdNameOf(nic.id), tap->fd());
            if (!passed) co_return passed.error();
            netdev.set("type", "tap").set("fd", fdNameOf(nic.id)).set("vhost", false);
        }  // our copy of the tap fd is closed here: QEMU holds its own
        auto backend = co_await qmp.execute("netdev_add", netdev.take());
        if (!backend) {
            if (tapMode) {
                co_await qmp.execute("closefd",
                                     JsonObject().set("fdname", fdNameOf(nic.id)).take());
            }
            co_return backend.error();
        }
        auto plugged = co_await plug();
        if (!plugged) {
            co_await remove(qmp, nic);
            co_return plugged.error();
        }
        nic.backend = tapName;
        co_return Result<void>();
    }

    awaitable<void> remove(monitor::QmpClient& qmp, const Device& nic) const override {
        co_await qmp.execute("netdev_del", JsonObject().set("id", netdevOf(nic.id)).take());
    }

    // Netdevs "<id>-netdev" that no NIC uses. QMP of qemu 7.2 cannot list netdevs: "info
    // network" prints one line per client, a NIC's backend indented under it, so only top-level
    // lines that are not NICs are netdevs without a device.
    awaitable<void> removeOrphans(monitor::QmpClient& qmp, const Owned& owned,
                                  std::vector<std::string>& removed) const override {
        auto text = co_await qmp.execute("human-monitor-command",
                                         JsonObject().set("command-line", "info network").take());
        if (!text || !text->IsString()) co_return;
        std::string_view all(text->GetString(), text->GetStringLength());
        std::vector<std::string> orphans;
        while (!all.empty()) {
            auto end = all.find('\n');
            std::string_view line = all.substr(0, end);
            all = end == std::string_view::npos ? std::string_view() : all.substr(end + 1);
            auto colon = line.find(':');
            if (line.empty() || line.front() == ' ' || colon == std::string_view::npos ||
                line.find("type=nic") != std::string_view::npos) {
                continue;
            }
            std::string_view name = line.substr(0, colon);
            std::string id = idBefore(name, kNetdevSuffix);
            if (!id.empty() && !owned(id)) orphans.emplace_back(name);
        }
        co_await deleteEach(qmp, "netdev_del", "id", "netdev", std::move(orphans), removed);
    }
};

}  // namespace

const DeviceBackend& netdevBackend() {
    static const NetBackend backend;
    return backend;
}

}  // namespace corral::hypervisor
