#include "supervisor/ctl_save.hpp"

#include <cstdio>

namespace corral::supervisor::ctl {

namespace {

constexpr std::uint64_t kSecond = 1'000'000;
// corrald bounds the stream to 600 s and qemu's exit to 10 s more.
constexpr std::uint64_t kSaveWait = 660 * kSecond;
constexpr std::uint64_t kStartWait = 660 * kSecond;

bool hasSavedState(Client& client, const std::string& name) {
    auto properties = client.properties(name);
    auto it = properties.find("HasSavedState");
    return it != properties.end() && std::holds_alternative<bool>(it->second) &&
           std::get<bool>(it->second);
}

}  // namespace

int saveVerb(const Args& a) {
    Client client(a.bus, a.address);
    client.callInstance(a.args[0], "Save", kSaveWait);
    if (!a.json)
        std::printf("%s: saved; the next start restores it (start --discard-saved boots afresh)\n",
                    a.args[0].c_str());
    return kOk;
}

int startVerb(const Args& a) {
    Client client(a.bus, a.address);
    bool discard = a.has(kDiscardSaved);
    bool restore = !discard && hasSavedState(client, a.args[0]);
    if (discard) {
        client.callInstance(a.args[0], "StartWithOptions", kStartWait, [](sd_bus_message* m) {
            return sd_bus_message_append(m, "a{sv}", 1, "discard_saved", "b", 1);
        });
    } else {
        client.callInstance(a.args[0], "Start", kStartWait);
    }
    if (!a.json)
        std::printf("%s: running%s\n", a.args[0].c_str(),
                    restore ? " (restored from its saved state)" : "");
    return kOk;
}

}  // namespace corral::supervisor::ctl
