#include "supervisor/migration_remote.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>

#include "supervisor/dbus_service.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;

bool RemoteReply::definite() const {
    return errorName.rfind("org.corral1.Error.", 0) == 0 ||
           errorName == "org.freedesktop.DBus.Error.ServiceUnknown" ||
           errorName == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
           errorName == "org.freedesktop.DBus.Error.UnknownMethod" ||
           errorName == "org.freedesktop.DBus.Error.UnknownObject";
}

Outcome<std::shared_ptr<RemoteCorrald>> RemoteCorrald::open(asio::io_context& io,
                                                            const std::string& destination) {
    sd_bus* bus = nullptr;
    int r = 0;
    bool address = destination.find('=') != std::string::npos;
    if (address) {
        if ((r = sd_bus_new(&bus)) >= 0 &&
            (r = sd_bus_set_address(bus, destination.c_str())) >= 0 &&
            (r = sd_bus_set_bus_client(bus, 1)) >= 0)
            r = sd_bus_start(bus);
    } else {
        r = sd_bus_open_system_remote(&bus, destination.c_str());
    }
    if (r < 0) {
        sd_bus_unref(bus);
        return OpError{ErrorKind::InvalidArgument,
                       "Migrate: cannot connect to " + destination + ": " + std::strerror(-r)};
    }
    try {
        return std::shared_ptr<RemoteCorrald>(new RemoteCorrald(io, bus));
    } catch (const std::exception& e) {
        sd_bus_flush_close_unref(bus);
        return OpError{ErrorKind::Failed,
                       "Migrate: cannot connect to " + destination + ": " + e.what()};
    }
}

RemoteCorrald::RemoteCorrald(asio::io_context& io, sd_bus* bus)
    : io_(io), bus_(bus), loop_(BusLoop::attach(io, bus)) {
    sd_bus_match_signal_async(bus_, ownerSlot_.put(), "org.freedesktop.DBus",
                              "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                              onOwnerChanged, nullptr, this);
    sd_bus_match_signal_async(bus_, disconnectSlot_.put(), "org.freedesktop.DBus.Local",
                              "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                              "Disconnected", onDisconnected, nullptr, this);
    loop_->kick();
}

RemoteCorrald::~RemoteCorrald() {
    *alive_ = false;
    ownerSlot_.reset();
    disconnectSlot_.reset();
    loop_->detach();
    loop_.reset();
    // Never waits for a peer that stopped reading; ends an ssh the connection started, too.
    sd_bus_close_unref(bus_);
}

int RemoteCorrald::onOwnerChanged(sd_bus_message* m, void* userdata, sd_bus_error*) {
    const char *name = nullptr, *before = nullptr, *after = nullptr;
    if (sd_bus_message_read(m, "sss", &name, &before, &after) < 0) return 0;
    auto* self = static_cast<RemoteCorrald*>(userdata);
    if (std::strcmp(name, kBusName) == 0 && (!after || !*after) && !self->goneRaised_) {
        self->goneRaised_ = true;
        asio::post(self->io_, [self, alive = std::weak_ptr<bool>(self->alive_)] {
            if (alive.lock()) self->gone_.emit();
        });
    }
    return 0;
}

int RemoteCorrald::onDisconnected(sd_bus_message*, void* userdata, sd_bus_error*) {
    auto* self = static_cast<RemoteCorrald*>(userdata);
    if (!self->goneRaised_) {
        self->goneRaised_ = true;
        asio::post(self->io_, [self, alive = std::weak_ptr<bool>(self->alive_)] {
            if (alive.lock()) self->gone_.emit();
        });
    }
    return 0;
}

namespace {

struct PendingRemote {
    std::function<void(RemoteReply)> complete;
};

int onReply(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* pending = static_cast<PendingRemote*>(userdata);
    RemoteReply reply;
    if (sd_bus_message_is_method_error(m, nullptr)) {
        const sd_bus_error* error = sd_bus_message_get_error(m);
        reply.errorName = error && error->name ? error->name : "unknown";
        reply.errorMessage = error && error->message ? error->message : "";
    } else {
        reply.message.reset(sd_bus_message_ref(m));
    }
    pending->complete(std::move(reply));
    return 0;
}

void freePending(void* userdata) {
    delete static_cast<PendingRemote*>(userdata);
}

}  // namespace

asio::awaitable<RemoteReply> RemoteCorrald::call(std::string method,
                                                 std::function<int(sd_bus_message*)> append,
                                                 std::chrono::milliseconds timeout) {
    auto initiate = [this, method, append, timeout](auto handler) {
        using Handler = decltype(handler);
        auto shared = std::make_shared<Handler>(std::move(handler));
        auto once = std::make_shared<bool>(false);
        auto complete = [shared, once, &io = io_](RemoteReply reply) {
            if (std::exchange(*once, true)) return;
            asio::post(
                io, [shared, reply = std::move(reply)]() mutable { (*shared)(std::move(reply)); });
        };
        auto fail = [&](int r, const char* what) {
            RemoteReply reply;
            reply.errorName = "local";
            reply.errorMessage = std::string(what) + ": " + std::strerror(-r);
            complete(std::move(reply));
        };
        MessageRef message;
        int r = sd_bus_message_new_method_call(bus_, message.put(), kBusName, kManagerPath,
                                               kManagerInterface, method.c_str());
        if (r < 0) return fail(r, "cannot build the call");
        if ((r = append(message.get())) < 0) return fail(r, "cannot build the call");
        auto* pending = new PendingRemote{complete};
        sd_bus_slot* slot = nullptr;
        r = sd_bus_call_async(bus_, &slot, message.get(), onReply, pending,
                              static_cast<std::uint64_t>(timeout.count()) * 1000);
        if (r < 0) {
            delete pending;
            return fail(r, "cannot send the call");
        }
        // Floating: the slot lives until the reply (or the timeout, or the bus closing) came,
        // and frees `pending` then.
        sd_bus_slot_set_destroy_callback(slot, freePending);
        sd_bus_slot_set_floating(slot, 1);
        sd_bus_slot_unref(slot);
        loop_->kick();
    };
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(RemoteReply)>(
        initiate, asio::use_awaitable);
}

}  // namespace corral::supervisor
