// The real seams: hypervisor::QemuProcess, hypervisor::Hotplug, agent::HostChannel and
// agent::HostResponder behind the interfaces of qemu_parts.hpp.
#include "supervisor/qemu_parts.hpp"

#include <stdexcept>

#include "agent/host_channel.hpp"
#include "agent/host_responder.hpp"
#include "hypervisor/launch.hpp"
#include "hypervisor/media.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;

namespace {

class Process final : public ProcessHandle {
  public:
    explicit Process(hypervisor::QemuProcess process) : process_(std::move(process)) {}
    pid_t pid() const override { return process_.pid(); }
    asio::awaitable<hypervisor::ExitStatus> waitExit() override { return process_.waitExit(); }
    bool kill(int signo) override { return process_.kill(signo); }

  private:
    hypervisor::QemuProcess process_;
};

// Each call holds the Hotplug's shared state (hypervisor::Hotplug keeps it in an Impl that its
// coroutines own), so destroying this mid-call is safe.
class RealHotplug final : public HotplugControl {
  public:
    RealHotplug(std::shared_ptr<monitor::QmpClient> client, const hypervisor::SlotPlan& plan,
                const std::string& name)
        : client_(client), hotplug_(std::move(client), plan, name) {}

    asio::awaitable<Result<hypervisor::Device>> attach(hypervisor::Device device) override {
        return hotplug_.attach(std::move(device));
    }
    asio::awaitable<Result<void>> detach(std::string id,
                                         std::chrono::milliseconds timeout) override {
        return hotplug_.detach(std::move(id), timeout);
    }
    asio::awaitable<Result<std::vector<hypervisor::OccupiedSlot>>> reconcile() override {
        return hotplug_.reconcile();
    }
    void restore(const std::vector<hypervisor::Device>& devices) override {
        hotplug_.restore(devices);
    }
    asio::awaitable<Result<hypervisor::Recovery>> recover() override { return hotplug_.recover(); }
    std::vector<hypervisor::Device> devices() const override { return hotplug_.devices(); }
    asio::awaitable<Result<void>> changeMedium(std::string id, std::string path) override {
        auto client = client_;  // the call keeps the client, not this
        co_return co_await hypervisor::changeMedium(*client, std::move(id), std::move(path));
    }

  private:
    std::shared_ptr<monitor::QmpClient> client_;
    hypervisor::Hotplug hotplug_;
};

class Agent final : public AgentLink {
  public:
    Agent(asio::any_io_executor executor, const hypervisor::RuntimePaths& paths,
          const std::string& name, const std::filesystem::path& commandsDir)
        : channel_(agent::HostChannel::create(executor, paths.negotiatorHostToGuest.string())),
          responder_(agent::HostResponder::create(executor, paths.negotiatorGuestToHost.string(),
                                                  name, commandsDir)) {
        responder_->start();
    }
    ~Agent() override { close(); }

    asio::awaitable<Result<std::vector<std::string>>> listCommands(
        std::chrono::milliseconds timeout) override {
        auto channel = channel_;  // the call keeps the channel, not this
        co_return co_await channel->listCommands(timeout);
    }
    asio::awaitable<Result<std::string>> execute(std::vector<std::string> argv,
                                                 std::optional<std::string> input,
                                                 std::chrono::milliseconds timeout) override {
        auto channel = channel_;
        co_return co_await channel->execute(std::move(argv), std::move(input), timeout);
    }
    asio::awaitable<Result<agent::RunOutcome>> run(agent::RunRequest request,
                                                   std::chrono::milliseconds timeout) override {
        auto channel = channel_;
        co_return co_await channel->run(std::move(request), timeout);
    }
    void close() override {
        channel_->close();
        responder_->stop();
    }

  private:
    std::shared_ptr<agent::HostChannel> channel_;
    std::shared_ptr<agent::HostResponder> responder_;
};

class RealParts final : public QemuParts {
  public:
    RealParts(asio::any_io_executor executor, std::filesystem::path logRoot,
              hypervisor::ConfinePolicy confine)
        : executor_(std::move(executor)), logRoot_(std::move(logRoot)), confine_(confine) {}

