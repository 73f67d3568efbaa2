#include "supervisor/registry.hpp"

#include <algorithm>
#include <set>
#include <system_error>

#include "hypervisor/instance_name.hpp"

namespace corral::supervisor {

namespace fs = std::filesystem;

Registry::Registry(fs::path directory, Factory factory, LogSink log)
    : directory_(std::move(directory)), factory_(std::move(factory)), log_(std::move(log)) {}

Vm* Registry::find(std::string_view name) const {
    auto it = vms_.find(name);
    return it == vms_.end() ? nullptr : it->second.get();
}

std::vector<Vm*> Registry::all() const {
    std::vector<Vm*> out;
    for (const auto& [name, vm] : vms_) out.push_back(vm.get());
    return out;
}

namespace {

std::vector<fs::path> definitionFiles(const fs::path& dir, std::string& problem) {
    std::vector<fs::path> files;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
        problem = "cannot read instances directory " + dir.string() + ": " + ec.message();
        return files;
    }
    for (const auto& entry : it)
        if (entry.path().extension() == ".toml") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

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
    std::string problem;
    auto files = definitionFiles(directory_, problem);
    if (!problem.empty()) log_(4, problem);

    std::set<std::string, std::less<>> seen;
    for (const auto& file : files) {
        auto result = hypervisor::loadInstanceSpec(file);
        std::string name = result.spec ? result.spec->name : file.stem().string();
        if (auto why = hypervisor::checkInstanceName(name)) {
            log_(3, "ignoring " + file.string() + ": " + *why);
            continue;
        }
        if (!seen.insert(name).second) {
            log_(3, "ignoring " + file.string() + ": instance " + name + " is already defined");
            continue;
        }
        if (!result.ok()) {
            ++summary.invalid;
            log_(3, name + ": invalid definition: " + firstProblem(result));
        }
        if (auto* vm = find(name)) {
            vm->redefine(result);
            ++summary.reloaded;
            redefined_.emit(*vm);
            continue;
        }
        auto vm = factory_(name, result);
        auto& ref = *vm;
        vms_.emplace(name, std::move(vm));
        ++summary.added;
        added_.emit(ref);
    }

    for (auto it = vms_.begin(); it != vms_.end();) {
        auto state = it->second->lifecycle().state();
        bool idle = state == State::Stopped || state == State::Crashed || state == State::Invalid;
        if (seen.count(it->first) || !idle) {
            if (!seen.count(it->first))
                log_(4, it->first + ": definition removed; kept until the VM stops");
            ++it;
            continue;
        }
        removing_.emit(*it->second);
        log_(6, it->first + ": definition removed");
        it = vms_.erase(it);
        ++summary.removed;
    }
    return summary;
}

}  // namespace corral::supervisor
