// The lifecycle state machine of one VM: start, graceful shutdown with escalation, kill,
// reboot, reset, pause/resume, guest poweroff and crash detection with a restart policy.
// It only talks to a VmControl and a Clock, so it is tested without qemu or D-Bus.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/signal.hpp"
#include "supervisor/clock.hpp"
#include "supervisor/op_error.hpp"
#include "supervisor/vm_control.hpp"

namespace corral::supervisor {

enum class State { Stopped, Starting, Running, Paused, ShuttingDown, Crashed, Invalid };

// The D-Bus spelling: "stopped", "shutting-down", ...
const char* toString(State state);

struct LifecyclePolicy {
    Duration shutdownTimeout = std::chrono::seconds(120);
    bool restartOnCrash = false;
};

// Timing of the escalation and restart policy; tests shrink nothing, they advance a fake clock.
inline constexpr Duration kPowerdownRepeat = std::chrono::seconds(5);
inline constexpr Duration kEscalationGrace = std::chrono::seconds(3);
inline constexpr Duration kRestartWindow = std::chrono::seconds(60);
inline constexpr unsigned kMaxRestartsPerWindow = 5;

// Bits naming which properties changed, for PropertiesChanged.
enum ChangedProperty : unsigned {
    kChangedState = 1,
    kChangedPid = 2,
    kChangedStartedAt = 4,
    kChangedAgent = 8,
    kChangedLastExit = 16,
    kChangedDefinition = 32,  // Machine, Vcpus, MemoryBytes, Devices (after Reload)
    kChangedMonitor = 64,
    kChangedDevices = 128,    // raised through Vm::devicesChanged, not by the Instance
    kChangedMigration = 256,  // MigrationState, MigrationProgress (supervisor/migration_source)
    kChangedSaved = 512,      // HasSavedState (supervisor/qemu_vm_save.cpp)
    kChangedBackup = 1024,    // BackupState, BackupProgress (supervisor/backup_vm.cpp)
    kChangedQemuGa = 2048,    // QemuGaConnected (supervisor/running_qemu_qga.cpp)
};

// Priority (syslog numbers: 3 err, 4 warning, 5 notice, 6 info) and one line of text.
using LogSink = std::function<void(int priority, const std::string& line)>;

class Instance {
  public:
    Instance(std::string name, VmControl& control, Clock& clock, LifecyclePolicy policy,
             LogSink log);
    ~Instance();
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;

    const std::string& name() const { return name_; }
    State state() const { return state_; }
    pid_t pid() const { return pid_; }
    std::uint64_t startedAtUsec() const { return startedAt_; }
    bool agentConnected() const { return agentConnected_; }
    MonitorState monitorState() const { return monitorState_; }
    const std::string& lastExit() const { return lastExit_; }
    const LifecyclePolicy& policy() const { return policy_; }
    void setPolicy(LifecyclePolicy policy) { policy_ = policy; }

    // Raised with a mask of ChangedProperty bits after every change; any number of subscribers.
    Signal<unsigned>& changed() { return changed_; }

    void start(Done done);
    // timeout 0: the instance's default.
    void shutdown(Duration timeout, Done done);
    void kill(Done done);
    // Graceful shutdown, then start again (the VmControl's launch keeps the devices: rebooting()).
    void reboot(Done done);
    void reset(Done done);
    void pause(Done done);
    void resume(Done done);

    // Takes over a live VM found at daemon start (reattach). A Shutdown the previous daemon began
    // (deadline, CLOCK_REALTIME µs; 0: none) goes on with what is left of its timeout.
    void adopt(pid_t pid, bool running, std::uint64_t startedAtUsec,
               std::uint64_t shutdownDeadlineUsec = 0);
    // The definition is broken: no operation is possible until it is fixed and reloaded.
    void markInvalid(const std::string& why);
    // A valid definition replaced an invalid one.
    void markValid();

    // Live migration (instance_exit.cpp). The VM now runs on `destination`: qemu gets `quit`, and
    // its exit makes the instance stopped with LastExit "migrated to DESTINATION".
    void migratedAway(std::string destination, Done done);
    // Where the VM was migrated to ("": not migrated away). While set, start() refuses: the VM
    // runs elsewhere and starting it here too would run it twice (on shared disks).
    const std::string& migratedTo() const { return migratedTo_; }
    void setMigratedTo(std::string destination);

    // Managed save (instance_exit.cpp): the VM's state is in its saved-state file; qemu gets
    // `quit`, and its exit makes the instance stopped with LastExit `lastExit`.
    void savedAway(std::string lastExit, Done done);

    // nullopt when the VM runs (or is paused) and no lifecycle operation is in progress;
    // otherwise the error to give a caller that wants to use the VM (hotplug, agent, monitor).
    std::optional<OpError> checkUsable() const;
    // A Reboot is under way: the qemu it launches keeps the devices the last one had.
    bool rebooting() const { return op_ == Op::Reboot; }

  private:
    enum class Op { None, Start, Shutdown, Kill, Reboot, Pause, Resume, Reset };
    enum class Escalation { Powerdown, Quit, Term, Kill };

    std::optional<OpError> checkIdle(const char* action) const;
    void setState(State state, unsigned extraChanged = 0);
    void setLastExit(std::string text);
    void notify(unsigned changed);
    void finishOp(Status status);
    void doLaunch();
    void afterLaunch(std::uint64_t generation, Outcome<pid_t> result);
    void beginShutdown(Duration timeout);
    void resumeShutdown(std::uint64_t deadlineUsec);
    void powerdownTick();
    void escalate();
    void onExited(ExitInfo exit);
    void onCrash(const ExitInfo& exit);
    void scheduleRestart();
    std::string shutdownReason() const;
    void log(int priority, const std::string& text) const;

    std::string name_;
    VmControl& control_;
    Clock& clock_;
    LifecyclePolicy policy_;
    LogSink log_;
    Signal<unsigned> changed_;

    State state_ = State::Stopped;
    pid_t pid_ = 0;
    std::uint64_t startedAt_ = 0;
    bool agentConnected_ = false;
    MonitorState monitorState_ = MonitorState::None;
    std::string lastExit_;
    std::string migratedTo_;
    bool migrating_ = false;  // a migratedAway() quit is on its way
    std::string savedExit_;   // a savedAway() quit is on its way: the LastExit it makes

    Op op_ = Op::None;
    Done opDone_;
    std::uint64_t launchGeneration_ = 0;
    bool guestShutdown_ = false;
    bool monitorQuit_ = false;  // a QMP quit outside a Shutdown (Monitor passthrough)
    Escalation escalation_ = Escalation::Powerdown;
    TimePoint shutdownDeadline_;
    Duration shutdownTimeout_{};
    std::unique_ptr<TimerHandle> timer_;
    bool killRequested_ = false;
    bool autoRestart_ = false;  // the launch in progress comes from the crash policy
    std::deque<TimePoint> restarts_;
    std::shared_ptr<bool> alive_;
};

}  // namespace corral::supervisor
