// The VM's qemu-guest-agent ([agent] qemu_ga): a probe that keeps QemuGaConnected up to date,
// shutdown through guest-shutdown before ACPI, and what GuestInfo reads from it. Every call is
// bounded by agent::QgaClient; a guest that sends garbage or nothing only makes it not answer.
#include <cctype>

#include "agent/qga_client.hpp"
#include "supervisor/running_qemu.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto kQgaProbeTimeout = 2s;
constexpr auto kQgaProbeUntilUp = 1s;  // between probes until the agent first answered
constexpr auto kQgaProbeInterval = 5s;
constexpr auto kQgaCallTimeout = 10s;
constexpr auto kQgaShutdownTimeout = 3s;
constexpr auto kQgaShutdownGrace = 500ms;  // an error reply to guest-shutdown comes at once

// "12 (bookworm)" -> "bookworm".
std::string codenameOf(const std::string& version) {
    auto open = version.find('(');
    auto close = version.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) return {};
    return version.substr(open + 1, close - open - 1);
}

asio::awaitable<Outcome<GuestInfo>> qgaInfoIn(std::shared_ptr<agent::QgaClient> qga) {
    auto os = co_await qga->osInfo(kQgaCallTimeout);
    if (!os) co_return toOpError(os.error(), Channel::QemuGa);
    auto nics = co_await qga->interfaces(kQgaCallTimeout);
    if (!nics) co_return toOpError(nics.error(), Channel::QemuGa);
    GuestInfo info;
    info.osId = os->name.empty() ? os->id : os->name;
    info.release = os->versionId;
    info.codename = codenameOf(os->version);
    for (const auto& nic : *nics)
        for (const auto& address : nic.addresses)
            if (address.find(':') == std::string::npos) info.addresses.push_back(address);
    co_return info;
}

}  // namespace

void RunningQemu::connectQemuGa() {
    if (!qemuGaWanted_ || qga_) return;
    qga_ = agent::QgaClient::create(context_.executor, paths_.qemuGaSocket.string());
    life_.spawn(probeQemuGa(), "probing qemu-guest-agent");
}

asio::awaitable<void> RunningQemu::probeQemuGa() {
    for (;;) {
        auto qga = qga_;  // the call keeps the client, not this
        bool answers = static_cast<bool>(co_await life_.guard(qga->ping(kQgaProbeTimeout)));
        if (answers != qemuGaAnswers_) {
            qemuGaAnswers_ = answers;
            log(6, answers ? "qemu-guest-agent answered" : "qemu-guest-agent stopped answering");
            notices_.qemuGaChanged.emit(answers);
        }
        co_await life_.sleep(answers ? kQgaProbeInterval : kQgaProbeUntilUp);
    }
}

asio::awaitable<Outcome<Unit>> RunningQemu::powerdownSteps() {
    if (qga_) {
        auto qga = qga_;
        std::string mode = R"({"mode":"powerdown"})";
        auto asked = co_await life_.guard(qga->callNoReply("guest-shutdown", std::move(mode),
                                                           kQgaShutdownTimeout, kQgaShutdownGrace));
        if (asked) {
            log(6, "asked qemu-guest-agent to power off (guest-shutdown)");
            co_return Unit{};
        }
        log(5, "qemu-guest-agent did not take guest-shutdown (" + asked.error().message +
                   "); ACPI powerdown instead");
    }
    std::string powerdown = "system_powerdown";
    co_return co_await watched(qmp_->command(std::move(powerdown)));
}

void RunningQemu::qemuGaGuestInfo(Reply<GuestInfo> reply) {
    if (!qga_)
        return reply(OpError{ErrorKind::AgentUnavailable,
                             name_ + " has no qemu-guest-agent port; set agent.qemu_ga = true."});
    life_.run<GuestInfo>(qgaInfoIn(qga_), std::move(reply), exitedDuring("the guest call"));
}

}  // namespace corral::supervisor
