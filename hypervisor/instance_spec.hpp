// An instance definition as loaded from /etc/corral/instances/<name>.toml, defaults filled in.
// Plain C++ types only: the supervisor consumes this without knowing TOML or JSON.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace corral::hypervisor {

enum class MachineType { Pc, Q35 };
enum class DiskFormat { Raw, Qcow2 };
enum class DiskCache { None, Writeback, Unsafe };
enum class NicMode { Tap, Bridge, User };
enum class OnCrash { Restart, Stop };

// "pc" / "q35" and friends, as written in TOML and given to QEMU.
const char* toString(MachineType type);
const char* toString(DiskFormat format);
const char* toString(DiskCache cache);
const char* toString(NicMode mode);
const char* toString(OnCrash onCrash);

struct MachineSpec {
    MachineType type = MachineType::Q35;
    std::string accel = "kvm:tcg";  // "kvm" | "tcg" | "kvm:tcg"
    unsigned cpus = 1;
    std::uint64_t memoryBytes = 512ull << 20;
    unsigned hotplugSlots = 8;  // q35: free pcie-root-ports created at boot
};

struct BootSpec {
    std::filesystem::path kernel;
    std::filesystem::path initrd;  // empty: none
    std::string cmdline;
};

struct DiskSpec {
    std::string id;
    std::filesystem::path path;
    DiskFormat format = DiskFormat::Raw;
    bool readonly = false;
    DiskCache cache = DiskCache::Writeback;
};

struct NicSpec {
    std::string id;
    NicMode mode = NicMode::User;
    std::string bridge;  // mode Bridge only
    std::string mac;     // always set after loading (derived from name and id if not given)
};

struct AgentSpec {
    bool negotiator = true;
};

struct LifecycleSpec {
    std::chrono::microseconds shutdownTimeout = std::chrono::seconds(120);
    OnCrash onCrash = OnCrash::Stop;
    bool autostart = false;
};

struct ResourcesSpec {
    std::optional<std::uint64_t> memoryMax;
    std::optional<unsigned> cpuWeight;
};

struct InstanceSpec {
    std::string name;
    std::filesystem::path source;  // the TOML file it came from
    MachineSpec machine;
    std::optional<BootSpec> boot;  // nullopt: boot from the first disk
    std::vector<DiskSpec> disks;
    std::vector<NicSpec> nics;
    AgentSpec agent;
    LifecycleSpec lifecycle;
    ResourcesSpec resources;
};

struct Diagnostic {
    std::string file;
    int line = 0;
    int column = 0;
    std::string message;

    // "file:line:col: error: message", the form editors and compilers use.
    std::string format() const;
};

struct LoadResult {
    std::optional<InstanceSpec> spec;  // set only when there are no diagnostics
    std::vector<Diagnostic> diagnostics;

    bool ok() const { return spec.has_value(); }
};

// Loads and validates an instance file; reports every error of the file, never throws.
LoadResult loadInstanceSpec(const std::filesystem::path& file);

// Same, from text already in memory; `file` only names it in diagnostics and gives the default
// name (its stem). Disk paths are still checked against the file system.
LoadResult parseInstanceSpec(std::string_view text, const std::filesystem::path& file);

// Parses "512M", "2G", "1048576" (bytes, binary units); nullopt if malformed or overflowing.
std::optional<std::uint64_t> parseSize(std::string_view text);

// Parses "120s", "500ms", "2m", "1h"; nullopt if malformed.
std::optional<std::chrono::microseconds> parseDuration(std::string_view text);

// "52:54:00:AB:cd:01" -> "52:54:00:ab:cd:01"; nullopt unless a well-formed unicast MAC.
std::optional<std::string> normalizeMac(std::string_view mac);

// A stable MAC in QEMU's 52:54:00 range from instance name and NIC id (same NIC, same MAC).
std::string derivedMac(std::string_view instanceName, std::string_view nicId);

}  // namespace corral::hypervisor
