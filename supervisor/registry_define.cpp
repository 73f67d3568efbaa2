// Registry::define / update / undefine: one instance file written or removed and the registry
// changed in the same step, so that what Reload later reads is what the registry already has.
#include <algorithm>
#include <set>
#include <system_error>

#include "hypervisor/runtime_dir.hpp"
#include "supervisor/definition_check.hpp"
#include "supervisor/definition_store.hpp"
#include "supervisor/registry.hpp"
#include "supervisor/storage_dirs.hpp"

namespace corral::supervisor {

namespace fs = std::filesystem;

namespace {

bool hasQemu(State state) {
    return state == State::Starting || state == State::Running || state == State::Paused ||
           state == State::ShuttingDown;
}

OpError storeFailure(const StoreError& error) {
    return {error.what == StoreError::What::Exists ? ErrorKind::Exists : ErrorKind::Failed,
            error.message};
}

}  // namespace

Outcome<Vm*> Registry::define(std::string_view name, std::string_view text) {
    auto file = directory_ / (std::string(name) + ".toml");
    auto spec = checkDefinition(name, text, file);
    if (!spec) return spec.error();
    if (find(name)) {
        return OpError{ErrorKind::Exists, "An instance named " + std::string(name) +
                                              " exists already; change it with Update."};
    }
    if (auto error = writeDefinitionFile(file, text, Replace::No)) {
        if (error->what == StoreError::What::Exists)
            error->message += "; call Reload to load it, or remove it first";
        return storeFailure(*error);
    }
    hypervisor::LoadResult definition;
    definition.spec = std::move(spec.value());
    log_(6, std::string(name) + ": defined in " + file.string());
    return &add(std::string(name), definition, file);
}

Outcome<std::vector<std::string>> Registry::update(Vm& vm, std::string_view text) {
    auto file = fileOf(vm.name());
    auto spec = checkDefinition(vm.name(), text, file);
    if (!spec) return spec.error();
    std::vector<std::string> pending;
    const auto* active = vm.activeSpec();
    if (hasQemu(vm.lifecycle().state()) && active) pending = changedKeys(*active, spec.value());
    if (auto error = writeDefinitionFile(file, text, Replace::Yes)) return storeFailure(*error);
    hypervisor::LoadResult definition;
    definition.spec = std::move(spec.value());
    vm.redefine(definition);
    // Limits are the one part a running VM takes at once (its scope's MemoryMax, CPUWeight).
    auto isResource = [](const std::string& key) { return key.starts_with("resources."); };
    if (std::any_of(pending.begin(), pending.end(), isResource) &&
        vm.applyResources(definition.spec->resources))
        std::erase_if(pending, isResource);
    redefined_.emit(vm);
    std::string keys;
    for (const auto& key : pending) keys += (keys.empty() ? "" : ", ") + key;
    log_(6,
         vm.name() + ": definition updated" + (keys.empty() ? "" : "; at the next start: " + keys));
    return pending;
}

Outcome<std::vector<std::string>> Registry::undefine(Vm& vm, bool removeStorage) {
    auto state = vm.lifecycle().state();
    if (state != State::Stopped && state != State::Crashed && state != State::Invalid) {
        return OpError{ErrorKind::InvalidState,
                       vm.name() + " is " + toString(state) + "; shut it down before Undefine."};
    }
    std::string name = vm.name();
    if (auto error = removeDefinitionFile(fileOf(name))) return storeFailure(*error);
    std::vector<std::string> removed;
    if (removeStorage) removed = removeImages(vm);
    // A later Define of the name must not restore another guest's memory.
    if (auto saved = vm.discardSavedState()) removed.push_back(*saved);
    if (removeStorage && !settings_.stateRoot.empty()) {
        auto dir = settings_.stateRoot / name;
        std::error_code ec;
        if (fs::remove_all(dir, ec) > 0 && !ec) removed.push_back(dir.string());
        if (ec)
            log_(4, name + ": remove_storage: cannot delete " + dir.string() + ": " + ec.message());
    }
    if (!settings_.runtimeRoot.empty())
        hypervisor::removeRuntimeDir(
            hypervisor::RuntimePaths::forInstance(settings_.runtimeRoot, name));
    log_(6, name + ": undefined");
    drop(name);
    return removed;
}

std::vector<std::string> Registry::removeImages(const Vm& vm) {
    const auto* spec = vm.activeSpec();
    if (!spec) {
        log_(4, vm.name() +
                    ": remove_storage: the definition is invalid, so it names no disk "
                    "images; nothing deleted");
        return {};
    }
    // An image another definition names is never deleted with this one.
    std::set<fs::path> shared;
    for (const auto& [name, entry] : vms_) {
        if (entry.vm.get() == &vm || !entry.vm->activeSpec()) continue;
        std::error_code ec;
        for (const auto& image : diskImages(*entry.vm->activeSpec()))
            if (auto real = fs::canonical(image, ec); !ec) shared.insert(real);
    }
    std::vector<std::string> removed;
    for (const auto& image : diskImages(*spec)) {
        auto inside = imageInStorage(image, settings_.storageDirs);
        std::error_code ec;
        if (!inside) {
            log_(5, vm.name() + ": remove_storage: kept " + image.string() +
                        ": not a file inside [storage] allowed_dirs");
        } else if (shared.count(*inside)) {
            log_(5, vm.name() + ": remove_storage: kept " + inside->string() +
                        ": another instance's definition names it");
        } else if (!fs::remove(*inside, ec) || ec) {
            log_(4, vm.name() + ": remove_storage: cannot delete " + inside->string() + ": " +
                        (ec ? ec.message() : "it is gone"));
        } else {
            removed.push_back(inside->string());
        }
    }
    return removed;
}

Outcome<std::string> Registry::definitionText(const Vm& vm) const {
    std::string problem;
    auto text = readDefinitionFile(fileOf(vm.name()), problem);
    if (!text) return OpError{ErrorKind::Failed, problem + "."};
    return std::move(*text);
}

}  // namespace corral::supervisor
