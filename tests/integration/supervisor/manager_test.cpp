// org.corral1.Manager and the instance objects through the real busctl on a private bus, with
// definitions that are never booted: registry, invalid files, Reload and its signals.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

class ManagerTest : public CorraldFixture {
  protected:
    // busctl monitor writing to a file; returns once it is listening.
    Process monitor(const std::filesystem::path& log) {
        auto p = Process::spawn({"busctl", "--address", address_, "monitor", "org.corral1"}, log);
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < deadline) {
            std::ifstream in(log);
            std::string text((std::istreambuf_iterator<char>(in)), {});
            if (text.find("Monitoring") != std::string::npos) return p;
            std::this_thread::sleep_for(10ms);
        }
        ADD_FAILURE() << "busctl monitor did not start";
        return p;
    }
    static bool waitText(const std::filesystem::path& log, const std::string& text) {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < deadline) {
            std::ifstream in(log);
            std::string all((std::istreambuf_iterator<char>(in)), {});
            if (all.find(text) != std::string::npos) return true;
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }
};

TEST_F(ManagerTest, ListsValidAndInvalidInstances) {
    writeGuest("web1");
    writeFile("broken.toml", "[machine]\ncpus = \"two\"\n");
    startCorrald();
    auto list =
        busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "ListInstances"});
    ASSERT_EQ(list.status, 0) << list.output;
    EXPECT_NE(list.output.find("\"broken\" \"invalid\" 0 \"/org/corral1/instance/broken\""),
              std::string::npos)
        << list.output;
    EXPECT_NE(list.output.find("\"web1\" \"stopped\" 0 \"/org/corral1/instance/web1\""),
              std::string::npos)
        << list.output;
    EXPECT_NE(property("broken", "LastExit").find("broken.toml:2:8"), std::string::npos)
        << property("broken", "LastExit");
    auto start = call("broken", "Start");
    EXPECT_NE(start.status, 0);
    EXPECT_NE(start.output.find("definition is invalid"), std::string::npos) << start.output;
}

TEST_F(ManagerTest, ManagerPropertiesAndGetInstance) {
    writeGuest("web1");
    startCorrald();
    auto version = busctl({"get-property", "org.corral1", "/org/corral1", "org.corral1.Manager",
                           "Version", "RuntimeDirectory"});
    EXPECT_EQ(version.output, "s \"" CORRAL_VERSION "\"\ns \"" + (dir_ / "run").string() + "\"\n");
    auto get = busctl(
        {"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "GetInstance", "s", "web1"});
    EXPECT_EQ(get.output, "o \"/org/corral1/instance/web1\"\n");
    auto bad = busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "GetInstance",
                       "s", "../etc"});
    EXPECT_NE(bad.status, 0);
    EXPECT_NE(bad.output.find("Bad instance name '../etc'"), std::string::npos) << bad.output;
    auto missing = busctl(
        {"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "GetInstance", "s", "nope"});
    EXPECT_NE(missing.status, 0);
    EXPECT_NE(missing.output.find("No instance named nope"), std::string::npos) << missing.output;
}

TEST_F(ManagerTest, EveryInstancePropertyIsReadable) {
    GuestOptions q35;
    q35.machine = "q35";
    writeGuest("web1", q35);
    startCorrald();
    auto all = busctl({"call", "org.corral1", path("web1"), "org.freedesktop.DBus.Properties",
                       "GetAll", "s", "org.corral1.Instance"});
    ASSERT_EQ(all.status, 0) << all.output;
    for (const char* p :
         {"Name", "State", "Pid", "StartedAt", "Machine", "Vcpus", "MemoryBytes", "QmpSocket",
          "SerialSocket", "AgentConnected", "Devices", "LastExit", "Display"})
        EXPECT_NE(all.output.find(std::string("\"") + p + "\""), std::string::npos) << p;
    EXPECT_EQ(property("web1", "Machine"), "s \"q35\"");
    EXPECT_EQ(property("web1", "Vcpus"), "u 1");
    EXPECT_EQ(property("web1", "MemoryBytes"), "t 268435456");
    EXPECT_EQ(property("web1", "SerialSocket"),
              "s \"" + (dir_ / "run" / "web1" / "serial.sock").string() + "\"");
}

TEST_F(ManagerTest, ReloadAnnouncesAddedAndRemovedInstances) {
    writeGuest("web1");
    startCorrald();
    auto log = dir_ / "monitor.log";
    auto mon = monitor(log);
    writeGuest("web2");
    std::filesystem::remove(dir_ / "instances" / "web1.toml");
    auto reload = busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "Reload"});
    ASSERT_EQ(reload.status, 0) << reload.output;
    EXPECT_TRUE(waitText(log, "Member=InstanceNew"));
    EXPECT_TRUE(waitText(log, "Member=InstanceRemoved"));
    EXPECT_TRUE(waitText(log, "Member=InterfacesAdded"));
    auto list =
        busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "ListInstances"});
    EXPECT_NE(list.output.find("web2"), std::string::npos) << list.output;
    EXPECT_EQ(list.output.find("web1"), std::string::npos) << list.output;
    EXPECT_EQ(property("web2", "State"), "s \"stopped\"");
}

