// The instances defined by the *.toml files of the instances directory. Reload adds new files,
// redefines changed ones and drops removed ones that are not running.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/instance_spec.hpp"
#include "supervisor/instance.hpp"
#include "supervisor/vm.hpp"

namespace corral::supervisor {

class Registry {
  public:
    // Makes the Vm for a name seen for the first time (definition valid or not).
    using Factory = std::function<std::unique_ptr<Vm>(const std::string& name,
                                                      const hypervisor::LoadResult& definition)>;

    struct Listener {
        std::function<void(Vm&)> added;  // the Vm is complete and in the registry
        std::function<void(const std::string& name)> removed;
        std::function<void(Vm&)> redefined;
    };

    Registry(std::filesystem::path directory, Factory factory, LogSink log);

    void setListener(Listener listener) { listener_ = std::move(listener); }

    struct Summary {
        unsigned added = 0, reloaded = 0, removed = 0, invalid = 0;
    };
    // Rescans the directory. A file that cannot be read or parsed becomes an invalid instance;
    // the directory itself missing is reported once and treated as empty.
    Summary reload();

    Vm* find(std::string_view name) const;
    // Sorted by name.
    std::vector<Vm*> all() const;
    const std::filesystem::path& directory() const { return directory_; }

  private:
    std::filesystem::path directory_;
    Factory factory_;
    LogSink log_;
    Listener listener_;
    std::map<std::string, std::unique_ptr<Vm>, std::less<>> vms_;
};

}  // namespace corral::supervisor
