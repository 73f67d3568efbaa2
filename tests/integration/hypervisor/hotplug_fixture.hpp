// A qemu with the guest kernel (paused until a test continues it) plus a Hotplug on it, for
// the hotplug integration and guest tests. Every step is a bounded runAsync.
#pragma once

#include <gtest/gtest.h>

#include <fstream>

#include "hypervisor/hotplug.hpp"
#include "tests/integration/hypervisor/run_async.hpp"
#include "tests/integration/hypervisor/test_vm.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {

using boost::asio::any_io_executor;
using boost::asio::awaitable;
using hypervisor::BootSpec;
using hypervisor::Device;
using hypervisor::Hotplug;
using hypervisor::InstanceSpec;
using hypervisor::MachineType;
using hypervisor::Options;
using monitor::Result;

// A device to hotplug: kind, id and the options given (hotplug fills in the rest).
inline Device device(std::string_view kind, std::string id, Options options = {}) {
    return Device{std::move(id), hypervisor::findKind(kind), {}, false, {}, std::move(options)};
}

inline InstanceSpec hypervisorSpec(MachineType type, unsigned hotplugSlots) {
    InstanceSpec spec;
    spec.name = type == MachineType::Pc ? "hp-pc" : "hp-q35";
    spec.machine.type = type;
    spec.machine.accel = hypervisor::Accel::Tcg;
    spec.machine.memoryBytes = 256ull << 20;
    spec.machine.hotplugSlots = hotplugSlots;
    spec.boot = BootSpec{guestKernel(), guestInitrd(), "console=ttyS0 quiet"};
    return spec;
}

// What QEMU has: PCI devices and block nodes, as text, for before/after comparisons.
inline awaitable<std::string> snapshot(TestVm& vm) {
    std::string out;
    for (const char* command : {"query-pci", "query-named-block-nodes", "query-block"}) {
        auto reply = co_await vm.qmp->execute(command);
        out += reply ? monitor::toJsonString(*reply) : reply.error().message;
        out += "\n";
    }
    co_return out;
}

class HotplugFixture : public ::testing::Test {
  protected:
    // Starts a paused VM of `type` and a Hotplug on it (reconciled with query-pci).
    void start(MachineType type, unsigned hotplugSlots) {
        vm_ = runAsync(io_, [&](any_io_executor ex) {
            return startTestVm(ex, hypervisorSpec(type, hotplugSlots), dir_ / "run");
        });
        hotplug_ = std::make_unique<Hotplug>(vm_->qmp, vm_->plan, vm_->spec.name);
        auto reconciled = runAsync(io_, [&](any_io_executor) { return hotplug_->reconcile(); });
        ASSERT_TRUE(reconciled) << reconciled.error().message;
    }

    // The PCI address the device got.
    Result<std::string> attach(Device device) {
        auto attached = runAsync(io_, [&](any_io_executor) { return hotplug_->attach(device); });
        if (!attached) return attached.error();
        return attached->slot.toString();
    }

    Result<std::string> attachDisk(std::string id, std::filesystem::path path,
                                   Options options = {}) {
        options.emplace("path", path.string());
        return attach(device("disk", std::move(id), std::move(options)));
    }

    Result<std::string> attachNic(std::string id, Options options = {}) {
        return attach(device("nic", std::move(id), std::move(options)));
    }

    Result<void> detach(std::string id) {
        return runAsync(io_, [&](any_io_executor) { return hotplug_->detach(id); });
    }

    std::string state() {
        return runAsync(io_, [&](any_io_executor) { return snapshot(*vm_); });
    }

    std::filesystem::path image(const std::string& name) {
        auto path = dir_ / name;
        std::ofstream(path).close();
        std::filesystem::resize_file(path, 8 << 20);
        return path;
    }

    void TearDown() override {
        hotplug_.reset();
        if (vm_) runAsync(io_, [&](any_io_executor) { return quitTestVm(*vm_); });
    }

    boost::asio::io_context io_;
    TempDir dir_;
    std::unique_ptr<TestVm> vm_;
    std::unique_ptr<Hotplug> hotplug_;
};

}  // namespace corral::test
