// Instance.GuestInfo(): what the guest's built-in commands say (guest_info.hpp), asked through
// the Vm's guest execute calls and answered when the last one is back; or, when the negotiator
// agent is not connected and qemu-guest-agent answers, what qemu-ga reports.
#include "supervisor/dbus_internal.hpp"
#include "supervisor/dbus_reply.hpp"
#include "supervisor/guest_info.hpp"

namespace corral::supervisor {

namespace {

// Each built-in command answers at once; this bounds a guest that hangs in one.
constexpr std::chrono::milliseconds kPerCommand{std::chrono::seconds(10)};

int appendInfo(sd_bus_message* reply, const GuestInfo& info) {
    int r = sd_bus_message_append(reply, "sss", info.osId.c_str(), info.release.c_str(),
                                  info.codename.c_str());
    if (r < 0) return r;
    if ((r = sd_bus_message_open_container(reply, 'a', "s")) < 0) return r;
    for (const auto& address : info.addresses)
        if ((r = sd_bus_message_append(reply, "s", address.c_str())) < 0) return r;
    return sd_bus_message_close_container(reply);
}

}  // namespace

int methodGuestInfo(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto& ref = *static_cast<InstanceRef*>(userdata);
    PendingCall call(ref.loop, m);
    Vm* vm = ref.vm;
    auto answer = [call](Outcome<GuestInfo> info) {
        if (!info) return call.error(info.error());
        call.values([&](sd_bus_message* reply) { return appendInfo(reply, info.value()); });
    };
    // The negotiator agent first when it is connected, else qemu-guest-agent when it answers.
    if (!vm->lifecycle().agentConnected() && vm->qemuGaConnected()) {
        vm->qemuGaGuestInfo(answer);
        return 1;
    }
    auto run = [vm](std::vector<std::string> argv, std::function<void(Outcome<std::string>)> done) {
        vm->guestExecute(std::move(argv), "", kPerCommand, std::move(done));
    };
    queryGuestInfo(run, answer);
    return 1;
}

}  // namespace corral::supervisor
