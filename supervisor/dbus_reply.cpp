#include "supervisor/dbus_reply.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "supervisor/dbus_ref.hpp"

namespace corral::supervisor {

namespace {

// A reply that cannot be built or sent has no caller left to tell: say so on the log.
void warn(int r, const char* what) {
    std::fprintf(stderr, "<4>cannot %s the D-Bus reply: %s\n", what, std::strerror(-r));
}

}  // namespace

PendingCall::PendingCall(std::shared_ptr<BusLoop> loop, sd_bus_message* call)
    : loop_(std::move(loop)), call_(sd_bus_message_ref(call), sd_bus_message_unref) {}

void PendingCall::reply(const std::function<int(sd_bus_message*)>& fill) const {
    MessageRef reply;
    int r = sd_bus_message_new_method_return(call_.get(), reply.put());
    if (r >= 0 && fill) r = fill(reply.get());
    if (r < 0) return warn(r, "build");
    send(reply.get());
}

void PendingCall::send(sd_bus_message* reply) const {
    int r = sd_bus_send(sd_bus_message_get_bus(call_.get()), reply, nullptr);
    if (r < 0) warn(r, "send");
    loop_->kick();
}

void PendingCall::error(const OpError& error) const {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    // Returns the errno the name maps to, not a failure: out of memory, `e` says so itself.
    (void)sd_bus_error_set(&e, dbusErrorName(error.kind), error.message.c_str());
    MessageRef reply;
    int r = sd_bus_message_new_method_error(call_.get(), reply.put(), &e);
    sd_bus_error_free(&e);
    if (r < 0) return warn(r, "build");
    send(reply.get());
}

void PendingCall::empty() const {
    reply({});
}

void PendingCall::string(const std::string& value) const {
    reply([&](sd_bus_message* m) { return sd_bus_message_append(m, "s", value.c_str()); });
}

void PendingCall::strings(const std::vector<std::string>& values) const {
    reply([&](sd_bus_message* m) {
        int r = sd_bus_message_open_container(m, 'a', "s");
        for (auto it = values.begin(); r >= 0 && it != values.end(); ++it)
            r = sd_bus_message_append(m, "s", it->c_str());
        return r < 0 ? r : sd_bus_message_close_container(m);
    });
}

void PendingCall::values(const std::function<int(sd_bus_message*)>& append) const {
    MessageRef reply;
    if (int r = sd_bus_message_new_method_return(call_.get(), reply.put()); r < 0)
        return warn(r, "build");
    if (int r = append(reply.get()); r < 0)
        return error(
            {ErrorKind::Failed, std::string("cannot build the reply: ") + std::strerror(-r)});
    send(reply.get());
}

void PendingCall::finish(const Status& status) const {
    if (!status) return error(status.error());
    empty();
}

void PendingCall::finish(const Outcome<std::string>& outcome) const {
    if (!outcome) return error(outcome.error());
    string(outcome.value());
}

void PendingCall::finish(const Outcome<std::vector<std::string>>& outcome) const {
    if (!outcome) return error(outcome.error());
    strings(outcome.value());
}

int setError(sd_bus_error* error, const OpError& op) {
    return sd_bus_error_set(error, dbusErrorName(op.kind), op.message.c_str());
}

}  // namespace corral::supervisor
