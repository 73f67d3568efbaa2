// Instance.Save and the HasSavedState property (managed save, supervisor/qemu_vm_save.cpp).
#include "supervisor/dbus_caller.hpp"
#include "supervisor/dbus_internal.hpp"
#include "supervisor/dbus_reply.hpp"

namespace corral::supervisor {

int methodSave(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    // Like Shutdown, it stops the VM: root or group corral.
    if (auto denied = checkCaller(m, "Save", Access::RootOrGroup)) return setError(error, *denied);
    auto& instance = *static_cast<InstanceRef*>(userdata);
    PendingCall call(instance.loop, m);
    instance.vm->save(SaveReason::Save, [call](Status s) { call.finish(s); });
    return 1;
}

int getHasSavedState(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                     void* userdata, sd_bus_error*) {
    auto& instance = *static_cast<InstanceRef*>(userdata);
    return sd_bus_message_append(reply, "b", static_cast<int>(instance.vm->hasSavedState()));
}

}  // namespace corral::supervisor
