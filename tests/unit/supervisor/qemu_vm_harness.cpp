#include "tests/unit/supervisor/qemu_vm_harness.hpp"

#include <boost/asio/co_spawn.hpp>
#include <fstream>

namespace corral::supervisor::test {

using namespace std::chrono_literals;

hypervisor::Device diskRecord(const std::string& id, unsigned slot, const std::string& path,
                              bool hotplugged) {
    hypervisor::Device record;
    record.id = id;
    record.kind = hypervisor::findKind("disk");
    record.slot.bus = "pci.0";
    record.slot.slot = slot;
    record.hotplugged = hotplugged;
    record.backend = path;
    return record;
}

QemuVmHarness::QemuVmHarness()
    : context{io.get_executor(),
              clock,
              qemu,
              dir / "run",
              dir / "commands",
              dir / "state",
              [this](int, const std::string& line) { logs.push_back(line); },
              nullptr,
              "qemu-fake",
              30s,
              {}},
      paths_(hypervisor::RuntimePaths::forInstance(dir / "run", "vm1")) {}

QemuVmHarness::~QemuVmHarness() {
    vm.reset();
    settle();
}

void QemuVmHarness::define(const std::string& extra) {
    std::ofstream(dir / "root.img").close();
    auto text =
        "[machine]\ntype = \"pc\"\naccel = \"tcg\"\nmemory = \"128M\"\n"
        "[[disk]]\nid = \"root\"\npath = \"" +
        (dir / "root.img").string() + "\"\n" + extra;
    auto definition = hypervisor::parseInstanceSpec(text, dir / "vm1.toml");
    ASSERT_TRUE(definition.spec) << (definition.diagnostics.empty()
                                         ? std::string()
                                         : definition.diagnostics.front().format());
    vm = std::make_unique<QemuVm>(context, "vm1", definition);
}

void QemuVmHarness::settle() {
    for (int round = 0; round < 1000; ++round) {
        io.restart();
        if (io.poll() == 0) return;
    }
    ADD_FAILURE() << "handlers keep making handlers ready";
}

void QemuVmHarness::runFor(Duration span) {
    auto end = clock.now() + span;
    settle();
    while (auto due = clock.nextDue()) {
        if (*due > end) break;
        clock.advance(*due - clock.now());
        settle();
    }
    clock.advance(end - clock.now());
    settle();
}

void QemuVmHarness::startRunning() {
    Answer<Unit> started;
    life().start(started.reply());
    settle();
    ASSERT_TRUE(started.result && started.result->ok())
        << (started.result ? started.result->error().message : "no answer");
    ASSERT_EQ(life().state(), State::Running);
}

bool QemuVmHarness::reattach() {
    bool finished = false, threw = false;
    boost::asio::co_spawn(io, vm->reattach(), [&](std::exception_ptr e) {
        finished = true;
        threw = e != nullptr;
    });
    settle();
    EXPECT_TRUE(finished) << "reattach did not finish";
    return finished && !threw;
}

hypervisor::RuntimeState QemuVmHarness::leaveRunning(pid_t pid) {
    hypervisor::createRuntimeDir(paths_);
    hypervisor::RuntimeState state;
    state.argv = {"qemu-fake", "-name", "vm1", "-pidfile", paths_.pidFile.string()};
    state.pid = pid;
    state.startedAtUsec = 123;
    state.devices = {diskRecord("root", 4, (dir / "root.img").string(), false)};
    EXPECT_FALSE(hypervisor::writeState(paths_, state));
    qemu.live[pid] = state.argv;
    return state;
}

std::optional<hypervisor::RuntimeState> QemuVmHarness::stateJson() const {
    std::string problem;
    return hypervisor::readState(paths_, problem);
}

bool QemuVmHarness::hasDevice(const std::string& id) const {
    for (const auto& d : vm->devices())
        if (d.id == id) return true;
    return false;
}

bool QemuVmHarness::recordedHotplugged(const std::string& id) const {
    auto state = stateJson();
    if (!state) return false;
    for (const auto& d : state->devices)
        if (d.id == id && d.hotplugged) return true;
    return false;
}

bool QemuVmHarness::logged(const std::string& text) const {
    for (const auto& line : logs)
        if (line.find(text) != std::string::npos) return true;
    return false;
}

}  // namespace corral::supervisor::test
