#include "tests/integration/hypervisor/test_vm.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <stdexcept>

#include "hypervisor/firmware.hpp"
#include "hypervisor/hotplug.hpp"

namespace corral::test {

using namespace std::chrono_literals;

TestVm::~TestVm() {
    if (process && process->kill(SIGKILL)) ::waitpid(process->pid(), nullptr, 0);
    if (qmp) qmp->close();
}

boost::asio::awaitable<std::unique_ptr<TestVm>> startTestVm(boost::asio::any_io_executor executor,
                                                            hypervisor::InstanceSpec spec,
                                                            std::filesystem::path runtimeRoot) {
    auto vm = std::make_unique<TestVm>();
    vm->spec = std::move(spec);
    // As corrald does at start: a uefi VM's variable store, here under the runtime root.
    hypervisor::prepareFirmware(vm->spec.firmware, {}, runtimeRoot / "state" / vm->spec.name);
    auto launched = hypervisor::launchInstance(executor, vm->spec, runtimeRoot);
    vm->plan = std::move(launched.plan);
    vm->paths = std::move(launched.paths);
    vm->argv = std::move(launched.state.argv);
    vm->process = std::move(launched.process);
    vm->qmp = monitor::QmpClient::create(executor);
    auto connected = co_await vm->qmp->connect(vm->paths.qmpSocket.string(), 20s);
    if (!connected) throw std::runtime_error(connected.error().message);
    co_return vm;
}

boost::asio::awaitable<hypervisor::ExitStatus> quitTestVm(TestVm& vm) {
    co_await vm.qmp->execute("quit");
    auto status = co_await vm.process->waitExit();
    vm.qmp->close();
    co_return status;
}

boost::asio::awaitable<std::vector<hypervisor::OccupiedSlot>> queryPci(TestVm& vm) {
    auto reply = co_await vm.qmp->execute("query-pci");
    if (!reply) throw std::runtime_error(reply.error().message);
    co_return hypervisor::flattenQueryPci(*reply, vm.plan.rootBus());
}

}  // namespace corral::test
