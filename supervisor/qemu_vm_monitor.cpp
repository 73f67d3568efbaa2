// QemuVm: the health of the QMP connection. A command that times out marks the monitor
// unresponsive and a probe watches for it to answer again; a connection lost while qemu runs
// (or never made after a corrald restart, e.g. because another client holds the socket) is
// retried until it comes back. The VM itself is never touched: other instances and the guest
// keep running, and the lifecycle policy still escalates to signals if QMP stays silent.
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "hypervisor/hotplug.hpp"
#include "supervisor/qemu_vm.hpp"

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

void QemuVm::setMonitorState(MonitorState state) {
    if (state == monitorState_) return;
    monitorState_ = state;
    if (events_.monitorChanged) events_.monitorChanged(state);
}

std::optional<OpError> QemuVm::checkMonitor() const {
    if (monitorState_ != MonitorState::Disconnected) return std::nullopt;
    return OpError{ErrorKind::MonitorUnavailable,
                   name_ + ": corrald has no QMP connection to qemu (pid " +
                       std::to_string(process_ ? process_->pid() : 0) +
                       "); another client may "
                       "hold " +
                       paths_.qmpSocket.string() + ". corrald keeps reconnecting."};
}

void QemuVm::subscribeQmp(std::uint64_t generation) {
    auto alive = std::weak_ptr<bool>(alive_);
    qmp_->onNotice([this, alive](const QmpNotice& notice) {
        if (!alive.lock()) return;
        if (notice.kind == QmpNotice::Kind::Shutdown) events_.shutdown(notice.guest);
        if (notice.kind == QmpNotice::Kind::Stop) events_.runStateChanged(false);
        if (notice.kind == QmpNotice::Kind::Resume) events_.runStateChanged(true);
    });
    qmp_->onDisconnect([this, alive, generation] {
        if (!alive.lock() || generation != generation_) return;
        spawnLogged(reconnectMonitor(generation), "reconnecting QMP");
    });
}

template <typename T>
void QemuVm::runQmp(asio::awaitable<Outcome<T>> work, std::function<void(Outcome<T>)> done) {
    auto generation = generation_;
    run<T>(std::move(work), [this, generation, done = std::move(done)](Outcome<T> result) {
        bool timedOut = !result && result.error().kind == ErrorKind::Timeout;
        if (timedOut && generation == generation_ && monitorState_ == MonitorState::Connected) {
            log(4, "QMP monitor did not answer within " +
                       std::to_string(context_.qmpTimeout.count()) +
                       " ms; marked unresponsive until it answers again");
            setMonitorState(MonitorState::Unresponsive);
            spawnLogged(probeMonitor(generation), "probing QMP");
        }
        done(std::move(result));
    });
}

template void QemuVm::runQmp(asio::awaitable<Outcome<Unit>>, std::function<void(Outcome<Unit>)>);
template void QemuVm::runQmp(asio::awaitable<Outcome<std::string>>,
                             std::function<void(Outcome<std::string>)>);

asio::awaitable<void> QemuVm::probeMonitor(std::uint64_t generation) {
    asio::steady_timer pause(context_.executor);
    while (generation == generation_ && monitorState_ == MonitorState::Unresponsive) {
        auto status = co_await qmp_->queryStatus();
        if (generation != generation_ || monitorState_ != MonitorState::Unresponsive) co_return;
        if (status) {
            log(5, "QMP monitor answers again");
            setMonitorState(MonitorState::Connected);
            events_.runStateChanged(status.value().running);
            co_return;
        }
        pause.expires_after(kProbePause);
        co_await pause.async_wait(asio::use_awaitable);
    }
}

asio::awaitable<void> QemuVm::reconnectMonitor(std::uint64_t generation) {
    asio::steady_timer pause(context_.executor);
    pause.expires_after(kExitGrace);
    co_await pause.async_wait(asio::use_awaitable);
    if (generation != generation_) co_return;
    if (monitorState_ != MonitorState::Disconnected) {
        setMonitorState(MonitorState::Disconnected);
        log(4, "lost the QMP connection while qemu (pid " + std::to_string(process_->pid()) +
                   ") runs; reconnecting");
    }
    bool reported = false;
    while (generation == generation_) {
        auto link = std::make_unique<QmpLink>(context_.executor, context_.qmpTimeout);
        auto socket = paths_.qmpSocket.string();
        auto connected = co_await link->connect(std::move(socket), kReconnectWindow);
        if (generation != generation_) co_return;
        if (connected) {
            qmp_ = std::move(link);
            subscribeQmp(generation);
            co_await syncWithQemu(generation);
            if (generation == generation_) log(5, "QMP connection restored");
            co_return;
        }
        if (!reported) {
            log(4, "QMP monitor " + paths_.qmpSocket.string() + " unavailable (" +
                       connected.error().message +
                       "); another client may hold it. Retrying every " +
                       std::to_string(kReconnectPause.count()) + " s");
            reported = true;
        }
        pause.expires_after(kReconnectPause);
        co_await pause.async_wait(asio::use_awaitable);
    }
}

asio::awaitable<Outcome<RunStatus>> QemuVm::syncWithQemu(std::uint64_t generation) {
    co_await startHotplug(hotplugged());
    if (generation != generation_) co_return OpError{ErrorKind::Failed, "qemu exited"};
    auto status = co_await qmp_->queryStatus();
    if (generation != generation_) co_return OpError{ErrorKind::Failed, "qemu exited"};
    if (status) {
        setMonitorState(MonitorState::Connected);
        events_.runStateChanged(status.value().running);
    } else if (status.error().kind == ErrorKind::Timeout) {
        setMonitorState(MonitorState::Unresponsive);
        spawnLogged(probeMonitor(generation), "probing QMP");
    }
    co_return status;
}

std::vector<hypervisor::Device> QemuVm::hotplugged() const {
    std::vector<hypervisor::Device> out;
    for (const auto& d : devices_)
        if (d.hotplugged) out.push_back(d);
    return out;
}

}  // namespace corral::supervisor
