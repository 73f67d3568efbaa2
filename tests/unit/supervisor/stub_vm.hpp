// A Vm for tests of what sits above it (registry, D-Bus): its lifecycle is a real Instance on a
// FakeVm, its definition and devices are whatever the test sets, and setDevices() raises
// devicesChanged as QemuVm does after a hotplug.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "supervisor/vm.hpp"
#include "tests/unit/supervisor/fake_vm.hpp"

namespace corral::supervisor::test {

class StubVm : public Vm {
  public:
    StubVm(std::string name, FakeClock& clock, bool valid)
        : name_(std::move(name)), instance_(name_, control, clock, {}, nullptr) {
        control.autoLaunchPid = 100;
        if (!valid) instance_.markInvalid("broken");
    }
    const std::string& name() const override { return name_; }
    Instance& lifecycle() override { return instance_; }
    VmInfo info() const override { return vmInfo; }
    void redefine(const hypervisor::LoadResult& definition) override {
        ++redefinitions;
        // As QemuVm: a running VM keeps the definition it was started with.
        auto state = instance_.state();
        if (state != State::Running && state != State::Paused) spec = definition.spec;
        if (definition.ok())
            instance_.markValid();
        else
            instance_.markInvalid("broken");
    }
    const hypervisor::InstanceSpec* activeSpec() const override { return spec ? &*spec : nullptr; }
    // As QemuVm under systemd when `scoped`: the running VM takes new limits at once.
    bool applyResources(const hypervisor::ResourcesSpec& resources) override {
        if (!scoped || !spec) return false;
        spec->resources = resources;
        ++resourceChanges;
        return true;
    }
    std::vector<hypervisor::Device> devices() const override { return devices_; }
    void setDevices(std::vector<hypervisor::Device> devices) {
        devices_ = std::move(devices);
        devicesChanged().emit();
    }
    void attachDevice(hypervisor::Device, Reply<std::string>) override {}
    void detach(std::string, Done) override {}
    void guestExecute(std::vector<std::string>, std::string, std::chrono::milliseconds,
                      Reply<std::string>) override {}
    void guestRun(std::vector<std::string>, std::string, std::chrono::milliseconds,
                  Reply<agent::RunOutcome>) override {}
    void guestListCommands(Reply<std::vector<std::string>>) override {}
    void monitor(std::string, Reply<std::string>) override {}
    // Held until a test answers it.
    void sample(Reply<VmSample> reply) override { samples.push_back(std::move(reply)); }

    FakeVm control;
    VmInfo vmInfo;
    int redefinitions = 0;
    bool scoped = false;
    int resourceChanges = 0;
    std::optional<hypervisor::InstanceSpec> spec;  // activeSpec(); tests set it when they need it
    std::vector<Reply<VmSample>> samples;

  private:
    std::string name_;
    std::vector<hypervisor::Device> devices_;
    Instance instance_;
};

}  // namespace corral::supervisor::test
