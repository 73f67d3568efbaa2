// What happens when the qemu process ends (the reason is derived from what was in progress), and
// taking over one that a previous daemon left running.
#include <algorithm>
#include <utility>

#include "supervisor/instance.hpp"

namespace corral::supervisor {

std::string Instance::shutdownReason() const {
    if (killRequested_) return "killed";
    switch (escalation_) {
        case Escalation::Powerdown:
            return "host-shutdown";
        case Escalation::Quit:
            return "host-shutdown: guest ignored ACPI powerdown, quit";
        case Escalation::Term:
            return "host-shutdown: guest ignored ACPI powerdown and quit, SIGTERM";
        case Escalation::Kill:
            break;
    }
    return "host-shutdown: guest ignored ACPI powerdown, quit and SIGTERM, SIGKILL";
}

void Instance::onExited(ExitInfo exit) {
    timer_.reset();
    unsigned changed = kChangedPid | (agentConnected_ ? kChangedAgent : 0u);
    pid_ = 0;
    agentConnected_ = false;
    notify(changed);

    switch (state_) {
        case State::Starting: {
            ++launchGeneration_;  // the launch's own failure report is now redundant
            auto why = killRequested_ ? std::string("killed during start")
                                      : "qemu " + describe(exit) + " during start";
            if (!killRequested_ && !exit.lastLogLine.empty())
                why += " (qemu.log: " + exit.lastLogLine + ")";
            log(3, "start failed: " + why);
            if (autoRestart_ && !killRequested_) {
                autoRestart_ = false;
                setLastExit("crashed: restart failed: " + why);
                setState(State::Crashed);
                finishOp(OpError{ErrorKind::Failed, name_ + ": " + why});
                return scheduleRestart();
            }
            autoRestart_ = false;
            setLastExit(killRequested_ ? "killed" : "start failed: " + why);
            setState(State::Stopped);
            return finishOp(OpError{ErrorKind::Failed, name_ + ": " + why});
        }
        case State::ShuttingDown: {
            auto reason = shutdownReason();
            log(5, "stopped (" + reason + ", qemu " + describe(exit) + ")");
            setLastExit(reason);
            if (op_ == Op::Reboot) return doLaunch();
            setState(State::Stopped);
            return finishOp(okStatus());
        }
        case State::Running:
        case State::Paused:
            if (migrating_) {
                migrating_ = false;
                log(5, "stopped (migrated to " + migratedTo_ + ")");
                setLastExit("migrated to " + migratedTo_);
                setState(State::Stopped);
                return finishOp(okStatus());
            }
            if (!savedExit_.empty()) {
                auto text = std::exchange(savedExit_, {});
                log(5, "stopped (" + text + ")");
                setLastExit(text);
                setState(State::Stopped);
                return finishOp(okStatus());
            }
            if (killRequested_ || guestShutdown_ || monitorQuit_) {
                auto reason = killRequested_   ? "killed"
                              : guestShutdown_ ? "guest-poweroff"
                                               : "monitor-quit";
                log(5, std::string("stopped (") + reason + ")");
                setLastExit(reason);
                setState(State::Stopped);
                return finishOp(killRequested_
                                    ? okStatus()
                                    : Status(OpError{ErrorKind::Failed, name_ + " powered off."}));
            }
            return onCrash(exit);
        default:
            return;
    }
}

void Instance::onCrash(const ExitInfo& exit) {
    log(3, "crashed: qemu " + describe(exit));
    setLastExit("crashed: " + describe(exit));
    setState(State::Crashed);
    if (op_ != Op::None) finishOp(OpError{ErrorKind::Failed, name_ + " crashed."});
    if (policy_.restartOnCrash) scheduleRestart();
}

void Instance::scheduleRestart() {
    if (!migratedTo_.empty()) return;  // it runs on the destination now
    auto now = clock_.now();
    while (!restarts_.empty() && now - restarts_.front() >= kRestartWindow) restarts_.pop_front();
    if (restarts_.size() >= kMaxRestartsPerWindow) {
        log(3, "crashed " + std::to_string(restarts_.size()) +
                   " times within 60 s; not restarting again");
        return setLastExit(lastExit_ + " (restart limit reached)");
    }
    // Backoff 1, 2, 4, 8, 16 s: a VM that crashes at once does not spin.
    auto delay =
        std::chrono::duration_cast<Duration>(std::chrono::seconds(1LL << restarts_.size()));
    restarts_.push_back(now);
    log(5, "restarting in " +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(delay).count()) +
               " s");
    timer_ = clock_.schedule(delay, [this, alive = std::weak_ptr<bool>(alive_)] {
        if (!alive.lock() || state_ != State::Crashed || op_ != Op::None) return;
        op_ = Op::Start;
        autoRestart_ = true;
        doLaunch();
    });
}

void Instance::adopt(pid_t pid, bool running, std::uint64_t startedAtUsec,
                     std::uint64_t shutdownDeadlineUsec) {
    pid_ = pid;
    startedAt_ = startedAtUsec;
    guestShutdown_ = false;
    monitorQuit_ = false;
    log(5, "reattached to running qemu (pid " + std::to_string(pid) + ")");
    setState(running ? State::Running : State::Paused, kChangedPid | kChangedStartedAt);
    if (shutdownDeadlineUsec != 0) resumeShutdown(shutdownDeadlineUsec);
}

// The caller of the Shutdown went with the previous daemon, the intent did not: the escalation
// goes on with what is left of its timeout (at least a moment for ACPI).
void Instance::resumeShutdown(std::uint64_t deadlineUsec) {
    auto now = clock_.realtimeUsec();
    auto left = std::chrono::microseconds(deadlineUsec > now ? deadlineUsec - now : 0);
    auto timeout =
        std::max<Duration>(std::chrono::duration_cast<Duration>(left), std::chrono::seconds(1));
    log(5, "resuming a shutdown that a corrald restart interrupted (" +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
               " s left)");
    // Called from finishOp, so never after this Instance is gone.
    shutdown(timeout, [this](Status status) {
        if (!status) log(4, "resumed shutdown: " + status.error().message);
    });
}

void Instance::setMigratedTo(std::string destination) {
    migratedTo_ = std::move(destination);
}

void Instance::migratedAway(std::string destination, Done done) {
    if (state_ != State::Running && state_ != State::Paused)
        return done(OpError{ErrorKind::InvalidState, name_ + " has no qemu to stop."});
    migratedTo_ = std::move(destination);
    migrating_ = true;
    timer_.reset();
    control_.command(VmCommand::Quit, std::move(done));
}

void Instance::savedAway(std::string lastExit, Done done) {
    if (state_ != State::Running && state_ != State::Paused)
        return done(OpError{ErrorKind::InvalidState, name_ + " has no qemu to stop."});
    savedExit_ = std::move(lastExit);
    timer_.reset();
    control_.command(VmCommand::Quit, std::move(done));
}

}  // namespace corral::supervisor
