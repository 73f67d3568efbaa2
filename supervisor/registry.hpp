// The instances defined by the *.toml files of the instances directory. Reload adds new files,
// redefines changed ones and drops removed ones that are not running; Define, Update and
// Undefine (registry_define.cpp) write or remove one file and change one instance at once.
// Everything runs on corrald's one thread, so a Define and a Reload never interleave.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/signal.hpp"
#include "hypervisor/definition_dir.hpp"
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
    // A reload changed ignoredFiles().
    Signal<>& ignoredChanged() { return ignoredChanged_; }

    struct Summary {
        unsigned added = 0, reloaded = 0, removed = 0, invalid = 0;
    };
    // Rescans the directory. A file that does not parse becomes an invalid instance; one that
    // defines no instance (a directory, a symlink loop, unreadable, a bad name, a name another
    // file defines) goes to ignoredFiles() with the reason; the directory itself missing is
    // reported once and treated as empty.
    Summary reload();

    // Where Undefine's remove_storage may delete disk images ([storage] allowed_dirs), and the
    // runtime root whose leftover directory of an undefined instance goes (empty: none).
    struct Settings {
        std::vector<std::filesystem::path> storageDirs;
        std::filesystem::path runtimeRoot;
        // Where the instances keep what outlives a run (UEFI variables): remove_storage deletes
        // <stateRoot>/<name>/ too (empty: none).
        std::filesystem::path stateRoot = {};
    };
    void configure(Settings settings) { settings_ = std::move(settings); }
    const Settings& settings() const { return settings_; }

    // Define(name, toml): checkDefinition, then <directory>/NAME.toml written (never replacing a
    // file), then the Vm added (`added` emitted). Exists when the name is taken or the file is
    // there; nothing is written on any error.
    Outcome<Vm*> define(std::string_view name, std::string_view text);
    // Update(toml): the same checks, the file replaced, Vm::redefine. The keys that wait for the
    // next start (empty when no qemu runs: the definition is in force at once).
    Outcome<std::vector<std::string>> update(Vm& vm, std::string_view text);
    // Undefine: refused unless stopped, crashed or invalid; the file removed, the Vm dropped
    // (`removing` emitted) with its runtime dir. With removeStorage, the disk images of its
    // definition inside a storage dir are deleted (and returned); others are kept and logged.
    Outcome<std::vector<std::string>> undefine(Vm& vm, bool removeStorage);
    // The text of the instance's file, byte for byte.
    Outcome<std::string> definitionText(const Vm& vm) const;
    // The file an instance was read from; <directory>/NAME.toml for a name not known.
    std::filesystem::path fileOf(std::string_view name) const;

    Vm* find(std::string_view name) const;
    // Sorted by name.
    std::vector<Vm*> all() const;
    const std::filesystem::path& directory() const { return directory_; }
    // The *.toml files the last reload ignored, sorted by path.
    const std::vector<hypervisor::IgnoredFile>& ignoredFiles() const { return ignored_; }

  private:
    struct Entry {
        std::unique_ptr<Vm> vm;
        std::filesystem::path file;
    };
    Vm& add(const std::string& name, const hypervisor::LoadResult& definition,
            std::filesystem::path file);
    void drop(const std::string& name);
    // Of a removeStorage: the images deleted; the kept ones and why go to the log.
    std::vector<std::string> removeImages(const Vm& vm);

    std::filesystem::path directory_;
    Factory factory_;
    LogSink log_;
    Signal<Vm&> added_;
    Signal<Vm&> removing_;
    Signal<Vm&> redefined_;
    Signal<> ignoredChanged_;
    std::vector<hypervisor::IgnoredFile> ignored_;
    Settings settings_;
    std::map<std::string, Entry, std::less<>> vms_;
};

}  // namespace corral::supervisor
