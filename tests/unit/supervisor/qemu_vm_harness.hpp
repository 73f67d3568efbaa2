// A QemuVm as corrald builds it, with a FakeQemu for the world and a FakeClock for time: the
// test drives the io_context with settle() and moves time with runFor().
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "supervisor/qemu_vm.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/supervisor/fake_qemu.hpp"
#include "tests/unit/supervisor/fake_vm.hpp"

namespace corral::supervisor {

// gtest prints states by name.
inline void PrintTo(State state, std::ostream* out) {
    *out << toString(state);
}
inline void PrintTo(MonitorState state, std::ostream* out) {
    *out << toString(state);
}

}  // namespace corral::supervisor

namespace corral::supervisor::test {

template <typename T>
struct Answer {
    std::optional<Outcome<T>> result;
    std::function<void(Outcome<T>)> reply() {
        return [this](Outcome<T> r) { result = std::move(r); };
    }
    bool failedWith(const std::string& text) const {
        return result && !result->ok() && result->error().message.find(text) != std::string::npos;
    }
};

// A disk record as state.json keeps it, on pci.0. (Named fields: g++ 12 -O3 warns on nested
// braces of these.)
hypervisor::Device diskRecord(const std::string& id, unsigned slot, const std::string& path,
                              bool hotplugged = true);

class QemuVmHarness : public ::testing::Test {
  protected:
    QemuVmHarness();
    ~QemuVmHarness() override;

    // Makes the QemuVm "vm1" from a definition with `extra` appended.
    void define(const std::string& extra = "");
    // Runs every handler that is ready, and those they make ready.
    void settle();
    // Moves the fake clock forward by `span`, timer by timer, settling after each.
    void runFor(Duration span);
    // Starts vm1 and waits until it runs.
    void startRunning();
    // reattach() as corrald runs it at start, to its end; false if it threw.
    bool reattach();
    // state.json of a qemu that a previous corrald left running as `pid`, which is declared alive.
    hypervisor::RuntimeState leaveRunning(pid_t pid);
    std::optional<hypervisor::RuntimeState> stateJson() const;
    bool hasDevice(const std::string& id) const;           // in Devices
    bool recordedHotplugged(const std::string& id) const;  // in state.json
    bool logged(const std::string& text) const;
    const hypervisor::RuntimePaths& paths() const { return paths_; }
    Instance& life() { return vm->lifecycle(); }

    boost::asio::io_context io;
    FakeClock clock;
    corral::test::TempDir dir;
    FakeQemu qemu{io.get_executor()};
    std::vector<std::string> logs;
    VmContext context;
    std::unique_ptr<QemuVm> vm;

  private:
    hypervisor::RuntimePaths paths_;
};

}  // namespace corral::supervisor::test
