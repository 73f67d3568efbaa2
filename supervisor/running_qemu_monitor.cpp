// RunningQemu: the health of the QMP connection. A command that times out marks the monitor
// unresponsive and a probe watches for it to answer again; a connection lost while qemu runs
// (or never made after a corrald restart, e.g. because another client holds the socket) is
// retried until it comes back. The VM itself is never touched: other instances and the guest
// keep running, and the lifecycle policy still escalates to signals if QMP stays silent.
#include "supervisor/running_qemu.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// qemu usually closes its monitor because it exits: the exit watcher gets this long to say so.
constexpr auto kExitGrace = 500ms;
constexpr auto kProbePause = 1s;
constexpr auto kReconnectPause = 5s;
constexpr auto kReconnectWindow = 1s;

}  // namespace

void RunningQemu::setMonitorState(MonitorState state) {
    if (state == monitorState_) return;
    monitorState_ = state;
    notices_.monitorChanged.emit(state);
}

std::optional<OpError> RunningQemu::checkMonitor() const {
    if (monitorState_ != MonitorState::Disconnected) return std::nullopt;
    return OpError{ErrorKind::MonitorUnavailable,
                   name_ + ": corrald has no QMP connection to qemu (pid " + std::to_string(pid()) +
                       "); another client may hold " + paths_.qmpSocket.string() +
                       ". corrald keeps reconnecting."};
}

void RunningQemu::subscribe() {
    qmpSubscriptions_.clear();
    qmpSubscriptions_.push_back(qmp_->notices.connect([this](const QmpNotice& notice) {
        if (notice.kind == QmpNotice::Kind::Shutdown)
            notices_.shutdown.emit(notice.guest  ? ShutdownCause::Guest
                                   : notice.quit ? ShutdownCause::MonitorQuit
                                                 : ShutdownCause::Other);
        if (notice.kind == QmpNotice::Kind::Stop) notices_.runStateChanged.emit(false);
        if (notice.kind == QmpNotice::Kind::Resume) notices_.runStateChanged.emit(true);
        if (notice.kind == QmpNotice::Kind::Migration || notice.kind == QmpNotice::Kind::BlockJob)
            notices_.migration.emit(notice.status);
    }));
    qmpSubscriptions_.push_back(qmp_->disconnected.connect(
        [this] { life_.spawn(reconnectMonitor(), "reconnecting QMP"); }));
}

template <typename T>
asio::awaitable<Outcome<T>> RunningQemu::watched(asio::awaitable<Outcome<T>> call) {
    auto result = co_await life_.guard(std::move(call));
    bool timedOut = !result && result.error().kind == ErrorKind::Timeout;
    if (timedOut && monitorState_ == MonitorState::Connected) {
        log(4, "QMP monitor did not answer within " + std::to_string(context_.qmpTimeout.count()) +
                   " ms; marked unresponsive until it answers again");
        setMonitorState(MonitorState::Unresponsive);
        life_.spawn(probeMonitor(), "probing QMP");
    }
    co_return result;
}

template asio::awaitable<Outcome<Unit>> RunningQemu::watched(asio::awaitable<Outcome<Unit>>);
template asio::awaitable<Outcome<std::string>> RunningQemu::watched(
    asio::awaitable<Outcome<std::string>>);

asio::awaitable<void> RunningQemu::probeMonitor() {
    while (monitorState_ == MonitorState::Unresponsive) {
        auto status = co_await life_.guard(qmp_->queryStatus());
        if (monitorState_ != MonitorState::Unresponsive) co_return;
        if (status) {
            log(5, "QMP monitor answers again");
            setMonitorState(MonitorState::Connected);
            notices_.runStateChanged.emit(status.value().running);
            co_return;
        }
        co_await life_.sleep(kProbePause);
    }
}

std::optional<OpError> RunningQemu::checkMonitorOwner(const QmpLink& link) const {
    auto peer = link.peerPid();
    if (peer == pid()) return std::nullopt;
    return OpError{ErrorKind::Failed, name_ + ": " + paths_.qmpSocket.string() +
                                          " is served by pid " + std::to_string(peer) +
                                          ", not by " + name_ + "'s qemu (pid " +
                                          std::to_string(pid()) + "): another qemu of " + name_ +
                                          " runs outside corrald's control; stop it first"};
}

asio::awaitable<void> RunningQemu::reconnectMonitor() {
    co_await life_.sleep(kExitGrace);
    if (monitorState_ != MonitorState::Disconnected) {
        setMonitorState(MonitorState::Disconnected);
        log(4, "lost the QMP connection while qemu (pid " + std::to_string(pid()) +
                   ") runs; reconnecting");
    }
    bool reported = false;
    for (;;) {
        auto link = context_.parts.qmp(context_.qmpTimeout);
        auto socket = paths_.qmpSocket.string();
        auto connected = co_await life_.guard(link->connect(std::move(socket), kReconnectWindow));
        if (connected) {
            if (auto foreign = checkMonitorOwner(*link)) {
                link->close();
                connected = *foreign;
            }
        }
        if (connected) {
            qmp_->close();
            qmp_ = std::move(link);
            subscribe();
            co_await syncWithQemu();
            log(5, "QMP connection restored");
            co_return;
        }
        if (!reported) {
            log(4, "QMP monitor " + paths_.qmpSocket.string() + " unavailable (" +
                       connected.error().message +
                       "); another client may hold it. Retrying every " +
                       std::to_string(kReconnectPause.count()) + " s");
            reported = true;
        }
        co_await life_.sleep(kReconnectPause);
    }
}

asio::awaitable<Outcome<RunStatus>> RunningQemu::syncWithQemu() {
    co_await startHotplug(hotplugged());
    auto status = co_await life_.guard(qmp_->queryStatus());
    if (status) {
        setMonitorState(MonitorState::Connected);
        notices_.runStateChanged.emit(status.value().running);
    } else if (status.error().kind == ErrorKind::Timeout) {
        setMonitorState(MonitorState::Unresponsive);
        life_.spawn(probeMonitor(), "probing QMP");
    }
    co_return status;
}

}  // namespace corral::supervisor
