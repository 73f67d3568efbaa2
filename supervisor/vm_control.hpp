// What the lifecycle state machine needs from one VM. QemuVm implements it on top of
// hypervisor/ (process, QMP, agent); unit tests use a fake with canned results.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "supervisor/op_error.hpp"

namespace corral::supervisor {

// How a qemu process ended, as waitpid reports it.
struct ExitInfo {
    ExitInfo() = default;
    ExitInfo(bool signaled_, int code_, std::string lastLogLine_ = {})
        : signaled(signaled_), code(code_), lastLogLine(std::move(lastLogLine_)) {}

    bool signaled = false;
    int code = 0;             // exit status, or the signal number when signaled
    std::string lastLogLine;  // the last line qemu wrote to qemu.log (its reason, if it had one)
};

// "exited with status 1", "killed by signal 9".
std::string describe(const ExitInfo& exit);

// Commands the state machine sends over QMP.
enum class VmCommand { Powerdown, Quit, Reset, Stop, Cont };

const char* toString(VmCommand command);

// corrald's QMP connection to one qemu: "none" (no qemu), "connected", "unresponsive" (a command
// timed out; probing until it answers), "disconnected" (lost or never made; reconnecting).
enum class MonitorState { None, Connected, Unresponsive, Disconnected };

const char* toString(MonitorState state);

// Who asked QEMU to shut down (QMP SHUTDOWN's `guest` and `reason`): the guest (poweroff inside
// the VM), a `quit` on the monitor (corrald's escalation or an administrator's Monitor call), or
// anything else (a signal to qemu, ...).
enum class ShutdownCause { Guest, MonitorQuit, Other };

// Callbacks a VmControl raises on the io_context; set once by the Instance that owns it.
struct VmEvents {
    std::function<void(ExitInfo)> exited;               // the process is gone (reaped)
    std::function<void(ShutdownCause)> shutdown;        // QMP SHUTDOWN
    std::function<void(bool running)> runStateChanged;  // QMP STOP / RESUME
    std::function<void(bool connected)> agentChanged;   // negotiator channel up/down
    std::function<void(MonitorState)> monitorChanged;   // QMP connection health
};

class VmControl {
  public:
    virtual ~VmControl() = default;

    virtual void setEvents(VmEvents events) = 0;

    // Spawns qemu paused, connects QMP and the agent, resumes the vCPUs; reports the pid.
    // If the process dies meanwhile, `done` gets an error and `exited` is raised as well.
    virtual void launch(std::function<void(Outcome<pid_t>)> done) = 0;

    // Sends one QMP command; `done` when QEMU answered.
    virtual void command(VmCommand command, Done done) = 0;

    // Sends a signal to the qemu process, if there is one.
    virtual void signal(int signo) = 0;

    // A Shutdown began and must end by `deadlineUsec` (CLOCK_REALTIME), so that a restarted
    // daemon can resume it.
    virtual void shutdownBegan(std::uint64_t deadlineUsec) { (void)deadlineUsec; }
};

}  // namespace corral::supervisor
