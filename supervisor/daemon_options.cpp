#include "supervisor/daemon_options.hpp"

#include <toml++/toml.h>

#include <map>
#include <set>
#include <stdexcept>
#include <string_view>
#include "hypervisor/instance_spec.hpp"
#include "supervisor/uid_pool.hpp"

namespace corral::supervisor {

const char* const kDaemonUsage =
    "usage: corrald [--config FILE] [--bus-address ADDR | --system | --session]\n"
    "               [--runtime-dir DIR] [--instances-dir DIR] [--state-dir DIR]\n"
    "               [--log-dir DIR]\n"
    "Supervises the QEMU VMs defined in the instances directory (one NAME.toml each) and\n"
    "serves org.corral1 on D-Bus.\n"
    "  --config FILE        daemon configuration (default /etc/corral/corral.toml; a missing\n"
    "                       default file is fine): [paths] runtime_dir, instances_dir,\n"
    "                       state_dir, log_dir, guest_commands_dir; [logs] max_size, keep\n"
    "                       (rotation of the log files); [qemu] binary, command_timeout;\n"
    "                       [storage] allowed_dirs; [firmware] code, vars, secure_code,\n"
    "                       secure_vars (OVMF images, default Debian's in /usr/share/OVMF);\n"
    "                       [metrics] listen (Prometheus, off by default);\n"
    "                       [host] on_shutdown, shutdown_timeout (host shutdown phase);\n"
    "                       [migration] listen_address, port_range (incoming migrations);\n"
    "                       [security] uid_range (uids of the confined qemus, default\n"
    "                       70000-79999)\n"
    "  --system             the system bus (default)\n"
    "  --session            the session bus of the calling user\n"
    "  --bus-address ADDR   any bus, e.g. unix:path=/run/corral-test.sock\n"
    "  --runtime-dir DIR    sockets, pidfiles and state.json of each VM (default /run/corral);\n"
    "                       must survive corrald restarts: running VMs are reattached\n"
    "  --instances-dir DIR  instance definitions (default /etc/corral/instances)\n"
    "  --state-dir DIR      what a VM keeps between runs, in DIR/NAME/: UEFI variables, TPM\n"
    "                       state (default /var/lib/corral)\n"
    "  --log-dir DIR        each VM's qemu.log and serial console log console.log, in\n"
    "                       DIR/NAME/ (default /var/log/corral)\n"
    "Stopping or restarting corrald never stops a VM. Drive it with corralctl or busctl.\n";

namespace {

// A misspelt key would otherwise be ignored without a word.
std::string where(const std::filesystem::path& file, const toml::source_region& at) {
    return file.string() + ":" + std::to_string(at.begin.line) + ":" +
           std::to_string(at.begin.column) + ": ";
}

// [storage] allowed_dirs: absolute directories without "." or ".." components; never "/",
// which would let Undefine delete any file a definition names.
std::vector<std::filesystem::path> storageDirs(const std::filesystem::path& file,
                                               const toml::node& node) {
    const auto* list = node.as_array();
    if (!list)
        throw std::runtime_error(where(file, node.source()) +
                                 "storage.allowed_dirs must be a list of absolute directories");
    std::vector<std::filesystem::path> dirs;
    for (const auto& item : *list) {
        auto text = item.value<std::string>();
        auto bad = [&](const std::string& why) {
            return std::runtime_error(where(file, item.source()) + "storage.allowed_dirs: " + why);
        };
        if (!text) throw bad("every entry must be a string");
        std::filesystem::path dir(*text);
        if (!dir.is_absolute()) throw bad("'" + *text + "' is not an absolute path");
        for (const auto& part : dir)
            if (part == "." || part == "..")
                throw bad("'" + *text + "' has a '" + part.string() + "' component");
        if (dir.relative_path().empty())
            throw bad("'/' would let Undefine delete any file; name the image directories");
        dirs.push_back(dir);
    }
    return dirs;
}

void refuseUnknownKeys(const std::filesystem::path& file, const toml::table& table) {
    static const std::map<std::string_view, std::set<std::string_view>> kKnown = {
        {"paths", {"runtime_dir", "instances_dir", "state_dir", "log_dir", "guest_commands_dir"}},
        {"logs", {"max_size", "keep"}},
        {"qemu", {"binary", "command_timeout"}},
        {"storage", {"allowed_dirs"}},
        {"metrics", {"listen"}},
        {"firmware", {"code", "vars", "secure_code", "secure_vars"}},
        {"host", {"on_shutdown", "shutdown_timeout"}},
        {"migration", {"listen_address", "port_range", "tls_dir"}},
        {"security", {"uid_range"}},
    };
    for (const auto& [section, node] : table) {
        auto known = kKnown.find(section.str());
        if (known == kKnown.end() || !node.is_table())
            throw std::runtime_error(where(file, node.source()) + "unknown section '" +
                                     std::string(section.str()) +
                                     "' (known: paths, logs, qemu, storage, metrics, firmware, "
                                     "host, migration)");
        for (const auto& [key, value] : *node.as_table()) {
            if (known->second.count(key.str())) continue;
            std::string list;
            for (auto k : known->second) list += (list.empty() ? "" : ", ") + std::string(k);
            throw std::runtime_error(where(file, value.source()) + "unknown key '" +
                                     std::string(key.str()) + "' in [" +
                                     std::string(section.str()) + "] (known: " + list + ")");
        }
    }
}

// [host]: what corrald does with the running VMs at host shutdown, and the phase's bound.
void readHostPolicy(const std::filesystem::path& file, const toml::table& table,
                    HostPolicy& policy) {
    auto string = [&](const char* key) -> std::optional<std::string> {
        auto node = table["host"][key];
        if (!node) return std::nullopt;
        if (auto value = node.value<std::string>()) return value;
        throw std::runtime_error(where(file, node.node()->source()) + "host." + key +
                                 " must be a string");
    };
    if (auto v = string("on_shutdown"); v && *v != "shutdown") {
        auto at = where(file, table["host"]["on_shutdown"].node()->source());
        if (*v != "suspend")
            throw std::runtime_error(at + "host.on_shutdown '" + *v +
                                     "': must be \"shutdown\" or \"suspend\"");
        policy.suspend = true;
    }
    if (auto v = string("shutdown_timeout")) {
        auto timeout = hypervisor::parseDuration(*v);
        if (!timeout || *timeout < std::chrono::seconds(1) || *timeout > std::chrono::hours(1))
            throw std::runtime_error(
                where(file, table["host"]["shutdown_timeout"].node()->source()) +
                "host.shutdown_timeout '" + *v +
                "' is not a duration from 1s to 1h (e.g. \"300s\")");
        policy.shutdownTimeout = std::chrono::duration_cast<Duration>(*timeout);
    }
}

// [logs]: the size bound of each log file and how many rotated files are kept.
void readLogBound(const std::filesystem::path& file, const toml::table& table, LogBound& bound) {
    if (auto node = table["logs"]["max_size"]; node) {
        auto text = node.value<std::string>();
        auto size = text ? hypervisor::parseSize(*text) : std::nullopt;
        if (!size || *size < kMinLogBytes || *size > kMaxLogBytes)
            throw std::runtime_error(where(file, node.node()->source()) +
                                     "logs.max_size must be a size from 4K to 1G (e.g. \"1M\")");
        bound.maxBytes = *size;
    }
    if (auto node = table["logs"]["keep"]; node) {
        auto count = node.value<std::int64_t>();
        if (!node.is_integer() || !count || *count < 1 ||
            *count > static_cast<std::int64_t>(kMaxLogKeep))
            throw std::runtime_error(where(file, node.node()->source()) +
                                     "logs.keep must be a whole number from 1 to " +
                                     std::to_string(kMaxLogKeep));
        bound.keep = static_cast<unsigned>(*count);
    }
}

void readConfig(const std::filesystem::path& file, bool explicitFile, bool haveRuntime,
                bool haveInstances, bool haveLogs, DaemonOptions& options) {
    if (!explicitFile && !std::filesystem::exists(file)) {
        options.uidRange = uidRangeSetting("", std::nullopt);
        return;
    }
    toml::table table;
    try {
        table = toml::parse_file(file.string());
    } catch (const toml::parse_error& e) {
        const auto& where = e.source().begin;
        throw std::runtime_error(file.string() + ":" + std::to_string(where.line) + ":" +
                                 std::to_string(where.column) + ": " +
                                 std::string(e.description()));
    }
    refuseUnknownKeys(file, table);
    auto text = [&](const char* section, const char* key) -> std::optional<std::string> {
        auto node = table[section][key];
        if (!node) return std::nullopt;
        if (auto value = node.value<std::string>()) return value;
        throw std::runtime_error(file.string() + ": " + section + "." + key + " must be a string");
    };
    if (auto v = text("paths", "runtime_dir"); v && !haveRuntime) options.runtimeDir = *v;
    if (auto v = text("paths", "instances_dir"); v && !haveInstances) options.instancesDir = *v;
    if (auto v = text("paths", "state_dir")) options.stateDir = *v;
    if (auto v = text("paths", "log_dir"); v && !haveLogs) {
        if (!std::filesystem::path(*v).is_absolute())
            throw std::runtime_error(file.string() + ": paths.log_dir '" + *v +
                                     "' is not an absolute path");
        options.logDir = *v;
    }
    readLogBound(file, table, options.logBound);
    if (auto v = text("paths", "guest_commands_dir")) options.commandsDir = *v;
    if (auto node = table["storage"]["allowed_dirs"]; node)
        options.storageDirs = storageDirs(file, *node.node());
    if (auto v = text("qemu", "binary")) {
        if (v->empty()) throw std::runtime_error(file.string() + ": qemu.binary is empty");
        options.qemuBinary = *v;
    }
    if (auto v = text("qemu", "command_timeout")) {
        auto timeout = hypervisor::parseDuration(*v);
        if (!timeout || timeout->count() < 1000)
            throw std::runtime_error(file.string() + ": qemu.command_timeout '" + *v +
                                     "' is not a duration of at least 1ms (e.g. \"30s\")");
        options.qmpTimeout = std::chrono::duration_cast<std::chrono::milliseconds>(*timeout);
    }
    auto image = [&](const char* key, std::filesystem::path& out) {
        auto v = text("firmware", key);
        if (!v) return;
        if (!std::filesystem::path(*v).is_absolute())
            throw std::runtime_error(file.string() + ": firmware." + key + " '" + *v +
                                     "' is not an absolute path");
        out = *v;
    };
    image("code", options.firmware.code);
    image("vars", options.firmware.vars);
    image("secure_code", options.firmware.secureCode);
    image("secure_vars", options.firmware.secureVars);
    readHostPolicy(file, table, options.host);
    if (auto node = table["security"]["uid_range"]; node)
        options.uidRange =
            uidRangeSetting(where(file, node.node()->source()), text("security", "uid_range"));
    else
        options.uidRange = uidRangeSetting(file.string() + ": ", std::nullopt);
    applyMigrationConfig(file.string(), text("migration", "listen_address"),
                         text("migration", "port_range"), text("migration", "tls_dir"),
                         options.migration);
    if (auto v = text("metrics", "listen")) {
        auto parsed = parseListenAddress(*v);
        if (!parsed.address) {
            const auto& at = table["metrics"]["listen"].node()->source().begin;
            throw std::runtime_error(file.string() + ":" + std::to_string(at.line) + ":" +
                                     std::to_string(at.column) + ": metrics.listen '" + *v +
                                     "': " + parsed.error);
        }
        options.metricsListen = parsed.address;
    }
}

}  // namespace

DaemonOptions parseDaemonOptions(int argc, char** argv) {
    DaemonOptions options;
    bool explicitConfig = false, haveRuntime = false, haveInstances = false, haveLogs = false;
    std::optional<std::filesystem::path> stateDir;  // --state-dir wins over the file
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::runtime_error(std::string(arg) + " needs a value");
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            options.help = true;
        } else if (arg == "--config") {
            options.config = value();
            explicitConfig = true;
        } else if (arg == "--bus-address") {
            options.bus = DaemonOptions::Bus::Address;
            options.busAddress = value();
        } else if (arg == "--system") {
            options.bus = DaemonOptions::Bus::System;
        } else if (arg == "--session") {
            options.bus = DaemonOptions::Bus::Session;
        } else if (arg == "--runtime-dir") {
            options.runtimeDir = value();
            haveRuntime = true;
        } else if (arg == "--instances-dir") {
            options.instancesDir = value();
            haveInstances = true;
        } else if (arg == "--state-dir") {
            stateDir = value();
        } else if (arg == "--log-dir") {
            options.logDir = value();
            haveLogs = true;
            if (!options.logDir.is_absolute())
                throw std::runtime_error("--log-dir '" + options.logDir.string() +
                                         "' is not an absolute path");
        } else {
            throw std::runtime_error("unknown option '" + std::string(arg) + "'");
        }
    }
    if (!options.help)
        readConfig(options.config, explicitConfig, haveRuntime, haveInstances, haveLogs, options);
    if (stateDir) options.stateDir = *stateDir;
    return options;
}

}  // namespace corral::supervisor
