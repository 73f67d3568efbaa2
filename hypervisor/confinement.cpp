#include "hypervisor/confinement.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <set>
#include <stdexcept>
#include <system_error>

#include "hypervisor/instance_name.hpp"
#include "hypervisor/runtime_dir.hpp"

namespace corral::hypervisor {
namespace {

std::optional<std::uint32_t> parseId(std::string_view text) {
    std::uint32_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

// name:x:ID:... lines; the first whose ID lies in the range.
std::optional<std::string> clashIn(const std::filesystem::path& file, UidRange range,
                                   const char* what) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        auto first = line.find(':');
        auto second = first == std::string::npos ? first : line.find(':', first + 1);
        auto third = second == std::string::npos ? second : line.find(':', second + 1);
        if (third == std::string::npos) continue;
        auto id = parseId(std::string_view(line).substr(second + 1, third - second - 1));
        if (id && *id >= range.first && *id <= range.last)
            return std::string(what) + " '" + line.substr(0, first) + "' (" + file.string() +
                   ") has id " + std::to_string(*id) + " inside the range";
    }
    return std::nullopt;
}

}  // namespace

std::optional<UidRange> parseUidRange(std::string_view text, std::string& error) {
    auto dash = text.find('-');
    std::optional<std::uint32_t> first, last;
    if (dash != std::string_view::npos) {
        first = parseId(text.substr(0, dash));
        last = parseId(text.substr(dash + 1));
    }
    if (!first || !last || *first == 0 || *first > *last || *last == UINT32_MAX) {
        error = "'" + std::string(text) +
                "' is not a range FIRST-LAST of uids from 1 to 4294967294 (e.g. \"70000-79999\")";
        return std::nullopt;
    }
    return UidRange{*first, *last};
}

std::optional<std::string> uidRangeClash(UidRange range, const std::filesystem::path& passwd,
                                         const std::filesystem::path& group) {
    if (auto user = clashIn(passwd, range, "user")) return user;
    return clashIn(group, range, "group");
}

std::optional<std::uint32_t> confinedUid(const std::vector<std::string>& argv) {
    for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] != "-runas") continue;
        std::string_view spec = argv[i + 1];
        return parseId(spec.substr(0, spec.find(':')));
    }
    return std::nullopt;
}

std::uint32_t allocateUid(const std::filesystem::path& runtimeRoot, std::string_view self,
                          UidRange range) {
    std::set<std::uint32_t> taken;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(runtimeRoot, ec)) {
        auto name = entry.path().filename().string();
        if (name == self || checkInstanceName(name) || !entry.is_directory()) continue;
        std::string problem;
        auto state = readState(RuntimePaths::forInstance(runtimeRoot, name), problem);
        if (!state) continue;
        if (auto uid = confinedUid(state->argv)) taken.insert(*uid);
    }
    for (std::uint64_t uid = range.first; uid <= range.last; ++uid)
        if (!taken.count(static_cast<std::uint32_t>(uid))) return static_cast<std::uint32_t>(uid);
    throw std::runtime_error("no free uid in [security] uid_range " + std::to_string(range.first) +
                             "-" + std::to_string(range.last) + ": " +
                             std::to_string(taken.size()) +
                             " VMs hold them all; widen the range in corral.toml");
}

std::filesystem::path emptyRoot(const std::filesystem::path& runtimeRoot) {
    auto root = runtimeRoot / ".empty";
    std::error_code ec;
    std::filesystem::create_directories(root, ec);
    if (ec)
        throw std::runtime_error("cannot create qemu's empty root " + root.string() + ": " +
                                 ec.message());
    // Owned by root (corrald), 0555: qemu's uid can neither write into it nor change it.
    if (::chmod(root.c_str(), 0555) != 0)
        throw std::runtime_error("cannot chmod " + root.string() + ": " +
                                 std::system_category().message(errno));
    if (!std::filesystem::is_empty(root, ec))
        throw std::runtime_error("qemu's root " + root.string() +
                                 " is not empty; remove what is in it");
    return root;
}

std::vector<std::string> confineArgv(std::uint32_t uid, const std::filesystem::path& root) {
    auto id = std::to_string(uid);
    return {"-sandbox", "on,obsolete=deny,spawn=deny,resourcecontrol=deny",
            "-runas",   id + ":" + id,
            "-chroot",  root.string()};
}

std::optional<std::string> unconfinedWhy(const ConfinePolicy& policy, bool specConfine) {
    if (!specConfine) return "its definition sets [security] confine = false";
    if (!policy.on) return "corrald does not run as root";
    return std::nullopt;
}

std::vector<std::string> launchConfinement(const ConfinePolicy& policy, bool specConfine,
                                           const std::filesystem::path& runtimeRoot,
                                           std::string_view name) {
    if (unconfinedWhy(policy, specConfine)) return {};
    auto argv = confineArgv(allocateUid(runtimeRoot, name, policy.range), emptyRoot(runtimeRoot));
    if (policy.preload) {
        auto preload = policy.preload();
        argv.insert(argv.end(), preload.begin(), preload.end());
    }
    return argv;
}

}  // namespace corral::hypervisor
