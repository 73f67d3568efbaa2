#include "supervisor/uid_pool.hpp"

#include <unistd.h>

#include <stdexcept>

#include "supervisor/log_files.hpp"
#include "supervisor/migration_tls.hpp"

namespace corral::supervisor {

hypervisor::UidRange uidRangeSetting(const std::string& where,
                                     const std::optional<std::string>& text,
                                     const std::filesystem::path& passwd,
                                     const std::filesystem::path& group) {
    auto range = hypervisor::kDefaultUidRange;
    std::string what = "the default security.uid_range";
    if (text) {
        std::string error;
        auto parsed = hypervisor::parseUidRange(*text, error);
        if (!parsed) throw std::runtime_error(where + "security.uid_range " + error);
        range = *parsed;
        what = "security.uid_range";
    }
    if (auto clash = hypervisor::uidRangeClash(range, passwd, group))
        throw std::runtime_error(where + what + " " + std::to_string(range.first) + "-" +
                                 std::to_string(range.last) + ": " + *clash +
                                 "; choose a range no account uses");
    return range;
}

hypervisor::ConfinePolicy confinePolicy(hypervisor::UidRange range,
                                        const std::filesystem::path& tlsDir, LogSink log) {
    hypervisor::ConfinePolicy policy;
    policy.on = ::geteuid() == 0;
    policy.range = range;
    policy.preload = [tlsDir] { return tlsCredsArgv(tlsDir); };
    policy.unconfined = [log](const std::string& name, const std::filesystem::path& logFile,
                              const std::string& why) {
        auto line = unconfinedLine(name, why);
        if (log) log(4, line);
        std::error_code ec;
        if (!std::filesystem::exists(logFile, ec)) return;
        if (auto error = appendCorraldLine(logFile, line); error && log) log(4, *error);
    };
    return policy;
}

std::string unconfinedLine(const std::string& name, const std::string& why) {
    return name + ": UNCONFINED: qemu starts without confinement (" + why +
           "): as corrald's user with its capabilities, no seccomp sandbox and the whole host "
           "filesystem in view; a guest that escapes qemu gets all of that";
}

}  // namespace corral::supervisor
