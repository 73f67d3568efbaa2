#include "supervisor/log.hpp"

#include <cstdio>
#include <cstdlib>

namespace corral::supervisor {

LogSink stderrLog(int minimumPriority) {
    bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
    return [journal, minimumPriority](int priority, const std::string& line) {
        if (priority > minimumPriority) return;
        if (journal)
            std::fprintf(stderr, "<%d>%s\n", priority, line.c_str());
        else
            std::fprintf(stderr, "corrald: %s\n", line.c_str());
        std::fflush(stderr);
    };
}

}  // namespace corral::supervisor
