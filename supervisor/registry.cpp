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

    // The file an instance already came from stays its file when another one claims its name.
    std::map<std::string, std::pair<fs::path, hypervisor::LoadResult>, std::less<>> chosen;
    for (const auto& file : files) {
        auto result = hypervisor::loadInstanceSpec(file);
        std::string name = result.spec ? result.spec->name : file.stem().string();
        if (auto why = hypervisor::checkInstanceName(name)) {
            log_(3, "ignoring " + file.string() + ": " + *why);
            continue;
        }
        auto it = chosen.find(name);
        if (it == chosen.end()) {
            chosen.emplace(name, std::pair{file, std::move(result)});
            continue;
        }
        auto ignored = file;
        if (fileOf(name) == file) {
            ignored = it->second.first;
            it->second = {file, std::move(result)};
        }
        log_(3, "ignoring " + ignored.string() + ": instance " + name + " is already defined");
    }

    std::set<std::string, std::less<>> seen;
    for (auto& [name, found] : chosen) {
        auto& [file, result] = found;
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
