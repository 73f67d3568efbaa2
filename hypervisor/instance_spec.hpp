// An instance definition as loaded from /etc/corral/instances/<name>.toml, defaults filled in.
// Plain C++ types only: the supervisor consumes this without knowing TOML or JSON.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/string_table.hpp"
#include "hypervisor/cpu_spec.hpp"
#include "hypervisor/device.hpp"
#include "hypervisor/display.hpp"
#include "hypervisor/tpm.hpp"

namespace corral::hypervisor {

enum class MachineType { Pc, Q35 };
enum class Accel { Kvm, Tcg, KvmOrTcg };
enum class DiskFormat { Raw, Qcow2 };
enum class DiskCache { None, Writeback, Unsafe };
enum class NicMode { User, Tap, Bridge };
enum class OnCrash { Restart, Stop };

// The one spelling of each value, as written in TOML, sent over D-Bus and given to QEMU.
inline constexpr auto kMachineTypes =
    makeStringTable<MachineType>({{MachineType::Pc, "pc"}, {MachineType::Q35, "q35"}});
inline constexpr auto kAccels = makeStringTable<Accel>(
    {{Accel::Kvm, "kvm"}, {Accel::Tcg, "tcg"}, {Accel::KvmOrTcg, "kvm:tcg"}});
inline constexpr auto kDiskFormats =
    makeStringTable<DiskFormat>({{DiskFormat::Raw, "raw"}, {DiskFormat::Qcow2, "qcow2"}});
inline constexpr auto kDiskCaches = makeStringTable<DiskCache>({{DiskCache::None, "none"},
                                                                {DiskCache::Writeback, "writeback"},
                                                                {DiskCache::Unsafe, "unsafe"}});
inline constexpr auto kNicModes = makeStringTable<NicMode>(
    {{NicMode::User, "user"}, {NicMode::Tap, "tap"}, {NicMode::Bridge, "bridge"}});
inline constexpr auto kOnCrash =
    makeStringTable<OnCrash>({{OnCrash::Restart, "restart"}, {OnCrash::Stop, "stop"}});

// The machine and accelerator as QEMU's -machine takes them (and the Machine property shows).
inline std::string_view toString(MachineType v) {
    return kMachineTypes.toString(v);
}
inline std::string_view toString(Accel v) {
    return kAccels.toString(v);
}

// The spellings of a table, in its order: the choices of an option or TOML key.
template <typename E, std::size_t N>
std::vector<std::string_view> spellings(const StringTable<E, N>& table) {
    std::vector<std::string_view> out;
    for (const auto& entry : table.entries()) out.push_back(entry.second);
    return out;
}

struct MachineSpec {
    MachineType type = MachineType::Q35;
    Accel accel = Accel::KvmOrTcg;
    unsigned cpus = 1;
    std::uint64_t memoryBytes = 512ull << 20;
    unsigned hotplugSlots = 8;  // q35: free pcie-root-ports created at boot
    // Canonical, lower case. The loader fills in derivedUuid(name) when [machine] has none.
    std::string uuid;
    CpuSpec cpu;
};

// The longest [boot] cmdline accepted. Linux keeps COMMAND_LINE_SIZE bytes of it (2048 on x86
// by default, larger only in kernels built so) and silently drops the rest; 4096 leaves room
// for such kernels and refuses what no kernel takes.
inline constexpr std::size_t kMaxCmdlineBytes = 4096;

struct BootSpec {
    std::filesystem::path kernel;
    std::filesystem::path initrd;  // empty: none
    std::string cmdline;
};

// [firmware]: what the machine boots into before any device (firmware.hpp has the files).
enum class FirmwareType { Bios, Uefi };
inline constexpr auto kFirmwareTypes =
    makeStringTable<FirmwareType>({{FirmwareType::Bios, "bios"}, {FirmwareType::Uefi, "uefi"}});

struct FirmwareSpec {
    FirmwareType type = FirmwareType::Bios;
    bool secureBoot = false;  // uefi on q35 only: the Secure Boot build with enrolled keys
    // Filled in at start by prepareFirmware(): the code image qemu maps read-only and this VM's
    // own copy of the variable store. Empty in a loaded definition.
    std::filesystem::path code;
    std::filesystem::path vars;
};

// [boot] order: the device classes firmware tries, first to last (boot_order.hpp).
enum class BootTarget { Cdrom, Disk, Network };
inline constexpr auto kBootTargets = makeStringTable<BootTarget>(
    {{BootTarget::Cdrom, "cdrom"}, {BootTarget::Disk, "disk"}, {BootTarget::Network, "network"}});

struct AgentSpec {
    bool negotiator = true;
    // The org.qemu.guest_agent.0 port for Debian's (or any) qemu-guest-agent in the guest.
    bool qemuGa = false;
    // Either agent needs the virtio-serial controller.
    bool anyPort() const { return negotiator || qemuGa; }
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

// [security]: confine = false runs this VM's qemu as corrald does (root, every capability, no
// seccomp sandbox, the host's filesystem), for debugging only; corrald logs each such start.
struct SecuritySpec {
    bool confine = true;
};

struct InstanceSpec {
    std::string name;
    std::filesystem::path source;  // the TOML file it came from
    MachineSpec machine;
    std::optional<BootSpec> boot;  // nullopt: boot from the first bootable device (a disk)
    FirmwareSpec firmware;
    std::vector<BootTarget> bootOrder;  // [boot] order without a kernel; empty: as above
    // [[disk]], [[nic]], ...: kinds in table order, each in file order; no slot assigned yet.
    std::vector<Device> devices;
    AgentSpec agent;
    LifecycleSpec lifecycle;
    ResourcesSpec resources;
    DisplaySpec display;
    TpmSpec tpm;
    SecuritySpec security;
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
