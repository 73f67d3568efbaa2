#include "supervisor/instance.hpp"

#include <csignal>

namespace corral::supervisor {

namespace {

// Wraps a callback so it does nothing once the Instance is gone (VmControl may answer late).
template <typename Fn>
auto guarded(const std::shared_ptr<bool>& alive, Fn fn) {
    return [weak = std::weak_ptr<bool>(alive), fn = std::move(fn)](auto&&... args) mutable {
        if (weak.lock()) fn(std::forward<decltype(args)>(args)...);
    };
}

const char* doing(State state) {
    switch (state) {
        case State::Starting:
            return "starting";
        case State::ShuttingDown:
            return "shutting down";
        default:
            return "busy with another operation";
    }
}

long long seconds(Duration d) {
    return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

}  // namespace

std::string describe(const ExitInfo& exit) {
    // A reattached qemu is not our child: its status cannot be collected.
    if (!exit.signaled && exit.code < 0) return "exited (status unknown)";
    if (exit.signaled) return "killed by signal " + std::to_string(exit.code);
    return "exited with status " + std::to_string(exit.code);
}

Instance::Instance(std::string name, VmControl& control, Clock& clock, LifecyclePolicy policy,
                   LogSink log)
    : name_(std::move(name)),
      control_(control),
      clock_(clock),
      policy_(policy),
      log_(std::move(log)),
      alive_(std::make_shared<bool>(true)) {
    VmEvents events;
    events.exited = guarded(alive_, [this](ExitInfo exit) { onExited(exit); });
    events.shutdown = guarded(alive_, [this](ShutdownCause cause) {
        if (cause == ShutdownCause::Guest) guestShutdown_ = true;
        if (cause == ShutdownCause::MonitorQuit) monitorQuit_ = true;
    });
    events.runStateChanged = guarded(alive_, [this](bool running) {
        if (running && state_ == State::Paused && op_ == Op::None) setState(State::Running);
        if (!running && state_ == State::Running && op_ == Op::None) setState(State::Paused);
    });
    events.agentChanged = guarded(alive_, [this](bool connected) {
        if (connected == agentConnected_) return;
        agentConnected_ = connected;
        notify(kChangedAgent);
    });
    events.monitorChanged = guarded(alive_, [this](MonitorState state) {
        if (state == monitorState_) return;
        monitorState_ = state;
        notify(kChangedMonitor);
    });
    control_.setEvents(std::move(events));
}

Instance::~Instance() = default;

void Instance::log(int priority, const std::string& text) const {
    if (log_) log_(priority, name_ + ": " + text);
}

void Instance::notify(unsigned changed) {
    if (changed != 0) changed_.emit(changed);
}

void Instance::setState(State state, unsigned extraChanged) {
    unsigned changed = extraChanged;
    if (state != state_) {
        state_ = state;
        changed |= kChangedState;
    }
    notify(changed);
}

void Instance::setLastExit(std::string text) {
    lastExit_ = std::move(text);
    notify(kChangedLastExit);
}

void Instance::finishOp(Status status) {
    op_ = Op::None;
    auto done = std::move(opDone_);
    opDone_ = nullptr;
    if (done) done(std::move(status));
}

std::optional<OpError> Instance::checkIdle(const char* action) const {
    if (state_ == State::Invalid)
        return OpError{ErrorKind::InvalidDefinition, "Cannot " + std::string(action) + " " + name_ +
                                                         ": its definition is invalid (" +
                                                         lastExit_ +
                                                         "); fix the file and call Reload."};
    if (op_ != Op::None)
        return OpError{ErrorKind::Busy,
                       name_ + " is " + doing(state_) + "; try again when it is done."};
    return std::nullopt;
}

std::optional<OpError> Instance::checkUsable() const {
    if (auto busy = checkIdle("use")) return busy;
    if (state_ != State::Running && state_ != State::Paused)
        return OpError{ErrorKind::InvalidState,
                       name_ + " is " + toString(state_) + "; start it first."};
    return std::nullopt;
}

void Instance::start(Done done) {
    if (auto error = checkIdle("start")) return done(*error);
    if (state_ != State::Stopped && state_ != State::Crashed)
        return done(
            OpError{ErrorKind::InvalidState, name_ + " is already " + toString(state_) + "."});
    if (!migratedTo_.empty())
        return done(OpError{ErrorKind::InvalidState,
                            name_ + " was migrated to " + migratedTo_ +
                                " and runs there; StartWithOptions with force=true starts it "
                                "here anyway (make sure it no longer runs there)."});
    timer_.reset();  // a pending crash restart is superseded by this explicit start
    op_ = Op::Start;
    opDone_ = std::move(done);
    doLaunch();
}

void Instance::doLaunch() {
    guestShutdown_ = false;
    monitorQuit_ = false;
    killRequested_ = false;
    setState(State::Starting);
    log(6, "starting");
    auto generation = ++launchGeneration_;
    control_.launch(guarded(alive_, [this, generation](Outcome<pid_t> result) {
        afterLaunch(generation, std::move(result));
    }));
}

void Instance::afterLaunch(std::uint64_t generation, Outcome<pid_t> result) {
    if (generation != launchGeneration_ || state_ != State::Starting) return;
    if (!result) {
        log(3, "start failed: " + result.error().message);
        if (autoRestart_) {
            autoRestart_ = false;
            setLastExit("crashed: restart failed: " + result.error().message);
            setState(State::Crashed);
            finishOp(result.error());
            return scheduleRestart();
        }
        setLastExit("start failed: " + result.error().message);
        setState(State::Stopped);
        return finishOp(result.error());
    }
    autoRestart_ = false;
    pid_ = result.value();
    startedAt_ = clock_.realtimeUsec();
    log(5, "started (pid " + std::to_string(pid_) + ")");
    setState(State::Running, kChangedPid | kChangedStartedAt);
    if (op_ == Op::Reboot) setLastExit("reboot");
    finishOp(okStatus());
}

void Instance::shutdown(Duration timeout, Done done) {
    if (auto error = checkIdle("shut down")) return done(*error);
    if (state_ != State::Running && state_ != State::Paused)
        return done(OpError{ErrorKind::InvalidState,
                            name_ + " is not running (state " + toString(state_) + ")."});
    op_ = Op::Shutdown;
    opDone_ = std::move(done);
    auto limit = timeout.count() > 0 ? timeout : policy_.shutdownTimeout;
    // Only a plain Shutdown is resumed after a daemon restart: a Reboot would end stopped.
    control_.shutdownBegan(
        clock_.realtimeUsec() +
        static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(limit).count()));
    beginShutdown(limit);
}

void Instance::reboot(Done done) {
    if (auto error = checkIdle("reboot")) return done(*error);
    if (state_ != State::Running && state_ != State::Paused)
        return done(OpError{ErrorKind::InvalidState,
                            name_ + " is not running (state " + toString(state_) + ")."});
    op_ = Op::Reboot;
    opDone_ = std::move(done);
    beginShutdown(policy_.shutdownTimeout);
}

void Instance::beginShutdown(Duration timeout) {
    bool wasPaused = state_ == State::Paused;
    setState(State::ShuttingDown);
    log(6, "shutting down (ACPI powerdown, timeout " + std::to_string(seconds(timeout)) + " s)");
    shutdownTimeout_ = timeout;
    shutdownDeadline_ = clock_.now() + timeout;
    escalation_ = Escalation::Powerdown;
    // A paused guest cannot handle the ACPI event.
    if (wasPaused) control_.command(VmCommand::Cont, [](Status) {});
    powerdownTick();
}

void Instance::powerdownTick() {
    control_.command(VmCommand::Powerdown, guarded(alive_, [this](Status status) {
                         if (!status && state_ == State::ShuttingDown)
                             log(4, "system_powerdown failed: " + status.error().message);
                     }));
    auto remaining = shutdownDeadline_ - clock_.now();
    if (remaining <= Duration::zero()) return escalate();
    auto next = std::min<Duration>(kPowerdownRepeat, remaining);
    timer_ = clock_.schedule(next, guarded(alive_, [this] {
                                 if (clock_.now() >= shutdownDeadline_) return escalate();
                                 powerdownTick();
                             }));
}

void Instance::escalate() {
    auto guard = guarded(alive_, [this] { escalate(); });
    switch (escalation_) {
        case Escalation::Powerdown:
            escalation_ = Escalation::Quit;
            log(4, "guest did not power off within " + std::to_string(seconds(shutdownTimeout_)) +
                       " s; sending quit");
            control_.command(VmCommand::Quit, [](Status) {});
            break;
        case Escalation::Quit:
            escalation_ = Escalation::Term;
            log(4, "qemu still running after quit; sending SIGTERM");
            control_.signal(SIGTERM);
            break;
        case Escalation::Term:
        case Escalation::Kill:
            escalation_ = Escalation::Kill;
            log(4, "qemu still running after SIGTERM; sending SIGKILL");
            control_.signal(SIGKILL);
            break;
    }
    timer_ = clock_.schedule(kEscalationGrace, guard);
}

void Instance::kill(Done done) {
    if (state_ == State::Crashed && timer_) {
        timer_.reset();
        log(5, "pending restart cancelled");
        return done(okStatus());
    }
    if (state_ != State::Running && state_ != State::Paused && state_ != State::ShuttingDown &&
        state_ != State::Starting)
        return done(OpError{ErrorKind::InvalidState,
                            name_ + " is not running (state " + toString(state_) + ")."});
    // Kill overrides whatever is in progress: that operation completes when the process exits.
    if (op_ == Op::None) {
        op_ = Op::Kill;
        opDone_ = std::move(done);
    } else {
        auto previous = std::move(opDone_);
        opDone_ = [previous = std::move(previous), done = std::move(done)](Status status) {
            if (previous) previous(status);
            done(okStatus());
        };
        if (op_ == Op::Reboot) op_ = Op::Kill;
    }
    killRequested_ = true;
    log(5, "killing qemu (SIGKILL)");
    control_.signal(SIGKILL);
}

void Instance::reset(Done done) {
    if (auto error = checkUsable()) return done(*error);
    log(6, "resetting");
    control_.command(VmCommand::Reset, std::move(done));
}

void Instance::pause(Done done) {
    if (auto error = checkUsable()) return done(*error);
    // A request whose goal is already reached is refused, as Start of a running VM is.
    if (state_ == State::Paused)
        return done(OpError{ErrorKind::InvalidState, name_ + " is already paused."});
    op_ = Op::Pause;
    opDone_ = std::move(done);
    control_.command(VmCommand::Stop, guarded(alive_, [this](Status status) {
                         if (op_ != Op::Pause) return;
                         if (status && state_ == State::Running) {
                             log(6, "paused");
                             setState(State::Paused);
                         }
                         finishOp(std::move(status));
                     }));
}

void Instance::resume(Done done) {
    if (auto error = checkUsable()) return done(*error);
    if (state_ == State::Running)
        return done(OpError{ErrorKind::InvalidState, name_ + " is already running."});
    op_ = Op::Resume;
    opDone_ = std::move(done);
    control_.command(VmCommand::Cont, guarded(alive_, [this](Status status) {
                         if (op_ != Op::Resume) return;
                         if (status && state_ == State::Paused) {
                             log(6, "resumed");
                             setState(State::Running);
                         }
                         finishOp(std::move(status));
                     }));
}

void Instance::markInvalid(const std::string& why) {
    timer_.reset();
    lastExit_ = why;
    setState(State::Invalid, kChangedLastExit);
}

void Instance::markValid() {
    if (state_ == State::Invalid) setState(State::Stopped);
}

}  // namespace corral::supervisor
