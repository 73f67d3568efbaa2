// A qemu started the way corrald starts one (launchInstance + QMP), for integration and guest
// tests. The destructor kills and reaps qemu if the test did not.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hypervisor/launch.hpp"
#include "hypervisor/slot_allocator.hpp"
#include "monitor/qmp_client.hpp"

namespace corral::test {

struct TestVm {
    hypervisor::InstanceSpec spec;
    hypervisor::SlotPlan plan;
    hypervisor::RuntimePaths paths;
    std::vector<std::string> argv;
    std::optional<hypervisor::QemuProcess> process;
    std::shared_ptr<monitor::QmpClient> qmp;

    TestVm() = default;
    TestVm(TestVm&&) = default;
    ~TestVm();
};

// Starts `spec` paused (-S) under `runtimeRoot` with launchInstance and connects QMP; throws
// on any failure. tap/bridge NICs get taps in the caller's network namespace.
boost::asio::awaitable<std::unique_ptr<TestVm>> startTestVm(boost::asio::any_io_executor executor,
                                                            hypervisor::InstanceSpec spec,
                                                            std::filesystem::path runtimeRoot);

// Sends quit and waits (bounded) for qemu to exit; returns how it ended.
boost::asio::awaitable<hypervisor::ExitStatus> quitTestVm(TestVm& vm);

// query-pci of `vm`, flattened, with the root bus named as in the slot plan.
boost::asio::awaitable<std::vector<hypervisor::OccupiedSlot>> queryPci(TestVm& vm);

}  // namespace corral::test
