// Under systemd every qemu goes into its own transient scope, corral-<name>.scope in
// machine.slice (as libvirt and Proxmox do): restarting corrald.service then never touches a VM,
// and the instance's [resources] become the scope's MemoryMax / CPUWeight. Once the scope runs,
// the VM is registered with systemd-machined (machined.hpp).
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "hypervisor/instance_spec.hpp"
#include "supervisor/bus_loop.hpp"
#include "supervisor/instance.hpp"
#include "supervisor/machined.hpp"

namespace corral::supervisor {

class ScopeManager {
  public:
    // nullptr when systemd is not the init system or its bus cannot be reached (VMs then simply
    // stay in corrald's cgroup and are not registered with machined; they still survive a
    // corrald restart). Logs which.
    static std::unique_ptr<ScopeManager> connect(boost::asio::io_context& io, LogSink log);
    ~ScopeManager();
    ScopeManager(const ScopeManager&) = delete;
    ScopeManager& operator=(const ScopeManager&) = delete;

    // Asks systemd (asynchronously) to create the scope with the machine's leader in it; when
    // its start job is done, registers the machine with machined. Logs each outcome.
    void place(const MachineIdentity& machine, const hypervisor::ResourcesSpec& resources);
    // A qemu adopted at daemon start, already in its scope: registers it again.
    void adopt(const MachineIdentity& machine);
    // The VM's qemu ended: unregisters it.
    void release(const std::string& name);
    // A running VM's new [resources]: set on its scope at runtime (SetUnitProperties), a key
    // the definition no longer has back to systemd's default. Asynchronous; logs the outcome.
    void setResources(const std::string& name, const hypervisor::ResourcesSpec& resources);

    // Starts corral@NAME.service (asynchronously; StartUnit mode "fail"), so that a VM started
    // by corralctl, autostart or a crash restart has its unit active too: the unit's
    // `corralctl run` finds the VM running and follows it. Logs a refusal at info level.
    void startServiceUnit(const std::string& name);

  private:
    ScopeManager(std::shared_ptr<BusLoop> loop, LogSink log);
    static int onJobRemoved(sd_bus_message* m, void* userdata, sd_bus_error*);
    void jobRemoved(const std::string& job, const std::string& unit, const std::string& result);
    // Sends `m` (unref'd here) when `built` (the result of building it) is not an error; the
    // reply, or its error, goes to `onReply` on the loop. False, logged as "cannot ask systemd
    // to WHAT", when it could not be sent.
    using ReplyHandler = std::function<void(sd_bus_message* reply, const sd_bus_error* error)>;
    bool callSystemd(int built, sd_bus_message* m, const std::string& what, ReplyHandler onReply);

    std::shared_ptr<BusLoop> loop_;
    LogSink log_;
    Machined machined_;
    sd_bus_slot* jobMatch_ = nullptr;
    // Units whose start job is queued: the machine to register once it is done. The job path
    // comes with StartTransientUnit's reply ("" until then).
    struct Waiting {
        MachineIdentity machine;
        std::string job;
    };
    std::map<std::string, Waiting> waiting_;
};

}  // namespace corral::supervisor
