#include "supervisor/systemd_scope.hpp"

#include <cstring>
#include <filesystem>

namespace corral::supervisor {

namespace {

struct PlaceRequest {
    std::string unit;
    pid_t pid;
    LogSink log;
};

int onReply(sd_bus_message* reply, void* userdata, sd_bus_error*) {
    auto* request = static_cast<PlaceRequest*>(userdata);
    if (const sd_bus_error* error = sd_bus_message_get_error(reply))
        request->log(4, "cannot move qemu (pid " + std::to_string(request->pid) + ") into " +
                            request->unit + ": " + (error->message ? error->message : error->name));
    else
        request->log(6, "qemu (pid " + std::to_string(request->pid) + ") runs in " + request->unit);
    return 0;
}

void destroyRequest(void* userdata) {
    delete static_cast<PlaceRequest*>(userdata);
}

}  // namespace

std::unique_ptr<ScopeManager> ScopeManager::connect(boost::asio::io_context& io, LogSink log) {
    if (!std::filesystem::exists("/run/systemd/system")) return nullptr;
    sd_bus* bus = nullptr;
    if (sd_bus_open_system(&bus) < 0) {
        log(4, "systemd is running but its bus is not reachable; VMs stay in corrald's cgroup");
        return nullptr;
    }
    auto loop = BusLoop::attach(io, bus);
    sd_bus_unref(bus);
    return std::unique_ptr<ScopeManager>(new ScopeManager(std::move(loop), std::move(log)));
}

ScopeManager::ScopeManager(std::shared_ptr<BusLoop> loop, LogSink log)
    : loop_(std::move(loop)), log_(std::move(log)) {}

ScopeManager::~ScopeManager() {
    loop_->detach();
}

void ScopeManager::place(const std::string& name, pid_t pid,
                         const hypervisor::ResourcesSpec& resources) {
    sd_bus* bus = loop_->bus();
    auto unit = "corral-" + name + ".scope";
    sd_bus_message* m = nullptr;
    int r = sd_bus_message_new_method_call(
        bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager", "StartTransientUnit");
    if (r >= 0) r = sd_bus_message_append(m, "ss", unit.c_str(), "fail");
    if (r >= 0) r = sd_bus_message_open_container(m, 'a', "(sv)");
    auto description = "corral VM " + name;
    if (r >= 0) r = sd_bus_message_append(m, "(sv)", "Description", "s", description.c_str());
    if (r >= 0) r = sd_bus_message_append(m, "(sv)", "Slice", "s", "machine.slice");
    if (r >= 0) r = sd_bus_message_append(m, "(sv)", "PIDs", "au", 1, static_cast<uint32_t>(pid));
    if (r >= 0) r = sd_bus_message_append(m, "(sv)", "CollectMode", "s", "inactive-or-failed");
    if (r >= 0 && resources.memoryMax)
        r = sd_bus_message_append(m, "(sv)", "MemoryMax", "t", *resources.memoryMax);
    if (r >= 0 && resources.cpuWeight)
        r = sd_bus_message_append(m, "(sv)", "CPUWeight", "t", uint64_t{*resources.cpuWeight});
    if (r >= 0) r = sd_bus_message_close_container(m);
    if (r >= 0) r = sd_bus_message_append(m, "a(sa(sv))", 0);
    sd_bus_slot* slot = nullptr;
    auto* request = new PlaceRequest{unit, pid, log_};
    if (r >= 0) r = sd_bus_call_async(bus, &slot, m, onReply, request, 0);
    sd_bus_message_unref(m);
    if (r < 0) {
        delete request;
        log_(4, "cannot ask systemd for " + unit + ": " + std::strerror(-r));
        return;
    }
    // The slot owns the request from now on and lives until the reply (or the bus) is gone.
    sd_bus_slot_set_destroy_callback(slot, destroyRequest);
    sd_bus_slot_set_floating(slot, 1);
    sd_bus_slot_unref(slot);
    loop_->kick();
}

}  // namespace corral::supervisor
