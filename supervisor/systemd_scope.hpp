// Under systemd every qemu goes into its own transient scope, corral-<name>.scope in
// machine.slice (as libvirt and Proxmox do): restarting corrald.service then never touches a VM,
// and the instance's [resources] become the scope's MemoryMax / CPUWeight.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "hypervisor/instance_spec.hpp"
#include "supervisor/bus_loop.hpp"
#include "supervisor/instance.hpp"

namespace corral::supervisor {

class ScopeManager {
  public:
    // nullptr when systemd is not the init system or its bus cannot be reached (VMs then simply
    // stay in corrald's cgroup; they still survive a corrald restart).
    static std::unique_ptr<ScopeManager> connect(boost::asio::io_context& io, LogSink log);
    ~ScopeManager();
    ScopeManager(const ScopeManager&) = delete;
    ScopeManager& operator=(const ScopeManager&) = delete;

    // Asks systemd (asynchronously) to create the scope with `pid` in it; logs the outcome.
    void place(const std::string& name, pid_t pid, const hypervisor::ResourcesSpec& resources);

  private:
    ScopeManager(std::shared_ptr<BusLoop> loop, LogSink log);
    std::shared_ptr<BusLoop> loop_;
    LogSink log_;
};

}  // namespace corral::supervisor
