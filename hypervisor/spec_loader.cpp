// TOML -> InstanceSpec. Every problem becomes a Diagnostic at the toml++ source position of the
// offending key or value; loading goes on after an error so that one run reports them all.
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "hypervisor/instance_name.hpp"
#include "hypervisor/instance_spec.hpp"
#include "hypervisor/slot_plan.hpp"

namespace corral::hypervisor {
namespace {

using Keys = std::vector<std::string_view>;

std::size_t editDistance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

const char* typeName(toml::node_type type) {
    switch (type) {
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        default:
            return "a date/time";
    }
}

std::string inQuotes(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

class Loader {
  public:
    explicit Loader(std::string file) : file_(std::move(file)) {}

    std::vector<Diagnostic> diagnostics;

    void error(const toml::source_region& where, std::string message) {
        diagnostics.push_back({file_, static_cast<int>(where.begin.line),
                               static_cast<int>(where.begin.column), std::move(message)});
    }

    // Reports keys of `table` that are not in `known`, with the closest known key as a hint.
    void checkKeys(const toml::table& table, const Keys& known, std::string_view section) {
        for (auto&& [key, value] : table) {
            if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
            std::string message =
                "unknown key " + inQuotes(key.str()) + " in " + std::string(section);
            std::string_view best;
            std::size_t bestDistance = 3;
            for (auto candidate : known) {
                std::size_t d = editDistance(key.str(), candidate);
                if (d < bestDistance) bestDistance = d, best = candidate;
            }
            if (!best.empty()) message += "; did you mean " + inQuotes(best) + "?";
            error(key.source(), message);
        }
    }

    // The value at `key` if it has type T (toml::table, toml::array or a native value type);
    // nullptr if absent or of another type, the latter reported.
    template <typename T>
    auto get(const toml::table& table, std::string_view key, std::string_view expected) {
        const toml::node* node = table.get(key);
        decltype(node->as<T>()) value = node ? node->as<T>() : nullptr;
        if (node && !value) {
            error(node->source(), std::string(key) + ": expected " + std::string(expected) +
                                      ", got " + typeName(node->type()));
        }
        return value;
    }

    // A string that must be one of `choices`; returns its index.
    std::optional<std::size_t> choice(const toml::table& table, std::string_view key,
                                      const Keys& choices) {
        auto* value = get<std::string>(table, key, "a string");
        if (!value) return std::nullopt;
        auto it = std::find(choices.begin(), choices.end(), value->get());
        if (it != choices.end()) return static_cast<std::size_t>(it - choices.begin());
        std::string list;
        for (auto c : choices) list += (list.empty() ? "" : " | ") + inQuotes(c);
        error(value->source(),
              std::string(key) + ": expected one of " + list + ", got " + inQuotes(value->get()));
        return std::nullopt;
    }

    void size(const toml::table& table, std::string_view key, std::uint64_t min,
              std::uint64_t& out) {
        auto* value = get<std::string>(table, key, "a size string such as \"2G\"");
        if (!value) return;
        auto bytes = parseSize(value->get());
        if (!bytes) {
            error(value->source(), std::string(key) + ": expected a size such as \"512M\" or " +
                                       "\"2G\", got " + inQuotes(value->get()));
        } else if (*bytes < min) {
            error(value->source(), std::string(key) + ": " + inQuotes(value->get()) +
                                       " is too small; at least " + std::to_string(min >> 20) +
                                       "M is needed");
        } else {
            out = *bytes;
        }
    }

    void integer(const toml::table& table, std::string_view key, std::int64_t min, std::int64_t max,
                 unsigned& out) {
        auto* value = get<std::int64_t>(table, key, "an integer");
        if (!value) return;
        if (value->get() < min || value->get() > max) {
            error(value->source(), std::string(key) + ": expected an integer from " +
                                       std::to_string(min) + " to " + std::to_string(max) +
                                       ", got " + std::to_string(value->get()));
            return;
        }
        out = static_cast<unsigned>(value->get());
    }

    void boolean(const toml::table& table, std::string_view key, bool& out) {
        if (auto* value = get<bool>(table, key, "a boolean (true or false)")) out = value->get();
    }

    // A path to a file that must exist and be readable by corrald.
    void readablePath(const toml::table& table, std::string_view key, std::filesystem::path& out) {
        auto* value = get<std::string>(table, key, "a path string");
        if (!value) return;
        std::filesystem::path path = value->get();
        if (!path.is_absolute()) {
            error(value->source(),
                  std::string(key) + ": expected an absolute path, got " + inQuotes(value->get()));
        } else if (::access(path.c_str(), F_OK) != 0) {
            error(value->source(),
                  std::string(key) + ": " + inQuotes(value->get()) + " does not exist");
        } else if (::access(path.c_str(), R_OK) != 0) {
            error(value->source(),
                  std::string(key) + ": " + inQuotes(value->get()) + " is not readable");
        } else {
            out = path;
        }
    }

    // The tables of an array of tables such as [[disk]]; reports a plain [disk] as a type error.
    std::vector<const toml::table*> tables(const toml::table& root, std::string_view key) {
        std::vector<const toml::table*> out;
        auto* array =
            get<toml::array>(root, key, "an array of tables ([[" + std::string(key) + "]])");
        if (!array) return out;
        for (auto& element : *array) {
            if (auto* table = element.as_table()) {
                out.push_back(table);
            } else {
                error(element.source(),
                      std::string(key) + ": expected a table, got " + typeName(element.type()));
            }
        }
        return out;
    }

    const toml::table* section(const toml::table& root, std::string_view key) {
        return get<toml::table>(root, key, "a table ([" + std::string(key) + "])");
    }

  private:
    std::string file_;
};

void loadMachine(Loader& l, const toml::table& t, MachineSpec& m) {
    l.checkKeys(t, {"type", "accel", "cpus", "memory", "hotplug_slots"}, "[machine]");
    if (auto i = l.choice(t, "type", {"pc", "q35"}))
        m.type = *i ? MachineType::Q35 : MachineType::Pc;
    static const Keys kAccels = {"kvm", "tcg", "kvm:tcg"};
    if (auto i = l.choice(t, "accel", kAccels)) m.accel = kAccels[*i];
    l.integer(t, "cpus", 1, 255, m.cpus);
    l.size(t, "memory", 16ull << 20, m.memoryBytes);
    l.integer(t, "hotplug_slots", 0, 24, m.hotplugSlots);
}

void loadBoot(Loader& l, const toml::table& t, std::optional<BootSpec>& boot) {
    l.checkKeys(t, {"kernel", "initrd", "cmdline"}, "[boot]");
    BootSpec b;
    if (!t.contains("kernel")) l.error(t.source(), "[boot]: \"kernel\" is required");
    l.readablePath(t, "kernel", b.kernel);
    l.readablePath(t, "initrd", b.initrd);
    if (auto* v = l.get<std::string>(t, "cmdline", "a string")) b.cmdline = v->get();
    boot = b;
}

void loadDisk(Loader& l, const toml::table& t, DiskSpec& d) {
    l.checkKeys(t, {"id", "path", "format", "readonly", "cache"}, "[[disk]]");
    if (!t.contains("path")) l.error(t.source(), "[[disk]]: \"path\" is required");
    l.readablePath(t, "path", d.path);
    if (auto i = l.choice(t, "format", {"raw", "qcow2"})) {
        d.format = *i ? DiskFormat::Qcow2 : DiskFormat::Raw;
    }
    l.boolean(t, "readonly", d.readonly);
    if (auto i = l.choice(t, "cache", {"none", "writeback", "unsafe"})) {
        d.cache = static_cast<DiskCache>(*i);
    }
}

void loadNic(Loader& l, const toml::table& t, NicSpec& n) {
    l.checkKeys(t, {"id", "mode", "bridge", "mac"}, "[[nic]]");
    if (auto i = l.choice(t, "mode", {"tap", "bridge", "user"})) n.mode = static_cast<NicMode>(*i);
    if (auto* v = l.get<std::string>(t, "bridge", "a string")) {
        if (n.mode != NicMode::Bridge) {
            l.error(v->source(), "bridge: only meaningful with mode = \"bridge\"");
        } else if (auto why = checkInterfaceName(v->get())) {
            l.error(v->source(), "bridge: expected a network interface name: " + *why);
        } else {
            n.bridge = v->get();
        }
    } else if (n.mode == NicMode::Bridge) {
        l.error(t.source(), "[[nic]]: mode = \"bridge\" needs \"bridge\" (the bridge name)");
    }
    if (auto* v = l.get<std::string>(t, "mac", "a string")) {
        if (auto mac = normalizeMac(v->get())) {
            n.mac = *mac;
        } else {
            l.error(v->source(),
                    "mac: expected a unicast MAC address such as "
                    "\"52:54:00:12:34:56\", got " +
                        inQuotes(v->get()));
        }
    }
}

void loadLifecycle(Loader& l, const toml::table& t, LifecycleSpec& lc) {
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
    if (auto i = l.choice(t, "on_crash", {"restart", "stop"})) {
        lc.onCrash = *i ? OnCrash::Stop : OnCrash::Restart;
    }
    l.boolean(t, "autostart", lc.autostart);
}

void loadResources(Loader& l, const toml::table& t, ResourcesSpec& r) {
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

// Ids share one QEMU namespace, so disks and NICs may not reuse each other's ids either.
void loadDevices(Loader& l, const toml::table& root, InstanceSpec& spec) {
    std::map<std::string, toml::source_position> ids;
    std::map<std::string, toml::source_position> macs;
    auto id = [&](const toml::table& t, std::string_view kind, std::size_t index) {
        std::string fallback = std::string(kind) + std::to_string(index);
        auto* v = l.get<std::string>(t, "id", "a string");
        if (!v) return fallback;
        std::string value = v->get();
        if (auto why = checkDeviceId(value)) {
            l.error(v->source(), "id: " + *why);
        } else if (auto [it, fresh] = ids.emplace(value, v->source().begin); !fresh) {
            l.error(v->source(), "duplicate device id " + inQuotes(value) +
                                     " (first used at line " + std::to_string(it->second.line) +
                                     ")");
        }
        return value;
    };
    for (auto* t : l.tables(root, "disk")) {
        DiskSpec disk;
        disk.id = id(*t, "disk", spec.disks.size());
        loadDisk(l, *t, disk);
        spec.disks.push_back(disk);
    }
    for (auto* t : l.tables(root, "nic")) {
        NicSpec nic;
        nic.id = id(*t, "net", spec.nics.size());
        loadNic(l, *t, nic);
        if (nic.mac.empty()) nic.mac = derivedMac(spec.name, nic.id);
        auto* mac = t->get("mac");
        auto where = mac ? mac->source().begin : t->source().begin;
        if (auto [it, fresh] = macs.emplace(nic.mac, where); !fresh) {
            l.error(mac ? mac->source() : t->source(), "duplicate MAC address " + nic.mac +
                                                           " (first used at line " +
                                                           std::to_string(it->second.line) + ")");
        }
        spec.nics.push_back(nic);
    }
}

}  // namespace

LoadResult parseInstanceSpec(std::string_view text, const std::filesystem::path& file) {
    LoadResult result;
    Loader l(file.string());
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
    l.checkKeys(root, {"name", "machine", "boot", "disk", "nic", "agent", "lifecycle", "resources"},
                "the top level");
    if (auto* v = l.get<std::string>(root, "name", "a string")) {
        spec.name = v->get();
        if (auto why = checkInstanceName(spec.name)) l.error(v->source(), "name: " + *why);
    } else if (auto why = checkInstanceName(spec.name)) {
        l.error(root.source(), "the file name gives the instance name " + inQuotes(spec.name) +
                                   ", which is invalid: " + *why + "; set \"name\"");
    }
    if (auto* t = l.section(root, "machine")) loadMachine(l, *t, spec.machine);
    if (auto* t = l.section(root, "boot")) loadBoot(l, *t, spec.boot);
    loadDevices(l, root, spec);
    if (auto* t = l.section(root, "agent")) {
        l.checkKeys(*t, {"negotiator"}, "[agent]");
        l.boolean(*t, "negotiator", spec.agent.negotiator);
    }
    if (auto* t = l.section(root, "lifecycle")) loadLifecycle(l, *t, spec.lifecycle);
    if (auto* t = l.section(root, "resources")) loadResources(l, *t, spec.resources);
    if (!root.contains("boot") && !root.contains("disk")) {
        l.error(root.source(), "nothing to boot from: add [boot] with a kernel or a [[disk]]");
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
