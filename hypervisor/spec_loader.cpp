// TOML -> InstanceSpec. Every problem becomes a Diagnostic at the toml++ source position of the
// offending key or value; loading goes on after an error so that one run reports them all.
#include <algorithm>
#include <map>
#include <tuple>

#include "hypervisor/device_options.hpp"
#include "hypervisor/instance_name.hpp"
#include "hypervisor/instance_spec.hpp"
#include "hypervisor/machine_uuid.hpp"
#include "hypervisor/slot_plan.hpp"
#include "hypervisor/spec_loader_boot.hpp"
#include "hypervisor/spec_loader_cpu.hpp"
#include "hypervisor/spec_loader_disks.hpp"
#include "hypervisor/spec_loader_display.hpp"
#include "hypervisor/spec_loader_tpm.hpp"
#include "hypervisor/toml_reader.hpp"

namespace corral::hypervisor {
namespace {

void loadMachine(TomlReader& l, const toml::table& t, MachineSpec& m) {
    Keys keys = {"type", "accel", "cpus", "memory", "hotplug_slots", "uuid"};
    keys.insert(keys.end(), kCpuKeys.begin(), kCpuKeys.end());
    l.checkKeys(t, keys, "[machine]");
    if (auto type = l.choice(t, "type", kMachineTypes)) m.type = *type;
    if (auto accel = l.choice(t, "accel", kAccels)) m.accel = *accel;
    l.integer(t, "cpus", 1, 255, m.cpus);
    l.size(t, "memory", 16ull << 20, m.memoryBytes);
    l.integer(t, "hotplug_slots", 0, 24, m.hotplugSlots);
    if (auto* v = l.get<std::string>(t, "uuid", "a string")) {
        if (auto bytes = parseUuid(v->get()))
            m.uuid = formatUuid(*bytes);
        else
            l.error(v->source(),
                    "uuid: expected a UUID such as \"2430af46-a0e4-48af-86b5-d6c00f20cbe7\" (32 "
                    "hex digits in groups of 8-4-4-4-12), got " +
                        inQuotes(v->get()));
    }
    loadCpu(l, t, m);
}

void loadBoot(TomlReader& l, const toml::table& root, const toml::table& t, InstanceSpec& spec) {
    l.checkKeys(t, {"kernel", "initrd", "cmdline", "order"}, "[boot]");
    if (loadBootOrder(l, root, t, spec)) return;
    BootSpec b;
    if (!t.contains("kernel"))
        l.error(t.source(), "[boot]: needs \"kernel\" (direct kernel boot) or \"order\"");
    l.readablePath(t, "kernel", b.kernel, TomlReader::PathKind::RegularFile);
    l.readablePath(t, "initrd", b.initrd, TomlReader::PathKind::RegularFile);
    if (auto* v = l.get<std::string>(t, "cmdline", "a string")) {
        if (v->get().size() > kMaxCmdlineBytes) {
            l.error(v->source(), "cmdline: " + std::to_string(v->get().size()) +
                                     " bytes is over the limit of " +
                                     std::to_string(kMaxCmdlineBytes) +
                                     " bytes (Linux truncates at COMMAND_LINE_SIZE, 2048 on x86 "
                                     "unless built larger)");
        } else {
            b.cmdline = v->get();
        }
    }
    spec.boot = b;
}

void loadLifecycle(TomlReader& l, const toml::table& t, LifecycleSpec& lc) {
    l.checkKeys(t, {"shutdown_timeout", "on_crash", "autostart"}, "[lifecycle]");
    if (auto* v = l.get<std::string>(t, "shutdown_timeout", "a duration string such as \"120s\"")) {
        if (auto d = parseDuration(v->get()); d && d->count() > 0) {
            lc.shutdownTimeout = *d;
        } else {
            l.error(v->source(),
                    "shutdown_timeout: expected a positive duration such as "
                    "\"120s\", \"500ms\" or \"2m\", got " +
                        inQuotes(v->get()));
        }
    }
    if (auto onCrash = l.choice(t, "on_crash", kOnCrash)) lc.onCrash = *onCrash;
    l.boolean(t, "autostart", lc.autostart);
}

void loadResources(TomlReader& l, const toml::table& t, ResourcesSpec& r) {
    l.checkKeys(t, {"memory_max", "cpu_weight"}, "[resources]");
    if (t.contains("memory_max")) {
        std::uint64_t bytes = 0;
        l.size(t, "memory_max", 16ull << 20, bytes);
        if (bytes) r.memoryMax = bytes;
    }
    if (t.contains("cpu_weight")) {
        unsigned weight = 0;
        l.integer(t, "cpu_weight", 1, 10000, weight);
        if (weight) r.cpuWeight = weight;
    }
}

// One option's value as the table gives it, checked against its schema; nullopt when absent
// or refused (the refusal reported).
std::optional<OptionValue> readOption(TomlReader& l, const toml::table& t, const DeviceKind& kind,
                                      const OptionSpec& option) {
    std::string key(option.key);
    if (option.type == OptionType::Bool) {
        auto* v = l.get<bool>(t, key, "a boolean (true or false)");
        if (!v) return std::nullopt;
        return OptionValue(v->get());
    }
    if (option.type == OptionType::Path) {
        std::filesystem::path path;
        l.readablePath(t, key, path,
                       kind.backend == Backend::Block   ? TomlReader::PathKind::Disk
                       : kind.backend == Backend::Media ? TomlReader::PathKind::RegularFile
                                                        : TomlReader::PathKind::NotDirectory);
        if (path.empty()) return std::nullopt;
        return OptionValue(path.string());
    }
    if (option.type == OptionType::Count && t.get(key)->is_integer()) {
        auto* n = t.get(key)->as_integer();
        OptionValue count = n->get() < 0 ? "-" : std::to_string(n->get());
        if (auto problem = checkOptionValue(option, count)) {
            problem->value = std::to_string(n->get());
            l.valueProblem(n->source(), *problem);
            return std::nullopt;
        }
        return count;
    }
    auto* v = l.get<std::string>(
        t, key, option.type == OptionType::Count ? "an integer or a string" : "a string");
    if (!v) return std::nullopt;
    OptionValue value = v->get();
    if (auto problem = checkOptionValue(option, value)) {
        l.valueProblem(v->source(), *problem);
        return std::nullopt;
    }
    return value;
}

// A device table ([[disk]], [[nic]], ...): each key checked against the kind's option schema.
std::optional<Device> loadDevice(TomlReader& l, const toml::table& t, const DeviceKind& kind,
                                 std::string id, std::string_view instanceName) {
    Keys known = {"id"};
    for (const auto& option : kind.options) known.push_back(option.key);
    std::string section = "[[" + std::string(kind.name) + "]]";
    l.checkKeys(t, known, section);
    Options options;
    bool refused = false;
    for (const auto& option : kind.options) {
        const toml::node* node = t.get(option.key);
        if (!node) continue;
        auto value = readOption(l, t, kind, option);
        refused = refused || !value;
        // A refused value still counts as given for the rules between options.
        options.emplace(option.key, value ? *value : node->value_or(std::string()));
    }
    auto problems = completeOptions(kind, options);
    for (const auto& problem : problems) {
        const auto* node = t.get(problem.option->key);
        l.ruleProblem(node ? node->source() : t.source(), section, problem);
    }
    if (refused || !problems.empty()) return std::nullopt;
    return makeDevice(kind, std::move(id), std::move(options), instanceName);
}

// Ids share one QEMU namespace, so devices of different kinds may not reuse each other's ids.
void loadDevices(TomlReader& l, const toml::table& root, InstanceSpec& spec) {
    std::map<std::string, toml::source_position> ids;
    // (option key, value) -> where it was first used, for options that must be unique.
    std::map<std::pair<std::string, std::string>, toml::source_position> uniques;
    for (const auto* kind : deviceKinds()) {
        if (!kind->definable) continue;
        std::size_t index = 0;
        for (auto* t : l.tables(root, kind->name)) {
            std::string id = std::string(kind->idPrefix) + std::to_string(index++);
            if (auto* v = l.get<std::string>(*t, "id", "a string")) {
                id = v->get();
                if (auto why = checkDeviceId(id)) {
                    l.error(v->source(), "id: " + *why);
                } else if (auto [it, fresh] = ids.emplace(id, v->source().begin); !fresh) {
                    l.error(v->source(), "duplicate device id " + inQuotes(id) +
                                             " (first used at line " +
                                             std::to_string(it->second.line) + ")");
                }
            }
            auto device = loadDevice(l, *t, *kind, id, spec.name);
            if (!device) continue;
            for (const auto& option : kind->options) {
                if (!option.unique || !device->options.count(option.key)) continue;
                auto value = std::string(device->text(option.key));
                const auto* node = t->get(option.key);
                auto where = node ? node->source() : t->source();
                auto [it, fresh] =
                    uniques.emplace(std::pair(std::string(option.key), value), where.begin);
                if (!fresh) {
                    l.error(where, "duplicate " + std::string(option.noun) + " " + value +
                                       " (first used at line " + std::to_string(it->second.line) +
                                       ")");
                }
            }
            spec.devices.push_back(std::move(*device));
        }
    }
}

}  // namespace

LoadResult parseInstanceSpec(std::string_view text, const std::filesystem::path& file) {
    LoadResult result;
    TomlReader l(file.string());
    toml::table root;
    try {
        root = toml::parse(text, file.string());
    } catch (const toml::parse_error& e) {
        l.error(e.source(), "invalid TOML: " + std::string(e.description()));
        result.diagnostics = std::move(l.diagnostics);
        return result;
    }
    InstanceSpec spec;
    spec.source = file;
    spec.name = file.stem().string();
    Keys topLevel = {"name",      "machine",   "firmware", "boot", "agent",
                     "lifecycle", "resources", "display",  "tpm",  "security"};
    for (const auto* kind : deviceKinds())
        if (kind->definable) topLevel.push_back(kind->name);
    l.checkKeys(root, topLevel, "the top level");
    if (auto* v = l.get<std::string>(root, "name", "a string")) {
        spec.name = v->get();
        if (auto why = checkInstanceName(spec.name)) l.error(v->source(), "name: " + *why);
    } else if (auto why = checkInstanceName(spec.name)) {
        l.error(root.source(), "the file name gives the instance name " + inQuotes(spec.name) +
                                   ", which is invalid: " + *why + "; set \"name\"");
    }
    if (auto* t = l.section(root, "machine")) loadMachine(l, *t, spec.machine);
    if (spec.machine.uuid.empty()) spec.machine.uuid = derivedUuid(spec.name);
    if (auto* t = l.section(root, "firmware")) loadFirmware(l, *t, spec);
    if (auto* t = l.section(root, "boot")) loadBoot(l, root, *t, spec);
    loadDevices(l, root, spec);
    checkThrottleGroups(l, root, spec);
    if (auto* t = l.section(root, "agent")) {
        l.checkKeys(*t, {"negotiator", "qemu_ga"}, "[agent]");
        l.boolean(*t, "negotiator", spec.agent.negotiator);
        l.boolean(*t, "qemu_ga", spec.agent.qemuGa);
    }
    if (auto* t = l.section(root, "lifecycle")) loadLifecycle(l, *t, spec.lifecycle);
    if (auto* t = l.section(root, "resources")) loadResources(l, *t, spec.resources);
    if (auto* t = l.section(root, "display")) loadDisplay(l, *t, spec.display);
    if (auto* t = l.section(root, "tpm")) loadTpm(l, *t, spec.tpm);
    if (auto* t = l.section(root, "security")) {
        l.checkKeys(*t, {"confine"}, "[security]");
        l.boolean(*t, "confine", spec.security.confine);
    }
    bool bootable = false;
    std::string bootables;
    for (const auto* kind : deviceKinds()) {
        if (!kind->bootable) continue;
        bootable = bootable || root.contains(kind->name);
        bootables += (bootables.empty() ? "a [[" : " or a [[") + std::string(kind->name) + "]]";
    }
    if (!root.contains("boot") && !bootable) {
        l.error(root.source(), "nothing to boot from: add [boot] with a kernel or " + bootables);
    }
    try {
        planSlots(spec);
    } catch (const std::invalid_argument& e) {
        auto* machine = root.get("machine");
        l.error(machine ? machine->source() : root.source(), e.what());
    }
    result.diagnostics = std::move(l.diagnostics);
    std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(),
                     [](const Diagnostic& a, const Diagnostic& b) {
                         return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                     });
    if (result.diagnostics.empty()) result.spec = std::move(spec);
    return result;
}

}  // namespace corral::hypervisor
