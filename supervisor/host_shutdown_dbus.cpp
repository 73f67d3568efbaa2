// org.corral1.Host: the D-Bus side of the host shutdown phase (host_shutdown.hpp).
#include <systemd/sd-bus.h>

#include <memory>
#include <stdexcept>

#include "supervisor/bus_loop.hpp"
#include "supervisor/dbus_reply.hpp"
#include "supervisor/dbus_service.hpp"
#include "supervisor/host_shutdown.hpp"
#include "supervisor/registry.hpp"

namespace corral::supervisor {

namespace {

constexpr const char* kHostInterface = "org.corral1.Host";

// Only root ends every VM of the host (the bus policy lets group corral call methods).
std::optional<OpError> refuseUnlessRoot(sd_bus_message* m) {
    sd_bus_creds* raw = nullptr;
    uid_t euid = 1;
    int r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &raw);
    if (r >= 0) r = sd_bus_creds_get_euid(raw, &euid);
    sd_bus_creds_unref(raw);
    if (r >= 0 && euid == 0) return std::nullopt;
    return OpError{ErrorKind::PermissionDenied,
                   "Permission denied: ShutdownGuests needs root" +
                       (r < 0 ? std::string("; the caller's user id is unknown.")
                              : "; the caller runs as uid " + std::to_string(euid) + ".")};
}

int appendResult(sd_bus_message* reply, const HostShutdownResult& result) {
    int r = 0;
    for (const auto* list : {&result.stopped, &result.killed}) {
        if ((r = sd_bus_message_open_container(reply, 'a', "s")) < 0) return r;
        for (const auto& name : *list)
            if ((r = sd_bus_message_append(reply, "s", name.c_str())) < 0) return r;
        if ((r = sd_bus_message_close_container(reply)) < 0) return r;
    }
    return r;
}

}  // namespace

struct HostShutdownService::Callbacks {
    static int shutdownGuests(sd_bus_message* m, void* userdata, sd_bus_error* error) {
        auto& self = *static_cast<HostShutdownService*>(userdata);
        if (auto refused = refuseUnlessRoot(m)) return setError(error, *refused);
        auto call = std::make_shared<PendingCall>(self.loop_, m);
        self.waiting_.push_back([call](const HostShutdownResult& result) {
            call->values([&](sd_bus_message* reply) { return appendResult(reply, result); });
        });
        // A second caller while the phase runs gets the same answer.
        if (self.waiting_.size() > 1) return 1;
        std::vector<Instance*> instances;
        for (Vm* vm : self.registry_.all()) instances.push_back(&vm->lifecycle());
        self.phase_ = std::make_unique<HostShutdown>(
            std::move(instances), self.clock_, self.policy_.shutdownTimeout, self.log_,
            [&self](const HostShutdownResult& result) {
                auto waiting = std::exchange(self.waiting_, {});
                for (auto& reply : waiting) reply(result);
            },
            self.saver());
        return 1;
    }

    static int getShutdownTimeout(sd_bus*, const char*, const char*, const char*,
                                  sd_bus_message* reply, void* userdata, sd_bus_error*) {
        auto& self = *static_cast<HostShutdownService*>(userdata);
        auto usec =
            std::chrono::duration_cast<std::chrono::microseconds>(self.policy_.shutdownTimeout)
                .count();
        return sd_bus_message_append(reply, "t", static_cast<std::uint64_t>(usec));
    }
};

namespace {

const sd_bus_vtable kHostVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("ShutdownTimeoutUSec", "t", HostShutdownService::Callbacks::getShutdownTimeout,
                    0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_METHOD_WITH_ARGS(
        "ShutdownGuests", SD_BUS_NO_ARGS, SD_BUS_RESULT("as", stopped, "as", killed),
        HostShutdownService::Callbacks::shutdownGuests, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END};

}  // namespace

HostShutdownService::HostShutdownService(std::shared_ptr<BusLoop> loop, Registry& registry,
                                         Clock& clock, HostPolicy policy, LogSink log)
    : loop_(std::move(loop)),
      registry_(registry),
      clock_(clock),
      policy_(policy),
      log_(std::move(log)) {
    int r = sd_bus_add_object_vtable(loop_->bus(), &slot_, kManagerPath, kHostInterface,
                                     kHostVtable, this);
    if (r < 0) throw std::runtime_error("cannot register org.corral1.Host");
}

HostShutdownService::~HostShutdownService() {
    sd_bus_slot_unref(slot_);
}

HostShutdown::Saver HostShutdownService::saver() {
    if (!policy_.suspend) return {};
    return [this](const std::string& name, Done done) {
        Vm* vm = registry_.find(name);
        if (!vm) return done(OpError{ErrorKind::NoSuchInstance, name + " is gone"});
        vm->save(SaveReason::HostShutdown, std::move(done));
    };
}

}  // namespace corral::supervisor
