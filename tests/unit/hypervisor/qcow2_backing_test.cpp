// The backing file a qcow2 header names, read through an fd (hotplug refuses such an image: a
// confined qemu cannot open the backing file by path). Images made by the real qemu-img.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "hypervisor/block_nodes.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::hypervisor {
namespace {

using namespace std::chrono_literals;

class Qcow2Backing : public ::testing::Test {
  protected:
    void qemuImg(const std::vector<std::string>& args) {
        std::vector<std::string> argv{"qemu-img"};
        argv.insert(argv.end(), args.begin(), args.end());
        auto process = test::Process::spawn(argv, dir_ / "qemu-img.log");
        auto status = process.wait(30s);
        ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
            << "qemu-img failed or timed out";
    }
    std::string backingOf(const std::string& name) {
        int fd = ::open((dir_ / name).c_str(), O_RDONLY | O_CLOEXEC);
        EXPECT_GE(fd, 0) << name;
        auto backing = qcow2BackingFile(fd);
        ::close(fd);
        return backing;
    }
    test::TempDir dir_;
};

TEST_F(Qcow2Backing, AnOverlayNamesItsBase) {
    qemuImg({"create", "-f", "raw", (dir_ / "base.raw").string(), "1M"});
    qemuImg({"create", "-f", "qcow2", "-F", "raw", "-b", (dir_ / "base.raw").string(),
             (dir_ / "top.qcow2").string()});
    EXPECT_EQ(backingOf("top.qcow2"), (dir_ / "base.raw").string());
}

TEST_F(Qcow2Backing, AStandaloneQcow2OrARawImageNamesNone) {
    qemuImg({"create", "-f", "qcow2", (dir_ / "alone.qcow2").string(), "1M"});
    EXPECT_EQ(backingOf("alone.qcow2"), "");
    std::ofstream(dir_ / "short.raw") << "QFI";
    EXPECT_EQ(backingOf("short.raw"), "");
    qemuImg({"create", "-f", "raw", (dir_ / "base.raw").string(), "1M"});
    EXPECT_EQ(backingOf("base.raw"), "");
}

}  // namespace
}  // namespace corral::hypervisor
