// The seams between a RunningQemu and the world: the qemu process, its QMP link (qmp_link.hpp),
// hotplug and the guest agent channels. corrald builds them with makeQemuParts() on
// hypervisor/, monitor/ and agent/; unit tests hand in fakes that count calls and return canned
// results, so reattach, hotplug bookkeeping and monitor health run without a qemu.
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/methods.hpp"
#include "common/error.hpp"
#include "hypervisor/confinement.hpp"
#include "hypervisor/hotplug.hpp"
#include "hypervisor/qemu_process.hpp"
#include "hypervisor/runtime_dir.hpp"
#include "supervisor/qmp_link.hpp"

namespace corral::supervisor {

// One qemu process, spawned or adopted. Destroying the handle never kills it.
class ProcessHandle {
  public:
    virtual ~ProcessHandle() = default;
    virtual pid_t pid() const = 0;
    // Completes when the process has exited (reaped if it is our child).
    virtual boost::asio::awaitable<hypervisor::ExitStatus> waitExit() = 0;
    // Sends a signal; false if the process is already gone.
    virtual bool kill(int signo) = 0;
};

// hypervisor::Hotplug as a RunningQemu uses it (see hypervisor/hotplug.hpp for what each does).
// Like QmpLink, a call never touches the object after it suspended.
class HotplugControl {
  public:
    virtual ~HotplugControl() = default;
    virtual boost::asio::awaitable<Result<hypervisor::Device>> attach(
        hypervisor::Device device) = 0;
    virtual boost::asio::awaitable<Result<void>> detach(std::string id,
                                                        std::chrono::milliseconds timeout) = 0;
    virtual boost::asio::awaitable<Result<std::vector<hypervisor::OccupiedSlot>>> reconcile() = 0;
    virtual void restore(const std::vector<hypervisor::Device>& devices) = 0;
    virtual boost::asio::awaitable<Result<hypervisor::Recovery>> recover() = 0;
    virtual std::vector<hypervisor::Device> devices() const = 0;
    // hypervisor::changeMedium on the CD-ROM `id`; `path` "" ejects.
    virtual boost::asio::awaitable<Result<void>> changeMedium(std::string id,
                                                              std::string /*path*/) {
        co_return makeError(Errc::NotSupported, id, "no media change over this link");
    }
};

// The guest agent: calls over the host-to-guest channel, and the guest-to-host responder that
// serves from creation until close().
class AgentLink {
  public:
    virtual ~AgentLink() = default;
    virtual boost::asio::awaitable<Result<std::vector<std::string>>> listCommands(
        std::chrono::milliseconds timeout) = 0;
    // A zero timeout waits forever.
    virtual boost::asio::awaitable<Result<std::string>> execute(
        std::vector<std::string> argv, std::optional<std::string> input,
        std::chrono::milliseconds timeout) = 0;
    // corral_run: exit status and both streams as bytes (agent/methods.hpp); NotSupported from
    // an agent without it. A zero timeout waits forever.
    virtual boost::asio::awaitable<Result<agent::RunOutcome>> run(
        agent::RunRequest request, std::chrono::milliseconds timeout) = 0;
    // Drops both channels; calls in flight end with an error.
    virtual void close() = 0;
};

// A qemu spawned paused, and the state.json written for it.
struct LaunchedQemu {
    hypervisor::RuntimeState state;
    std::unique_ptr<ProcessHandle> process;
};

class QemuParts {
  public:
    virtual ~QemuParts() = default;

    // Runtime dir, taps, paused spawn and state.json (hypervisor::launchInstance). Throws with a
    // sentence; a qemu that was started is killed again first.
    virtual LaunchedQemu launch(const hypervisor::InstanceSpec& spec,
                                const std::filesystem::path& runtimeRoot,
                                const std::string& binary) = 0;
    // The same for an incoming migration: qemu from the source's device records (slots as
    // recorded, hotplugged ones included) and `-incoming defer`. Fakes need not support it.
    virtual LaunchedQemu launchIncoming(const hypervisor::InstanceSpec& spec,
                                        std::vector<hypervisor::Device> devices,
                                        const std::filesystem::path& runtimeRoot,
                                        const std::string& binary);
    // The qemu of a Reboot: from these records (hypervisor::relaunchLayout), started as a fresh
    // start is. Fakes need not support it.
    virtual LaunchedQemu relaunch(const hypervisor::InstanceSpec& spec,
                                  std::vector<hypervisor::Device> devices,
                                  const std::filesystem::path& runtimeRoot,
                                  const std::string& binary);
    // The uid launch() will give `spec`'s qemu now (a confined VM's helpers, its swtpm, run as
    // it too); nullopt when it runs unconfined. Fakes launch nothing confined.
    virtual std::optional<std::uint32_t> launchUid(const hypervisor::InstanceSpec&,
                                                   const std::filesystem::path&) {
        return std::nullopt;
    }
    // A live qemu whose command line is `argv`; null (and `why`) if there is none.
    virtual std::unique_ptr<ProcessHandle> adopt(pid_t pid, const std::vector<std::string>& argv,
                                                 std::string& why) = 0;
    // The command line of a live process, from /proc.
    virtual std::optional<std::vector<std::string>> cmdline(pid_t pid) const = 0;
    virtual std::shared_ptr<QmpLink> qmp(std::chrono::milliseconds timeout) = 0;
    // Hotplug over `link`, which this factory made.
    virtual std::shared_ptr<HotplugControl> hotplug(QmpLink& link, const hypervisor::SlotPlan& plan,
                                                    const std::string& name) = 0;
    // Opens the agent's channels of the runtime dir; the responder runs guest-to-host calls as
    // `name` from `commandsDir`.
    virtual std::shared_ptr<AgentLink> agent(const hypervisor::RuntimePaths& paths,
                                             const std::string& name,
                                             const std::filesystem::path& commandsDir) = 0;
};

// The real parts, on `executor`; the qemus they launch log in <logRoot>/<name>/ (VmContext's) and
// are confined as `confine` says.
std::unique_ptr<QemuParts> makeQemuParts(boost::asio::any_io_executor executor,
                                         std::filesystem::path logRoot = {},
                                         hypervisor::ConfinePolicy confine = {});

}  // namespace corral::supervisor
