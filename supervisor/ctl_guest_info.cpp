#include "supervisor/ctl_guest_info.hpp"

namespace corral::supervisor::ctl {

namespace {

// Four built-in commands, each answered at once by a healthy agent.
constexpr std::uint64_t kGuestInfoUsec = 45'000'000;

}  // namespace

void addGuestInfo(Client& client, const std::string& name, Properties& properties) {
    auto agent = properties.find("AgentConnected");
    if (agent == properties.end() || !std::get<bool>(agent->second)) return;
    MessageRef reply;
    try {
        reply = client.callInstance(name, "GuestInfo", kGuestInfoUsec);
    } catch (const CtlError&) {
        return;  // the agent went away meanwhile: the properties alone
    }
    const char *os = "", *release = "", *codename = "";
    std::vector<std::string> addresses;
    if (sd_bus_message_read(reply.get(), "sss", &os, &release, &codename) >= 0 &&
        sd_bus_message_enter_container(reply.get(), 'a', "s") >= 0) {
        properties["GuestOS"] = std::string(os);
        properties["GuestRelease"] = std::string(release);
        properties["GuestCodename"] = std::string(codename);
        for (const char* a = nullptr; sd_bus_message_read(reply.get(), "s", &a) > 0;)
            addresses.emplace_back(a);
        properties["GuestAddresses"] = std::move(addresses);
    }
}

}  // namespace corral::supervisor::ctl
