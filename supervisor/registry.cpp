#include "supervisor/registry.hpp"

#include <algorithm>
#include <set>
#include <system_error>

#include "hypervisor/definition_dir.hpp"

namespace corral::supervisor {

namespace fs = std::filesystem;

Registry::Registry(fs::path directory, Factory factory, LogSink log)
    : directory_(std::move(directory)), factory_(std::move(factory)), log_(std::move(log)) {}

Vm* Registry::find(std::string_view name) const {
    auto it = vms_.find(name);
    return it == vms_.end() ? nullptr : it->second.vm.get();
}

std::vector<Vm*> Registry::all() const {
    std::vector<Vm*> out;
    for (const auto& [name, entry] : vms_) out.push_back(entry.vm.get());
    return out;
}

fs::path Registry::fileOf(std::string_view name) const {
    auto it = vms_.find(name);
    return it == vms_.end() ? directory_ / (std::string(name) + ".toml") : it->second.file;
}

Vm& Registry::add(const std::string& name, const hypervisor::LoadResult& definition,
                  fs::path file) {
    auto vm = factory_(name, definition);
    auto& ref = *vm;
    vms_.emplace(name, Entry{std::move(vm), std::move(file)});
    added_.emit(ref);
    return ref;
}

void Registry::drop(const std::string& name) {
    auto it = vms_.find(name);
    if (it == vms_.end()) return;
    removing_.emit(*it->second.vm);
    vms_.erase(it);
}

namespace {

std::string firstProblem(const hypervisor::LoadResult& result) {
    if (result.diagnostics.empty()) return "invalid definition";
    std::string text = result.diagnostics.front().format();
    if (result.diagnostics.size() > 1)
        text += " (and " + std::to_string(result.diagnostics.size() - 1) + " more)";
    return text;
}

}  // namespace

Registry::Summary Registry::reload() {
    Summary summary;
    // The file an instance already came from stays its file when another one claims its name.
    auto scan = hypervisor::scanDefinitions(
        directory_,
        [this](const std::string& name, const fs::path& file) { return fileOf(name) == file; });
    if (!scan.problem.empty()) log_(4, scan.problem);
    for (const auto& ignored : scan.ignored)
        log_(3, "ignoring " + ignored.file.string() + ": " + ignored.reason);
    if (scan.ignored != ignored_) {
        ignored_ = std::move(scan.ignored);
        ignoredChanged_.emit();
    }

    std::set<std::string, std::less<>> seen;
    for (auto& [name, file, result] : scan.definitions) {
        seen.insert(name);
        if (!result.ok()) {
            ++summary.invalid;
            log_(3, name + ": invalid definition: " + firstProblem(result));
        }
        if (auto it = vms_.find(name); it != vms_.end()) {
            it->second.file = file;
            it->second.vm->redefine(result);
            ++summary.reloaded;
            redefined_.emit(*it->second.vm);
            continue;
        }
        add(name, result, file);
        ++summary.added;
    }

    for (auto it = vms_.begin(); it != vms_.end();) {
        auto state = it->second.vm->lifecycle().state();
        bool idle = state == State::Stopped || state == State::Crashed || state == State::Invalid;
        if (seen.count(it->first) || !idle) {
            if (!seen.count(it->first))
                log_(4, it->first + ": definition removed; kept until the VM stops");
            ++it;
            continue;
        }
        removing_.emit(*it->second.vm);
        log_(6, it->first + ": definition removed");
        it = vms_.erase(it);
        ++summary.removed;
    }
    return summary;
}

}  // namespace corral::supervisor
