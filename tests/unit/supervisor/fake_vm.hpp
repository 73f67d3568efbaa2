// Fakes for the lifecycle state machine: a clock the test advances by hand and a VM control
// that records what it was asked and lets the test decide what QEMU "does".
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "supervisor/clock.hpp"
#include "supervisor/vm_control.hpp"

namespace corral::supervisor::test {

class FakeClock : public Clock {
  public:
    TimePoint now() const override { return now_; }
    // Moves with now().
    std::uint64_t realtimeUsec() const override;
    std::unique_ptr<TimerHandle> schedule(Duration delay, std::function<void()> fn) override;

    // Moves time forward, running every timer that falls due, in order.
    void advance(Duration by);
    std::size_t pendingTimers() const;
    // When the next timer falls due, if one is pending.
    std::optional<TimePoint> nextDue() const;

  private:
    struct Entry {
        TimePoint due;
        std::function<void()> fn;
    };
    TimePoint now_{};
    std::multimap<TimePoint, std::shared_ptr<Entry>> timers_;
};

class FakeVm : public VmControl {
  public:
    void setEvents(VmEvents events) override { events_ = std::move(events); }
    void launch(std::function<void(Outcome<pid_t>)> done) override;
    void command(VmCommand command, Done done) override;
    void signal(int signo) override { signals.push_back(signo); }

    // Completes the pending launch.
    void finishLaunch(Outcome<pid_t> result);
    void exit(ExitInfo info) { events_.exited(info); }
    void guestShutdown() { events_.shutdown(ShutdownCause::Guest); }
    void monitorQuit() { events_.shutdown(ShutdownCause::MonitorQuit); }
    void otherShutdown() { events_.shutdown(ShutdownCause::Other); }
    void agent(bool up) { events_.agentChanged(up); }

    // When set, launch() completes at once with this pid.
    std::optional<pid_t> autoLaunchPid;
    // When set, commands are answered at once with this status.
    bool answerCommands = true;

    int launches = 0;
    std::vector<VmCommand> commands;
    std::vector<int> signals;
    std::vector<Done> pendingCommands;

  private:
    VmEvents events_;
    std::function<void(Outcome<pid_t>)> launchDone_;
};

}  // namespace corral::supervisor::test
