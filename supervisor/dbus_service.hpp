// The D-Bus face of corrald: org.corral1.Manager at /org/corral1 (with ObjectManager) and one
// org.corral1.Instance object per VM, served from a fallback vtable and a node enumerator.
// It only translates: every decision is made by Registry, Instance and Vm.
#pragma once

#include <systemd/sd-bus.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "supervisor/bus_loop.hpp"
#include "supervisor/registry.hpp"

namespace corral::supervisor {

struct InstanceRef;

inline constexpr const char* kBusName = "org.corral1";
inline constexpr const char* kManagerPath = "/org/corral1";
inline constexpr const char* kManagerInterface = "org.corral1.Manager";
inline constexpr const char* kInstancePrefix = "/org/corral1/instance";
inline constexpr const char* kInstanceInterface = "org.corral1.Instance";

// "/org/corral1/instance/<sd_bus_path_encode(name)>".
std::string instancePath(const std::string& name);

class DbusService {
  public:
    // Registers the objects on the bus (not yet the name) and hooks the registry's listener
    // and every existing instance's observers. Throws std::runtime_error on sd-bus failures.
    DbusService(std::shared_ptr<BusLoop> loop, Registry& registry,
                std::filesystem::path runtimeDirectory);
    ~DbusService();
    DbusService(const DbusService&) = delete;
    DbusService& operator=(const DbusService&) = delete;

    // Takes the well-known name; call once the objects are complete (after reattach).
    void requestName();

    // sd-bus callbacks (static trampolines need access).
    struct Callbacks;

  private:
    void watch(Vm& vm);
    void emitInstanceChanged(Vm& vm, unsigned changed);
    void emitDevicesChanged(const std::string& name);
    void announce(Vm& vm);
    void retract(const std::string& name);

    std::shared_ptr<BusLoop> loop_;
    Registry& registry_;
    std::filesystem::path runtimeDirectory_;
    sd_bus_slot* managerSlot_ = nullptr;
    sd_bus_slot* instanceSlot_ = nullptr;
    sd_bus_slot* enumeratorSlot_ = nullptr;
    sd_bus_slot* objectManagerSlot_ = nullptr;
    // userdata of each instance object, by name; an entry exists exactly while the object does.
    std::map<std::string, std::unique_ptr<InstanceRef>> refs_;
};

}  // namespace corral::supervisor
