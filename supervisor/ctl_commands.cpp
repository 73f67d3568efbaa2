#include "supervisor/ctl_commands.hpp"

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "hypervisor/cpu_models.hpp"
#include "hypervisor/instance_spec.hpp"
#include "hypervisor/qemu_argv.hpp"
#include "supervisor/ctl_attach.hpp"
#include "supervisor/ctl_backup.hpp"
#include "supervisor/ctl_console.hpp"
#include "supervisor/ctl_define.hpp"
#include "supervisor/ctl_disks.hpp"
#include "supervisor/ctl_display.hpp"
#include "supervisor/ctl_exec.hpp"
#include "supervisor/ctl_guest_info.hpp"
#include "supervisor/ctl_migrate.hpp"
#include "supervisor/ctl_output.hpp"
#include "supervisor/ctl_run.hpp"
#include "supervisor/ctl_save.hpp"
#include "supervisor/ctl_snapshot.hpp"
#include "supervisor/ctl_top.hpp"

namespace corral::supervisor::ctl {

namespace {

constexpr std::uint64_t kSecond = 1'000'000;

Client connect(const Args& a) {
    return Client(a.bus, a.address);
}

// A verb that works on files of this host refuses -H, saying what to do instead.
void refuseRemote(const Args& a, const std::string& instead) {
    if (a.bus != Client::Bus::Remote) return;
    throw CtlError(kUsage, std::string(a.verb->name) + " does not work with -H: " + instead, false);
}

// --timeout in µs, or `fallback` without it. Checked before any bus is opened.
std::uint64_t timeoutUsec(const Args& a, std::uint64_t fallback) {
    const std::string* text = a.option(kTimeout);
    if (!text) return fallback;
    double value = -1;
    try {
        value = std::stod(*text);
    } catch (const std::exception&) {
    }
    // Up to a year: beyond that, and negative or not-a-number values, are typing mistakes.
    if (!(value >= 0 && value <= 365.0 * 24 * 3600))
        throw CtlError(kUsage, "--timeout wants seconds (0 to 31536000), got '" + *text + "'");
    return static_cast<std::uint64_t>(value * kSecond);
}

std::string readString(const MessageRef& reply) {
    const char* text = "";
    check(sd_bus_message_read(reply.get(), "s", &text), "bad reply");
    return text;
}

int appendOptions(sd_bus_message* m, const std::map<std::string, std::string>& strings,
                  const std::map<std::string, bool>& bools) {
    int r = sd_bus_message_open_container(m, 'a', "{sv}");
    for (auto it = strings.begin(); r >= 0 && it != strings.end(); ++it)
        r = sd_bus_message_append(m, "{sv}", it->first.c_str(), "s", it->second.c_str());
    for (auto it = bools.begin(); r >= 0 && it != bools.end(); ++it)
        r = sd_bus_message_append(m, "{sv}", it->first.c_str(), "b", int(it->second));
    return r < 0 ? r : sd_bus_message_close_container(m);
}

int validate(const Args& a) {
    refuseRemote(a, "it checks files on this host (copy them to " + a.address +
                        " and run corralctl validate there)");
    hypervisor::setCpuModelCheck([](std::string_view model) {
        return hypervisor::checkCpuModel(model, hypervisor::kDefaultQemuBinary);
    });
    std::vector<Validation> validations;
    int rc = kOk;
    for (const auto& file : a.args) {
        validations.push_back({file, hypervisor::loadInstanceSpec(file)});
        if (!validations.back().result.ok()) rc = kFailed;
    }
    printValidations(validations, a.json);
    return rc;
}

int list(const Args& a) {
    printList(connect(a).list(), a.json);
    return kOk;
}

int status(const Args& a) {
    auto client = connect(a);
    auto properties = client.properties(a.args[0]);
    addGuestInfo(client, a.args[0], properties);
    printStatus(properties, a.json);
    return kOk;
}

int reload(const Args& a) {
    connect(a).reload();
    return kOk;
}

int lifecycle(const Args& a, const char* method, const char* done) {
    connect(a).callInstance(a.args[0], method, 120 * kSecond);
    if (!a.json) std::printf("%s: %s\n", a.args[0].c_str(), done);
    return kOk;
}

int shutdown(const Args& a) {
    auto timeout = timeoutUsec(a, 0);
    // The instance's own default may be long: wait for the reply as long as it can take.
    auto wait = (timeout ? timeout : 600 * kSecond) + 30 * kSecond;
    connect(a).callInstance(a.args[0], "Shutdown", wait, [&](sd_bus_message* m) {
        return sd_bus_message_append(m, "t", timeout);
    });
    if (!a.json) std::printf("%s: stopped\n", a.args[0].c_str());
    return kOk;
}

int attachDisk(const Args& a) {
    // corrald refuses ".." components: resolved here as the kernel would, so that
    // "../images/d.img" keeps working. With -H the path names a file of that host, which
    // corrald checks there.
    std::string path = a.args[2];
    if (path.empty()) throw CtlError(kUsage, "the disk path is empty", false);
    if (a.bus != Client::Bus::Remote) path = resolveLocalPath(path, "the disk path");
    std::map<std::string, std::string> strings;
    if (const auto* format = a.option(kFormat)) strings["format"] = *format;
    auto client = connect(a);
    auto reply = client.callInstance(a.args[0], "AttachDisk", 60 * kSecond, [&](sd_bus_message* m) {
        int r = sd_bus_message_append(m, "ss", a.args[1].c_str(), path.c_str());
        return r < 0 ? r : appendOptions(m, strings, {{"readonly", a.has(kReadonly)}});
    });
    printValue("pci_address", readString(reply), a.json);
    return kOk;
}

int attachNic(const Args& a) {
    std::map<std::string, std::string> strings;
    for (auto [option, key] : {std::pair{kMode, "mode"}, {kBridge, "bridge"}, {kMac, "mac"}})
        if (const auto* value = a.option(option)) strings[key] = *value;
    auto client = connect(a);
    auto reply = client.callInstance(a.args[0], "AttachNic", 60 * kSecond, [&](sd_bus_message* m) {
        int r = sd_bus_message_append(m, "s", a.args[1].c_str());
        return r < 0 ? r : appendOptions(m, strings, {});
    });
    printValue("pci_address", readString(reply), a.json);
    return kOk;
}

int attach(const Args& a) {
    auto client = connect(a);
    return attachDevice(client, a.args[0], a.args[1], a.args[2], a.deviceOptions, a.has(kPersist),
                        a.json);
}

int detach(const Args& a) {
    bool persist = a.has(kPersist);
    const char* method = persist ? "DetachWithOptions" : "Detach";
    connect(a).callInstance(a.args[0], method, 60 * kSecond, [&](sd_bus_message* m) {
        int r = sd_bus_message_append(m, "s", a.args[1].c_str());
        if (r < 0 || !persist) return r;
        return sd_bus_message_append(m, "a{sv}", 1, "persist", "b", 1);
    });
    return kOk;
}

// `cdrom NAME ID PATH` puts an ISO into the drive, `cdrom NAME ID --eject` empties it.
int cdrom(const Args& a) {
    if (a.has(kEject) == (a.args.size() == 3))
        throw CtlError(kUsage, "cdrom takes an ISO PATH or --eject (one of them)");
    std::string path = a.has(kEject) ? "" : a.args[2];
    if (!a.has(kEject) && path.empty()) throw CtlError(kUsage, "the ISO path is empty", false);
    if (!path.empty() && a.bus != Client::Bus::Remote)
        path = resolveLocalPath(path, "the ISO path");
    connect(a).callInstance(a.args[0], "ChangeMedia", 60 * kSecond, [&](sd_bus_message* m) {
        return sd_bus_message_append(m, "ss", a.args[1].c_str(), path.c_str());
    });
    return kOk;
}

int exec(const Args& a) {
    auto client = connect(a);
    return runExec(client, a.args[0], a.argv, timeoutUsec(a, 60 * kSecond), a.json);
}

int commands(const Args& a) {
    auto client = connect(a);
    printLines(readStrings(client.callInstance(a.args[0], "GuestListCommands", 30 * kSecond)),
               a.json);
    return kOk;
}

int monitor(const Args& a) {
    auto client = connect(a);
    auto reply = client.callInstance(a.args[0], "Monitor", 60 * kSecond, [&](sd_bus_message* m) {
        return sd_bus_message_append(m, "s", a.args[1].c_str());
    });
    std::printf("%s\n", readString(reply).c_str());
    return kOk;
}

int run(const Args& a) {
    auto client = connect(a);
    return runInstance(client, a.args[0]);
}

int console(const Args& a) {
    refuseRemote(a, "the serial console is a socket on " + a.address + " (run ssh -t " + a.address +
                        " corralctl console " + a.args[0] + ")");
    auto props = connect(a).properties(a.args[0]);
    return runConsole(std::get<std::string>(props["SerialSocket"]), a.args[0]);
}

// name, arguments, min, max, options, takes "-- ARGV", first is NAME, help, run.
constexpr Verb kVerbs[] = {
    {"list", "", 0, 0, 0, false, false, "instances and their state", list},
    {"status", "NAME", 1, 1, 0, false, true, "all properties of an instance", status},
    {"start", "NAME", 1, 1, kDiscardSaved, false, true,
     "start (or restore a saved) VM; returns once it runs", startVerb},
    {"save", "NAME", 1, 1, 0, false, true, "save the VM's state to a file and stop it", saveVerb},
    {"kill", "NAME", 1, 1, 0, false, true, "kill qemu at once (SIGKILL)",
     [](const Args& a) { return lifecycle(a, "Kill", "killed"); }},
    {"reboot", "NAME", 1, 1, 0, false, true, "shut down gracefully, then start again",
     [](const Args& a) { return lifecycle(a, "Reboot", "rebooted"); }},
    {"reset", "NAME", 1, 1, 0, false, true, "reset the VM, like the reset button",
     [](const Args& a) { return lifecycle(a, "Reset", "reset"); }},
    {"pause", "NAME", 1, 1, 0, false, true, "pause the VM's CPUs",
     [](const Args& a) { return lifecycle(a, "Pause", "paused"); }},
    {"resume", "NAME", 1, 1, 0, false, true, "resume a paused VM",
     [](const Args& a) { return lifecycle(a, "Resume", "running"); }},
    {"shutdown", "NAME", 1, 1, kTimeout, false, true, "ACPI powerdown, escalating after S seconds",
     shutdown},
    {"attach-disk", "NAME ID PATH", 3, 3, kReadonly | kFormat, false, true,
     "hotplug a disk image; prints its PCI address", attachDisk},
    {"attach-nic", "NAME ID", 2, 2, kMode | kBridge | kMac, false, true,
     "hotplug a virtio NIC; prints its PCI address", attachNic},
    {"attach", "NAME KIND ID", 3, 3, kDeviceOption | kPersist, false, true,
     "hotplug a device of any kind, options as in TOML (--persist: also into the definition)",
     attach},
    {"detach", "NAME ID", 2, 2, kPersist, false, true,
     "unplug a device (--persist: also from the definition)", detach},
    {"cdrom", "NAME ID [PATH]", 2, 3, kEject, false, true,
     "put an ISO into a running VM's CD-ROM, or --eject it", cdrom},
    {"resize", "NAME DISK SIZE", 3, 3, 0, false, true,
     "grow a running VM's disk to SIZE (10G, 512M; never shrinks)", resizeVerb},
    {"limits", "NAME DISK [KEY=VALUE...]", 2, kAnyCount, 0, false, true,
     "show or change a running VM's disk I/O limits (bps_wr=1M, iops_rd=500, 0 removes)",
     limitsVerb},
    {"snapshot", "create|list|revert|delete NAME [SNAP]", 2, 3, kForce, false, false,
     "disk snapshots of a VM: take, list, go back to (--force: a running one), merge away",
     snapshotVerb},
    {"backup", "create|list|cancel NAME [DIR]", 2, 3, kIncremental | kDisk, false, false,
     "back up a running VM's disks into DIR (--incremental: what changed since), list, cancel",
     backupVerb},
    {"exec", "NAME", 1, 1, kTimeout, true, true, "run a command in the guest (negotiator agent)",
     exec},
    {"commands", "NAME", 1, 1, 0, false, true, "commands the guest agent offers", commands},
    {"console", "NAME", 1, 1, 0, false, true, "attach to the serial console (Ctrl-] leaves)",
     console},
    {"vnc", "NAME", 1, 1, 0, false, true, "how to connect to the VM's VNC display", vncVerb},
    {"screenshot", "NAME FILE", 2, 2, 0, false, true,
     "write a PNG of the VM's screen (root; FILE on corrald's host)", screenshotVerb},
    {"run", "NAME", 1, 1, 0, false, true, "start and follow a VM until it ends (corral@.service)",
     run},
    {"monitor", "NAME JSON", 2, 2, 0, false, true,
     "raw QMP command, e.g. '{\"execute\":\"query-status\"}'", monitor},
    {"validate", "FILE...", 1, kAnyCount, 0, false, false,
     "check instance definitions without corrald", validate},
    {"reload", "", 0, 0, 0, false, false, "rescan the instance definitions", reload},
    {"define", "FILE", 1, 1, 0, false, false, "add an instance from a definition file (root)",
     defineVerb},
    {"show", "NAME", 1, 1, 0, false, true, "print an instance's definition", showVerb},
    {"edit", "NAME", 1, 1, 0, false, true, "edit a definition in $EDITOR, checked before saving",
     editVerb},
    {"undefine", "NAME", 1, 1, kRemoveStorage, false, true,
     "remove a stopped instance (and its images in the storage dirs)", undefineVerb},
    {"top", "", 0, 0, kDelay | kIterations, false, false,
     "live CPU, memory, disk and network use of every instance", top},
    {"migrate", "NAME [DEST]", 1, 2,
     kBandwidth | kDowntime | kTimeout | kCancel | kTls | kCopyStorage | kPostcopy, false, true,
     "live-migrate to DEST (bus address or [user@]host); --cancel NAME stops it", migrateVerb},
};

}  // namespace

std::span<const Verb> corralctlVerbs() {
    return kVerbs;
}

}  // namespace corral::supervisor::ctl
