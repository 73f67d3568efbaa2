// The loader's diagnostics for [machine]'s CPU keys and the disk and NIC options of issue-style
// hardware: each error at its line:column.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "hypervisor/cpu_spec.hpp"
#include "hypervisor/instance_spec.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::hypervisor {
namespace {

using ::testing::ElementsAre;

class HwLoader : public ::testing::Test {
  protected:
    HwLoader() { std::ofstream(dir_ / "disk.img") << "x"; }
    ~HwLoader() override { setCpuModelCheck(nullptr); }

    std::string disk() const { return (dir_ / "disk.img").string(); }

    std::vector<std::string> errors(const std::string& text) {
        auto result = parseInstanceSpec(text, "vm.toml");
        std::vector<std::string> out;
        for (const auto& d : result.diagnostics) out.push_back(d.format());
        EXPECT_EQ(result.ok(), out.empty());
        return out;
    }

    std::string withDisk(const std::string& text) {
        return text + "\n[[disk]]\npath = \"" + disk() + "\"\n";
    }

    test::TempDir dir_;
};

TEST_F(HwLoader, ReadsCpuKeysAndCompletesTheTopology) {
    auto result = parseInstanceSpec(withDisk("[machine]\ncpus = 4\ncpu = \"Skylake-Client\"\n"
                                             "cpu_flags = [\"+avx2\", \"-hle\"]\nsockets = 2\n"),
                                    "vm.toml");
    ASSERT_TRUE(result.ok()) << result.diagnostics[0].format();
    const auto& cpu = result.spec->machine.cpu;
    EXPECT_EQ(cpu.model, "Skylake-Client");
    EXPECT_THAT(cpu.flags, ElementsAre("+avx2", "-hle"));
    EXPECT_EQ(cpu.sockets, 2u);
    EXPECT_EQ(cpu.cores, 2u);
    EXPECT_EQ(cpu.threads, 1u);
    auto plain = parseInstanceSpec(withDisk(""), "vm.toml");
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain.spec->machine.cpu.model, "");  // decided at launch by the accelerator
    EXPECT_EQ(plain.spec->machine.cpu.sockets, 0u);
}

TEST_F(HwLoader, CpuErrorsAtTheirPlace) {
    EXPECT_THAT(errors(withDisk("[machine]\ncpu = \"max,+avx\"\n")),
                ElementsAre("vm.toml:2:7: error: cpu: expected \"host\", \"max\" or a QEMU CPU "
                            "model name (letters, digits, '.', '_', '-'), got \"max,+avx\""));
    EXPECT_THAT(errors(withDisk("[machine]\ncpu_flags = [\"+avx2\", \"sse\", 3]\n")),
                ElementsAre("vm.toml:2:23: error: cpu_flags: expected \"+name\" or \"-name\" "
                            "(name of a-z, 0-9, '_', '.', '-'), got \"sse\"",
                            "vm.toml:2:30: error: cpu_flags: expected \"+name\" or \"-name\" "
                            "(name of a-z, 0-9, '_', '.', '-'), got an integer"));
    EXPECT_THAT(errors(withDisk("[machine]\ncpus = 6\nsockets = 2\ncores = 2\nthreads = 2\n")),
                ElementsAre("vm.toml:3:11: error: sockets * cores * threads = 2 * 2 * 2 = 8, but "
                            "cpus = 6"));
    EXPECT_THAT(errors(withDisk("[machine]\ncpus = 3\ncores = 2\n")),
                ElementsAre("vm.toml:3:9: error: sockets * cores * threads = 1 * 2 * 1 = 2, but "
                            "cpus = 3"));
}

TEST_F(HwLoader, ModelTheBinaryLacksIsAnErrorAtTheModel) {
    setCpuModelCheck([](std::string_view model) -> std::optional<std::string> {
        if (model == "Skylake-Client") return std::nullopt;
        return "CPU model \"" + std::string(model) + "\" is not offered by qemu-x";
    });
    EXPECT_THAT(errors(withDisk("[machine]\ncpu = \"Pentium-9000\"\n")),
                ElementsAre("vm.toml:2:7: error: cpu: CPU model \"Pentium-9000\" is not offered "
                            "by qemu-x"));
    EXPECT_THAT(errors(withDisk("[machine]\ncpu = \"Skylake-Client\"\n")), ElementsAre());
    EXPECT_THAT(errors(withDisk("[machine]\ncpu = \"host\"\n")), ElementsAre());
}

TEST_F(HwLoader, DiskAndNicOptions) {
    auto result = parseInstanceSpec("[[disk]]\npath = \"" + disk() +
                                        "\"\nbus = \"scsi\"\ndiscard = \"unmap\"\naio = "
                                        "\"io_uring\"\niothread = true\n[[nic]]\nmodel = "
                                        "\"e1000e\"\n",
                                    "vm.toml");
    ASSERT_TRUE(result.ok()) << result.diagnostics[0].format();
    const auto& d = result.spec->devices[0];
    EXPECT_EQ(d.text("bus"), "scsi");
    EXPECT_EQ(d.text("discard"), "unmap");
    EXPECT_EQ(d.text("aio"), "io_uring");
    EXPECT_TRUE(d.flag("iothread"));
    EXPECT_TRUE(d.onScsi());
    EXPECT_EQ(d.driver(), "scsi-hd");
    EXPECT_EQ(result.spec->devices[1].driver(), "e1000e");
}

TEST_F(HwLoader, DiskAndNicOptionErrorsAtTheirPlace) {
    auto disk = "[[disk]]\npath = \"" + this->disk() + "\"\n";
    EXPECT_THAT(errors(disk + "aio = \"native\"\n"),
                ElementsAre("vm.toml:3:7: error: aio: aio \"native\" needs cache \"none\" (Linux "
                            "native AIO only runs asynchronously on files opened with O_DIRECT); "
                            "cache is \"writeback\""));
    EXPECT_THAT(errors(disk + "aio = \"native\"\ncache = \"none\"\n"), ElementsAre());
    EXPECT_THAT(errors(disk + "bus = \"sata\"\n"), ElementsAre());
    EXPECT_THAT(errors(disk + "bus = \"ide\"\n"),
                ElementsAre("vm.toml:3:7: error: bus: expected one of \"virtio\" | \"scsi\" | "
                            "\"sata\", got \"ide\""));
    EXPECT_THAT(errors(disk + "discard = \"on\"\n"),
                ElementsAre("vm.toml:3:11: error: discard: expected one of \"ignore\" | "
                            "\"unmap\", got \"on\""));
    EXPECT_THAT(errors(disk + "iothread = \"yes\"\n"),
                ElementsAre("vm.toml:3:12: error: iothread: expected a boolean (true or false), "
                            "got a string"));
    EXPECT_THAT(errors(disk + "[[nic]]\nmodel = \"rtl8139\"\n"),
                ElementsAre("vm.toml:4:9: error: model: expected one of \"virtio\" | \"e1000e\", "
                            "got \"rtl8139\""));
    EXPECT_THAT(errors("[[disk]]\npath = \"/dev/null\"\n"),
                ElementsAre("vm.toml:2:8: error: path: \"/dev/null\" is a character device, not "
                            "a disk image or block device"));
}

}  // namespace
}  // namespace corral::hypervisor
