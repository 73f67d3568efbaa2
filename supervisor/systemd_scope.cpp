#include "supervisor/systemd_scope.hpp"

#include <cstdint>
#include <cstring>
#include <filesystem>

namespace corral::supervisor {

namespace {

std::string unitOf(const std::string& name) {
    return "corral-" + name + ".scope";
}

constexpr const char* kGuestsUnit = "corral-guests.service";

}  // namespace

std::unique_ptr<ScopeManager> ScopeManager::connect(boost::asio::io_context& io, LogSink log) {
    if (!std::filesystem::exists("/run/systemd/system")) {
        log(6, "systemd is not the init system: VMs get no scope and no machined registration");
        return nullptr;
    }
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
    : loop_(std::move(loop)),
      log_(std::move(log)),
      machined_(
          loop_->bus(), [loop = loop_.get()] { loop->kick(); }, log_) {
    // systemd sends JobRemoved to the client that queued the job, subscribed or not.
    int r = sd_bus_match_signal_async(
        loop_->bus(), &jobMatch_, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager", "JobRemoved", onJobRemoved, nullptr, this);
    if (r < 0)
        log_(4, std::string("cannot watch systemd's jobs (") + std::strerror(-r) +
                    "): VMs will not be registered with systemd-machined");
}

ScopeManager::~ScopeManager() {
    sd_bus_slot_unref(jobMatch_);
    loop_->detach();
}

int ScopeManager::onJobRemoved(sd_bus_message* m, void* userdata, sd_bus_error*) {
    std::uint32_t id = 0;
    const char *job = nullptr, *unit = nullptr, *result = nullptr;
    if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) >= 0)
        static_cast<ScopeManager*>(userdata)->jobRemoved(job, unit, result);
    return 0;
}

void ScopeManager::jobRemoved(const std::string& job, const std::string& unit,
                              const std::string& result) {
    auto it = waiting_.find(unit);
    if (it == waiting_.end() || it->second.job != job) return;
    auto machine = std::move(it->second.machine);
    waiting_.erase(it);
    if (result != "done") {
        log_(4, machine.name + ": " + unit + " did not start (" + result +
                    "); not registered with systemd-machined");
        return;
    }
    log_(6, "qemu (pid " + std::to_string(machine.leader) + ") runs in " + unit);
    machined_.add(machine);
}

bool ScopeManager::callSystemd(int built, sd_bus_message* m, const std::string& what,
                               ReplyHandler onReply) {
    auto* handler = new ReplyHandler(std::move(onReply));
    auto handle = [](sd_bus_message* reply, void* userdata, sd_bus_error*) -> int {
        (*static_cast<ReplyHandler*>(userdata))(reply, sd_bus_message_get_error(reply));
        return 0;
    };
    sd_bus_slot* slot = nullptr;
    int r = built < 0 ? built : sd_bus_call_async(loop_->bus(), &slot, m, handle, handler, 0);
    sd_bus_message_unref(m);
    if (r < 0) {
        delete handler;
        log_(4, "cannot ask systemd to " + what + ": " + std::strerror(-r));
        return false;
    }
    // The slot owns the handler from now on and lives until the reply (or the bus) is gone.
    sd_bus_slot_set_destroy_callback(
        slot, [](void* userdata) { delete static_cast<ReplyHandler*>(userdata); });
    sd_bus_slot_set_floating(slot, 1);
    sd_bus_slot_unref(slot);
    loop_->kick();
    return true;
}

namespace {

std::string errorText(const sd_bus_error* error) {
    return error->message ? error->message : error->name;
}

}  // namespace

void ScopeManager::place(const MachineIdentity& machine,
                         const hypervisor::ResourcesSpec& resources) {
    auto unit = unitOf(machine.name);
    auto pid = machine.leader;
    sd_bus_message* m = nullptr;
    int r = sd_bus_message_new_method_call(
        loop_->bus(), &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager", "StartTransientUnit");
    if (r >= 0) r = sd_bus_message_append(m, "ss", unit.c_str(), "fail");
    if (r >= 0) r = sd_bus_message_open_container(m, 'a', "(sv)");
    auto description = "corral VM " + machine.name;
    if (r >= 0) r = sd_bus_message_append(m, "(sv)", "Description", "s", description.c_str());
    if (r >= 0) r = sd_bus_message_append(m, "(sv)", "Slice", "s", "machine.slice");
    if (r >= 0) r = sd_bus_message_append(m, "(sv)", "PIDs", "au", 1, static_cast<uint32_t>(pid));
    if (r >= 0) r = sd_bus_message_append(m, "(sv)", "CollectMode", "s", "inactive-or-failed");
    // Stop order is start order reversed: at host shutdown systemd stops this scope only after
    // corral-guests.service has stopped, i.e. after corrald's graceful shutdown of every VM.
    if (r >= 0) r = sd_bus_message_append(m, "(sv)", "Before", "as", 1, kGuestsUnit);
    if (r >= 0 && resources.memoryMax)
        r = sd_bus_message_append(m, "(sv)", "MemoryMax", "t", *resources.memoryMax);
    if (r >= 0 && resources.cpuWeight)
        r = sd_bus_message_append(m, "(sv)", "CPUWeight", "t", uint64_t{*resources.cpuWeight});
    if (r >= 0) r = sd_bus_message_close_container(m);
    if (r >= 0) r = sd_bus_message_append(m, "a(sa(sv))", 0);
    // The reply: the job path to wait for (jobRemoved), or the reason there is none.
    auto onReply = [this, unit, pid](sd_bus_message* reply, const sd_bus_error* error) {
        auto it = waiting_.find(unit);
        const char* job = nullptr;
        if (error) {
            log_(4, "cannot move qemu (pid " + std::to_string(pid) + ") into " + unit + ": " +
                        errorText(error) + "; not registered with systemd-machined");
            if (it != waiting_.end()) waiting_.erase(it);
        } else if (sd_bus_message_read(reply, "o", &job) >= 0 && it != waiting_.end()) {
            it->second.job = job;
        }
    };
    if (callSystemd(r, m, "create " + unit, std::move(onReply)))
        waiting_[unit] = Waiting{machine, ""};
}

void ScopeManager::setResources(const std::string& name,
                                const hypervisor::ResourcesSpec& resources) {
    auto unit = unitOf(name);
    sd_bus_message* m = nullptr;
    int r = sd_bus_message_new_method_call(loop_->bus(), &m, "org.freedesktop.systemd1",
                                           "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "SetUnitProperties");
    if (r >= 0) r = sd_bus_message_append(m, "sb", unit.c_str(), 1);
    if (r >= 0) r = sd_bus_message_open_container(m, 'a', "(sv)");
    // UINT64_MAX: MemoryMax=infinity, CPUWeight unset (systemd's default).
    if (r >= 0)
        r = sd_bus_message_append(m, "(sv)", "MemoryMax", "t",
                                  resources.memoryMax.value_or(UINT64_MAX));
    if (r >= 0)
        r = sd_bus_message_append(
            m, "(sv)", "CPUWeight", "t",
            resources.cpuWeight ? uint64_t{*resources.cpuWeight} : UINT64_MAX);
    if (r >= 0) r = sd_bus_message_close_container(m);
    callSystemd(r, m, "change " + unit, [this, unit](sd_bus_message*, const sd_bus_error* error) {
        if (error)
            log_(4, "cannot set the new [resources] on " + unit + ": " + errorText(error));
        else
            log_(6, unit + ": new [resources] set");
    });
}

void ScopeManager::startServiceUnit(const std::string& name) {
    auto unit = "corral@" + name + ".service";
    // "fail": never replaces a stop job someone queued; a start job in progress (the unit
    // started the VM) is simply joined.
    sd_bus_message* m = nullptr;
    int r = sd_bus_message_new_method_call(loop_->bus(), &m, "org.freedesktop.systemd1",
                                           "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "StartUnit");
    if (r >= 0) r = sd_bus_message_append(m, "ss", unit.c_str(), "fail");
    callSystemd(r, m, "start " + unit, [this, unit](sd_bus_message*, const sd_bus_error* error) {
        if (error) log_(6, "cannot start " + unit + " to follow the VM: " + errorText(error));
    });
}

void ScopeManager::adopt(const MachineIdentity& machine) {
    machined_.add(machine);
}

void ScopeManager::release(const std::string& name) {
    waiting_.erase(unitOf(name));
    machined_.remove(name);
}

}  // namespace corral::supervisor