TEST_F(ManagerTest, IgnoredFilesListsWhatReloadSkipsWithTheReason) {
    writeGuest("web1");
    std::ifstream web1(dir_ / "instances" / "web1.toml");
    writeFile("copy.toml",
              "name = \"web1\"\n" + std::string(std::istreambuf_iterator<char>(web1), {}));
    std::filesystem::create_directory(dir_ / "instances" / "x.toml");
    startCorrald();
    auto ignored = [this] {
        return busctl({"get-property", "org.corral1", "/org/corral1", "org.corral1.Manager",
                       "IgnoredFiles"})
            .output;
    };
    auto instances = (dir_ / "instances").string();
    EXPECT_EQ(ignored(), "a(ss) 2 \"" + instances +
                             "/copy.toml\" \"instance web1 is already defined by " + instances +
                             "/web1.toml\" \"" + instances +
                             "/x.toml\" \"is a directory, not a definition file\"\n");
    auto log = dir_ / "monitor.log";
    auto mon = monitor(log);
    std::filesystem::remove(dir_ / "instances" / "copy.toml");
    std::filesystem::create_symlink(dir_ / "instances" / "loop.toml",
                                    dir_ / "instances" / "loop.toml");
    auto reload = busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "Reload"});
    ASSERT_EQ(reload.status, 0) << reload.output;
    EXPECT_TRUE(waitText(log, "Member=PropertiesChanged"));
    EXPECT_TRUE(waitText(log, "IgnoredFiles"));
    EXPECT_EQ(ignored(),
              "a(ss) 2 \"" + instances +
                  "/loop.toml\" \"symlink loop (Too many levels of symbolic links)\" \"" +
                  instances + "/x.toml\" \"is a directory, not a definition file\"\n");
}

TEST_F(ManagerTest, MethodsNeedingARunningVmSaySo) {
    writeGuest("web1");
    startCorrald();
    auto shutdown = call("web1", "Shutdown", {"t", "0"});
    EXPECT_NE(shutdown.status, 0);
    EXPECT_NE(shutdown.output.find("web1 is not running"), std::string::npos) << shutdown.output;
    auto exec = call("web1", "GuestExecute", {"asst", "1", "true", "", "0"});
    EXPECT_NE(exec.output.find("web1 is stopped; start it first."), std::string::npos)
        << exec.output;
    auto attach = call("web1", "AttachDisk", {"ssa{sv}", "d0", "relative.img", "0"});
    EXPECT_NE(attach.output.find("must be absolute"), std::string::npos) << attach.output;
}

TEST_F(ManagerTest, StaleRuntimeDirsAreCleanedAtStart) {
    writeGuest("web1");
    // web1 "ran" as a pid that is gone; ghost is not defined at all and has no state.
    std::filesystem::create_directories(dir_ / "run" / "web1");
    std::ofstream(dir_ / "run" / "web1" / "state.json")
        << R"({"argv":["qemu-system-x86_64"],"pid":999999,"startedAtUsec":1,"devices":[]})";
    std::filesystem::create_directories(dir_ / "run" / "ghost");
    startCorrald();
    EXPECT_EQ(property("web1", "State"), "s \"stopped\"");
    EXPECT_FALSE(std::filesystem::exists(dir_ / "run" / "web1"));
    EXPECT_FALSE(std::filesystem::exists(dir_ / "run" / "ghost"));
}

}  // namespace
}  // namespace corral::test
