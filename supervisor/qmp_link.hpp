// The supervisor's only door to QMP: plain-typed commands, events and the raw passthrough. An
// interface, so that what runs on top of it (monitor health, reattach) is tested against a fake;
// makeQmpLink() is the real one over a monitor::QmpClient, and all JSON handling lives in
// qmp_link.cpp (DESIGN.md: no RapidJSON values in supervisor/ beyond that translation unit).
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/signal.hpp"
#include "supervisor/migration_info.hpp"
#include "supervisor/op_error.hpp"
#include "supervisor/stats.hpp"

namespace corral::monitor {
class QmpClient;
struct QmpEvent;
}  // namespace corral::monitor

namespace corral::supervisor {

// The QMP events lifecycle policy cares about.
struct QmpNotice {
    enum class Kind { Shutdown, Stop, Resume, Migration, BlockJob } kind;
    bool guest = false;  // Shutdown: initiated by the guest (poweroff inside the VM)
    bool quit = false;   // Shutdown: asked for by a QMP `quit` (reason "host-qmp-quit")
    // Migration: MIGRATION's status ("active", "completed", ...); BlockJob: the event's name
    // (BLOCK_JOB_READY, _COMPLETED, _CANCELLED, _ERROR).
    std::string status = {};
};

// query-status: whether the vCPUs run and QEMU's run state ("running", "paused", "prelaunch":
// started with -S and never continued, ...).
struct RunStatus {
    bool running = false;
    std::string status;
};

// One QMP connection. A call's coroutine never touches the link after it suspended, so a caller
// that holds the link (shared_ptr) may outlive whoever made it.
class QmpLink {
  public:
    virtual ~QmpLink() = default;

    // Connects and negotiates, retrying for `window` while QEMU creates the socket.
    virtual boost::asio::awaitable<Status> connect(std::string socket,
                                                   std::chrono::milliseconds window) = 0;
    // Runs a command without arguments ("cont", "system_powerdown", ...).
    virtual boost::asio::awaitable<Status> command(std::string name) = 0;
    virtual boost::asio::awaitable<Outcome<RunStatus>> queryStatus() = 0;
    // Raw passthrough: `json` is {"execute": ..., "arguments": ...}; returns the reply's
    // "return" value as compact JSON, or the QMP error as an OpError.
    virtual boost::asio::awaitable<Outcome<std::string>> passthrough(std::string json) = 0;
    virtual bool connected() const = 0;
    // The process serving the monitor socket (0 when not connected): a link is only trusted when
    // this is the qemu it was opened for.
    virtual pid_t peerPid() const = 0;
    // Closes our side: pending calls end with an error; `disconnected` is not raised.
    virtual void close() = 0;

    // SHUTDOWN, STOP, RESUME and MIGRATION, as they arrive.
    corral::Signal<const QmpNotice&> notices;
    // Once, when QEMU closes the connection (after every notice before it was delivered).
    corral::Signal<> disconnected;
};

// Every command gets `timeout` to answer.
std::shared_ptr<QmpLink> makeQmpLink(boost::asio::any_io_executor executor,
                                     std::chrono::milliseconds timeout);

// The "return" values of query-cpus-fast and query-blockstats, as passthrough() gives them, in
// plain types.
Outcome<std::vector<VcpuThread>> parseVcpuThreads(std::string_view json);
Outcome<std::vector<DiskSample>> parseBlockStats(std::string_view json);

// {"execute": command, "arguments": {key: value, ...}} with string arguments, for passthrough().
std::string qmpCommandJson(std::string_view command,
                           const std::vector<std::pair<std::string_view, std::string_view>>& args);
// The notice an event makes, if it is one of QmpLink::notices'.
std::optional<QmpNotice> qmpNoticeOf(const monitor::QmpEvent& event);
// The "return" value of query-migrate.
Outcome<MigrationQuery> parseMigrationQuery(std::string_view json);

// The client under a link made by makeQmpLink, for the hypervisor layer's hotplug, which speaks
// QMP itself.
std::shared_ptr<monitor::QmpClient> qmpClientOf(QmpLink& link);

}  // namespace corral::supervisor
