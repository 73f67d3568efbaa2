// RunningQemu: while qemu runs, its qemu.log and console.log are rotated by copy and truncate once
// they reach their bound (qemu keeps writing to the descriptors it opened at start).
#include "supervisor/running_qemu.hpp"

namespace corral::supervisor {

boost::asio::awaitable<void> RunningQemu::rotateLogs() {
    for (;;) {
        co_await life_.sleep(kLogCheckInterval);
        for (const auto& file : {paths_.logFile, paths_.consoleLog}) {
            Rotation done;
            if (auto error = rotateLog(file, context_.logBound, done)) {
                log(4, *error);
            } else if (done.droppedBytes > 0) {
                log(4, file.filename().string() + " grew past its bound within " +
                           std::to_string(kLogCheckInterval.count()) + " s: its oldest " +
                           std::to_string(done.droppedBytes) + " bytes were dropped");
            }
        }
    }
}

}  // namespace corral::supervisor