    LaunchedQemu launch(const hypervisor::InstanceSpec& spec,
                        const std::filesystem::path& runtimeRoot,
                        const std::string& binary) override {
        auto launched = hypervisor::launchInstance(executor_, spec, runtimeRoot, binary, nullptr,
                                                   logRoot_, confine_);
        return {std::move(launched.state), std::make_unique<Process>(std::move(launched.process))};
    }
    LaunchedQemu launchIncoming(const hypervisor::InstanceSpec& spec,
                                std::vector<hypervisor::Device> devices,
                                const std::filesystem::path& runtimeRoot,
                                const std::string& binary) override {
        hypervisor::IncomingLayout layout{std::move(devices)};
        auto launched = hypervisor::launchInstance(executor_, spec, runtimeRoot, binary, &layout,
                                                   logRoot_, confine_);
        return {std::move(launched.state), std::make_unique<Process>(std::move(launched.process))};
    }
    LaunchedQemu relaunch(const hypervisor::InstanceSpec& spec,
                          std::vector<hypervisor::Device> devices,
                          const std::filesystem::path& runtimeRoot,
                          const std::string& binary) override {
        hypervisor::IncomingLayout layout{std::move(devices), false};
        auto launched = hypervisor::launchInstance(executor_, spec, runtimeRoot, binary, &layout,
                                                   logRoot_, confine_);
        return {std::move(launched.state), std::make_unique<Process>(std::move(launched.process))};
    }
    std::optional<std::uint32_t> launchUid(const hypervisor::InstanceSpec& spec,
                                           const std::filesystem::path& runtimeRoot) override {
        if (hypervisor::unconfinedWhy(confine_, spec.security.confine)) return std::nullopt;
        return hypervisor::allocateUid(runtimeRoot, spec.name, confine_.range);
    }
    std::unique_ptr<ProcessHandle> adopt(pid_t pid, const std::vector<std::string>& argv,
                                         std::string& why) override {
        auto process = hypervisor::QemuProcess::adopt(executor_, pid, argv, why);
        if (!process) return nullptr;
        return std::make_unique<Process>(std::move(*process));
    }
    std::optional<std::vector<std::string>> cmdline(pid_t pid) const override {
        return hypervisor::processCmdline(pid);
    }
    std::shared_ptr<QmpLink> qmp(std::chrono::milliseconds timeout) override {
        return makeQmpLink(executor_, timeout);
    }
    std::shared_ptr<HotplugControl> hotplug(QmpLink& link, const hypervisor::SlotPlan& plan,
                                            const std::string& name) override {
        return std::make_shared<RealHotplug>(qmpClientOf(link), plan, name);
    }
    std::shared_ptr<AgentLink> agent(const hypervisor::RuntimePaths& paths, const std::string& name,
                                     const std::filesystem::path& commandsDir) override {
        return std::make_shared<Agent>(executor_, paths, name, commandsDir);
    }

  private:
    asio::any_io_executor executor_;
    std::filesystem::path logRoot_;
    hypervisor::ConfinePolicy confine_;
};

}  // namespace

LaunchedQemu QemuParts::launchIncoming(const hypervisor::InstanceSpec&,
                                       std::vector<hypervisor::Device>,
                                       const std::filesystem::path&, const std::string&) {
    throw std::runtime_error("incoming migration is not supported here");
}

LaunchedQemu QemuParts::relaunch(const hypervisor::InstanceSpec&, std::vector<hypervisor::Device>,
                                 const std::filesystem::path&, const std::string&) {
    throw std::runtime_error("a relaunch that keeps hotplugged devices is not supported here");
}

std::unique_ptr<QemuParts> makeQemuParts(asio::any_io_executor executor,
                                         std::filesystem::path logRoot,
                                         hypervisor::ConfinePolicy confine) {
    return std::make_unique<RealParts>(std::move(executor), std::move(logRoot), confine);
}

}  // namespace corral::supervisor
