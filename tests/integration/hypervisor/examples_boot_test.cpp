// Every instance example in etc/instances/ loads, starts in the real qemu (paused, TCG) and
// QEMU's query-pci shows each planned device at exactly its planned bus/slot.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "hypervisor/ide_ports.hpp"
#include "hypervisor/instance_spec.hpp"
#include "tests/integration/hypervisor/net_namespace.hpp"
#include "tests/integration/hypervisor/run_async.hpp"
#include "tests/integration/hypervisor/test_vm.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::hypervisor {
namespace {

using boost::asio::any_io_executor;
using boost::asio::awaitable;

std::vector<std::string> exampleFiles() {
    std::vector<std::string> files;
    for (const auto& entry :
         std::filesystem::directory_iterator(CORRAL_SOURCE_DIR "/etc/instances")) {
        if (entry.path().extension() == ".toml") files.push_back(entry.path().filename());
    }
    std::sort(files.begin(), files.end());
    return files;
}

// The example's text with kernel, initrd and disk paths pointing at real files in `dir`.
std::string withTestPaths(const std::filesystem::path& file, const test::TempDir& dir) {
    std::ifstream in(file);
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string text = std::regex_replace(
        buffer.str(), std::regex("/var/lib/corral/images/vmlinuz"), test::guestKernel().string());
    text = std::regex_replace(text, std::regex("/var/lib/corral/images/initrd.img"),
                              test::guestInitrd().string());
    std::regex disk("\"/var/lib/corral/disks/([^\"]+)\"");
    for (std::sregex_iterator it(text.begin(), text.end(), disk), end; it != end; ++it) {
        std::string name = (*it)[1];
        auto path = dir / name;
        auto format = name.ends_with(".qcow2") ? "qcow2" : "raw";
        auto created =
            test::Process::spawn({"qemu-img", "create", "-q", "-f", format, path.string(), "16M"});
        EXPECT_TRUE(created.wait(std::chrono::seconds(10)));
    }
    return std::regex_replace(text, disk, "\"" + dir.path().string() + "/$1\"");
}

struct Outcome {
    std::vector<OccupiedSlot> pci;
    ExitStatus exit;
};

unsigned modeOf(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return 0;
    return st.st_mode & 07777;
}

awaitable<Outcome> startQueryQuit(any_io_executor ex, InstanceSpec spec,
                                  std::filesystem::path root) {
    auto vm = co_await test::startTestVm(ex, std::move(spec), root);
    Outcome outcome;
    outcome.pci = co_await test::queryPci(*vm);
    EXPECT_EQ(modeOf(vm->paths.dir), 0750u);
    for (const auto& file : {vm->paths.qmpSocket, vm->paths.serialSocket, vm->paths.pidFile,
                             vm->paths.stateFile, vm->paths.logFile}) {
        EXPECT_EQ(modeOf(file), 0600u) << file;
    }
    outcome.exit = co_await test::quitTestVm(*vm);
    co_return outcome;
}

class Example : public ::testing::TestWithParam<std::string> {};

TEST_P(Example, StartsInQemuWithDevicesAtPlannedSlots) {
    test::TempDir dir;
    auto file = std::filesystem::path(CORRAL_SOURCE_DIR "/etc/instances") / GetParam();
    auto loaded = parseInstanceSpec(withTestPaths(file, dir), file);
    for (const auto& d : loaded.diagnostics) ADD_FAILURE() << d.format();
    ASSERT_TRUE(loaded.ok());
    auto spec = *loaded.spec;
    spec.machine.accel = Accel::Tcg;  // KVM guests hang on the build machines
    auto plan = planSlots(spec);
    // Taps and the bridges they join live in a private namespace, never on the host.
    test::NetNamespace netns;
    for (const auto& device : spec.devices) {
        auto bridge = std::string(device.text("bridge"));
        if (!bridge.empty()) netns.run({"ip", "link", "add", bridge, "type", "bridge"});
    }

    boost::asio::io_context io;
    auto outcome = test::runAsync(
        io, [&](any_io_executor ex) { return startQueryQuit(ex, spec, dir / "run"); });

    for (const auto& device : plan.devices) {
        if (isIdePort(device.slot)) continue;  // on the built-in IDE/AHCI controller, not PCI
        bool found = std::any_of(outcome.pci.begin(), outcome.pci.end(), [&](const auto& s) {
            return s.deviceId == device.id && s.bus == device.slot.bus &&
                   s.slot == device.slot.slot;
        });
        EXPECT_TRUE(found) << device.id << " not at " << device.slot.toString();
    }
    // Nothing else on the root bus but what QEMU puts into the reserved slots itself.
    auto reserved = reservedRootSlots(spec.machine.type);
    for (const auto& slot : outcome.pci) {
        if (slot.bus != plan.rootBus()) continue;
        bool expected = plan.find(slot.deviceId).has_value() ||
                        (slot.deviceId.empty() &&
                         std::find(reserved.begin(), reserved.end(), slot.slot) != reserved.end());
        EXPECT_TRUE(expected) << "unplanned device '" << slot.deviceId << "' in slot " << slot.slot;
    }
    EXPECT_EQ(outcome.exit.kind, ExitStatus::Kind::Exited);
    EXPECT_EQ(outcome.exit.code, 0);
}

INSTANTIATE_TEST_SUITE_P(EtcInstances, Example, ::testing::ValuesIn(exampleFiles()),
                         [](const auto& info) {
                             auto name = std::filesystem::path(info.param).stem().string();
                             std::replace(name.begin(), name.end(), '-', '_');
                             return name;
                         });

}  // namespace
}  // namespace corral::hypervisor
