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

#include "common/signal.hpp"
#include "hypervisor/instance_spec.hpp"
#include "supervisor/instance.hpp"
#include "supervisor/vm.hpp"

namespace corral::supervisor {

class Registry {
  public:
    // Makes the Vm for a name seen for the first time (definition valid or not).
    using Factory = std::function<std::unique_ptr<Vm>(const std::string& name,
                                                      const hypervisor::LoadResult& definition)>;

    Registry(std::filesystem::path directory, Factory factory, LogSink log);

    // Changes of the set of instances, to any number of subscribers (D-Bus, metrics, an event
    // log). `added`: the Vm is complete (definition applied, initial state set) and findable.
    Signal<Vm&>& added() { return added_; }
    // The Vm is still findable while this runs and is destroyed right after.
    Signal<Vm&>& removing() { return removing_; }
    // Vm::redefine ran with the file's new contents.
    Signal<Vm&>& redefined() { return redefined_; }

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
    Signal<Vm&> added_;
    Signal<Vm&> removing_;
    Signal<Vm&> redefined_;
    std::map<std::string, std::unique_ptr<Vm>, std::less<>> vms_;
};

}  // namespace corral::supervisor
