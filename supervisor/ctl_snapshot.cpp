#include "supervisor/ctl_snapshot.hpp"

#include <map>

#include "hypervisor/instance_name.hpp"
#include "supervisor/ctl_client.hpp"
#include "supervisor/ctl_output.hpp"

namespace corral::supervisor::ctl {

namespace {

// A merge or an overlay per disk may take a while on big images.
constexpr std::uint64_t kSnapshotCallTimeoutUsec = 1800'000'000;

int listSnapshots(Client& client, const std::string& name, bool json) {
    auto reply = client.callInstance(name, "ListSnapshots", 30'000'000);
    sd_bus_message* m = reply.get();
    check(sd_bus_message_enter_container(m, 'a', "(sta(sss))"), "bad reply");
    std::string out = json ? "[" : "";
    int r = 0;
    bool first = true;
    while ((r = sd_bus_message_enter_container(m, 'r', "sta(sss)")) > 0) {
        const char* snap = "";
        std::uint64_t created = 0;
        check(sd_bus_message_read(m, "st", &snap, &created), "bad reply");
        check(sd_bus_message_enter_container(m, 'a', "(sss)"), "bad reply");
        std::string disks;
        const char* disk = "";
        const char* base = "";
        const char* overlay = "";
        while ((r = sd_bus_message_read(m, "(sss)", &disk, &base, &overlay)) > 0) {
            if (json)
                disks += std::string(disks.empty() ? "" : ",") + "{\"disk\":" + jsonQuote(disk) +
                         ",\"base\":" + jsonQuote(base) + ",\"overlay\":" + jsonQuote(overlay) +
                         "}";
            else
                disks += std::string(" ") + disk + ":" + overlay;
        }
        check(r, "bad reply");
        check(sd_bus_message_exit_container(m), "bad reply");
        check(sd_bus_message_exit_container(m), "bad reply");
        if (json)
            out += std::string(first ? "" : ",") + "{\"name\":" + jsonQuote(snap) +
                   ",\"created_usec\":" + std::to_string(created) + ",\"disks\":[" + disks + "]}";
        else
            out += std::string(snap) + " " + localTimeText(created) + disks + "\n";
        first = false;
    }
    check(r, "bad reply");
    std::fputs((json ? out + "]\n" : out).c_str(), stdout);
    return kOk;
}

}  // namespace

int snapshotVerb(const Args& a) {
    static const std::map<std::string, const char*> kMethods = {
        {"create", "Snapshot"}, {"revert", "RevertSnapshot"}, {"delete", "DeleteSnapshot"}};
    const std::string& action = a.args[0];
    if (action != "list" && !kMethods.count(action))
        throw CtlError(kUsage,
                       "snapshot takes create, list, revert or delete, not '" + action + "'");
    if (auto problem = hypervisor::checkInstanceName(a.args[1]))
        throw CtlError(kUsage, *problem, false);
    if ((action == "list") != (a.args.size() == 2))
        throw CtlError(kUsage, action == "list" ? "snapshot list takes NAME only"
                                                : "snapshot " + action + " takes NAME and SNAP");
    if (a.has(kForce) && action != "revert")
        throw CtlError(kUsage, "--force goes with snapshot revert only");
    Client client(a.bus, a.address);
    if (action == "list") return listSnapshots(client, a.args[1], a.json);
    const std::string& snap = a.args[2];
    client.callInstance(a.args[1], kMethods.at(action), kSnapshotCallTimeoutUsec,
                        [&](sd_bus_message* m) {
                            int r = sd_bus_message_append(m, "s", snap.c_str());
                            if (r < 0 || action == "delete") return r;
                            if (action == "revert" && a.has(kForce))
                                return sd_bus_message_append(m, "a{sv}", 1, "force", "b", 1);
                            return sd_bus_message_append(m, "a{sv}", 0);
                        });
    return kOk;
}

}  // namespace corral::supervisor::ctl
