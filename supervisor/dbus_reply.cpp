#include "supervisor/dbus_reply.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace corral::supervisor {

PendingCall::PendingCall(std::shared_ptr<BusLoop> loop, sd_bus_message* call)
    : loop_(std::move(loop)), call_(sd_bus_message_ref(call), sd_bus_message_unref) {}

void PendingCall::send(sd_bus_message* reply) const {
    int r = sd_bus_send(sd_bus_message_get_bus(call_.get()), reply, nullptr);
    if (r < 0) std::fprintf(stderr, "<4>cannot send D-Bus reply: %s\n", std::strerror(-r));
    sd_bus_message_unref(reply);
    loop_->kick();
}

void PendingCall::error(const OpError& error) const {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_error_set(&e, dbusErrorName(error.kind), error.message.c_str());
    sd_bus_reply_method_error(call_.get(), &e);
    sd_bus_error_free(&e);
    loop_->kick();
}

void PendingCall::empty() const {
    sd_bus_reply_method_return(call_.get(), "");
    loop_->kick();
}

void PendingCall::string(const std::string& value) const {
    sd_bus_reply_method_return(call_.get(), "s", value.c_str());
    loop_->kick();
}

void PendingCall::strings(const std::vector<std::string>& values) const {
    sd_bus_message* reply = nullptr;
    if (sd_bus_message_new_method_return(call_.get(), &reply) < 0) return;
    sd_bus_message_open_container(reply, 'a', "s");
    for (const auto& value : values) sd_bus_message_append(reply, "s", value.c_str());
    sd_bus_message_close_container(reply);
    send(reply);
}

void PendingCall::values(const std::function<int(sd_bus_message*)>& append) const {
    sd_bus_message* reply = nullptr;
    if (sd_bus_message_new_method_return(call_.get(), &reply) < 0) return;
    if (int r = append(reply); r < 0) {
        sd_bus_message_unref(reply);
        return error(
            {ErrorKind::Failed, std::string("cannot build the reply: ") + std::strerror(-r)});
    }
    send(reply);
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
