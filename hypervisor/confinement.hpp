// Every qemu corrald starts runs confined: its own uid and gid from a pool ([security] uid_range
// in corral.toml), no capabilities, QEMU's seccomp sandbox and an empty, read-only root. QEMU
// opens everything its command line names (disks, firmware, sockets, /dev/kvm, its accelerator
// module) as root before it drops privileges; what it opens later arrives as descriptors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corral::hypervisor {

// uids first..last (inclusive); each running VM takes one as its uid and the same number as its
// gid. Neither needs an /etc/passwd or /etc/group entry: a user there inside the range is refused.
struct UidRange {
    std::uint32_t first = 0;
    std::uint32_t last = 0;
};

// Above the 16-bit ids (systemd: system, regular, homed, dynamic users and nobody all lie below
// 65536) and below 100000, where useradd's subordinate ranges (/etc/subuid) and container ranges
// begin.
inline constexpr UidRange kDefaultUidRange{70000, 79999};

// What a launch does about confinement: `on` false only where corrald cannot drop privileges
// (it does not run as root); then qemu runs as corrald does.
struct ConfinePolicy {
    bool on = false;
    UidRange range = kDefaultUidRange;
    // Options a confined qemu needs at its start because it cannot open their files later (the
    // migration TLS credentials objects), asked at each launch and appended to its command line.
    std::function<std::vector<std::string>()> preload;
    // Told of every qemu launched unconfined (`on` false, or the instance's [security] confine =
    // false) before it is spawned: the instance, its qemu.log and why.
    std::function<void(const std::string& name, const std::filesystem::path& logFile,
                       const std::string& why)>
        unconfined;
};

// Whether `spec`'s qemu runs confined under `policy`; nullopt when it does, else why not.
std::optional<std::string> unconfinedWhy(const ConfinePolicy& policy, bool specConfine);

// What a launch appends to the command line of instance `name` under `policy`: confineArgv with a
// uid of the pool and the policy's preload, or nothing when unconfinedWhy says why not.
std::vector<std::string> launchConfinement(const ConfinePolicy& policy, bool specConfine,
                                           const std::filesystem::path& runtimeRoot,
                                           std::string_view name);

// "FIRST-LAST", 1 <= FIRST <= LAST < 2^32-1; nullopt with `error` set otherwise.
std::optional<UidRange> parseUidRange(std::string_view text, std::string& error);

// The first entry of `passwd` (user) or `group` whose id lies in `range`, as a sentence naming it
// and the file; nullopt when none does or a file is missing.
std::optional<std::string> uidRangeClash(UidRange range, const std::filesystem::path& passwd,
                                         const std::filesystem::path& group);

// The uid a qemu command line runs as (its -runas UID:GID); nullopt for an unconfined one.
std::optional<std::uint32_t> confinedUid(const std::vector<std::string>& argv);

// The lowest uid of `range` that no other VM's state.json under `runtimeRoot` records (the pool
// is the runtime dirs: a uid is taken while its qemu's state.json exists, which reattach keeps
// and a stopped VM's cleanup removes). `self`'s own dir does not count: its qemu is being
// replaced. Throws std::runtime_error with a sentence when all are taken.
std::uint32_t allocateUid(const std::filesystem::path& runtimeRoot, std::string_view self,
                          UidRange range);

// <runtimeRoot>/.empty: qemu's root, an empty directory owned by root, mode 0555 (no instance
// name starts with '.'). Created or checked; throws std::runtime_error if it holds anything.
std::filesystem::path emptyRoot(const std::filesystem::path& runtimeRoot);

// -sandbox on,obsolete=deny,spawn=deny,resourcecontrol=deny -runas UID:UID -chroot ROOT.
// elevateprivileges=deny is left out: QEMU 7.2 installs its filter before -runas's setuid, which
// that option forbids (qemu dies of SIGSYS); after the drop qemu holds no capability and has
// no_new_privs, so no set*id call can raise it again.
std::vector<std::string> confineArgv(std::uint32_t uid, const std::filesystem::path& root);

}  // namespace corral::hypervisor
