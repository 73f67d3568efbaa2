// Shared between the two halves of DbusService (manager and instance objects); not public API.
#pragma once

#include <systemd/sd-bus.h>

#include <string>

#include "supervisor/dbus_service.hpp"

namespace corral::supervisor {

// userdata of an instance object: resolved by the fallback vtable's find callback.
struct InstanceRef {
    DbusService* service;
    Vm* vm;
    std::shared_ptr<BusLoop> loop;
};

extern const sd_bus_vtable kManagerVtable[];
extern const sd_bus_vtable kInstanceVtable[];

// Instance.GuestInfo() (dbus_guest_info.cpp).
int methodGuestInfo(sd_bus_message* m, void* userdata, sd_bus_error* error);

}  // namespace corral::supervisor
