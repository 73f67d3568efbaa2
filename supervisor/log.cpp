#include "supervisor/log.hpp"

#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <cstdio>
#include <cstdlib>

#include "hypervisor/instance_name.hpp"

namespace corral::supervisor {

std::vector<std::string> journalFields(int priority, const std::string& line,
                                       const InstanceFilter& isInstance) {
    std::vector<std::string> fields = {"MESSAGE=" + line, "PRIORITY=" + std::to_string(priority),
                                       "SYSLOG_IDENTIFIER=corrald"};
    auto colon = line.find(": ");
    if (colon == std::string::npos || !isInstance) return fields;
    std::string_view name(line.data(), colon);
    // Only a valid name can be an instance's; the filter then asks the registry.
    if (hypervisor::checkInstanceName(name) || !isInstance(name)) return fields;
    fields.push_back("CORRAL_INSTANCE=" + std::string(name));
    fields.push_back("OBJECT_SYSTEMD_UNIT=corral@" + std::string(name) + ".service");
    return fields;
}

LogSink stderrLog(int minimumPriority, InstanceFilter isInstance) {
    bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
    return [journal, minimumPriority, isInstance = std::move(isInstance)](int priority,
                                                                          const std::string& line) {
        if (priority > minimumPriority) return;
        if (journal) {
            auto fields = journalFields(priority, line, isInstance);
            std::vector<iovec> parts;
            for (auto& field : fields) parts.push_back({field.data(), field.size()});
            if (sd_journal_sendv(parts.data(), static_cast<int>(parts.size())) >= 0) return;
            // The journal's socket is gone: its stream (our stderr) may still take the line.
            std::fprintf(stderr, "<%d>%s\n", priority, line.c_str());
        } else {
            std::fprintf(stderr, "corrald: %s\n", line.c_str());
        }
        std::fflush(stderr);
    };
}

}  // namespace corral::supervisor
