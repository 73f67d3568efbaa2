// corrald SIGKILLed while three VMs run: the next corrald adopts all of them (same pids, QMP
// and agent answer, hotplugged devices still listed) and restarts nothing.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

class Reattach : public CorraldFixture {};

TEST_F(Reattach, ThreeVmsSurviveCorraldSigkill) {
    const std::vector<std::string> names = {"vm1", "vm2", "vm3"};
    for (std::size_t i = 0; i < names.size(); ++i) {
        GuestOptions options;
        options.machine = i == 1 ? "q35" : "pc";
        writeGuest(names[i], options);
    }
    startCorrald();
    std::map<std::string, pid_t> pids;
    for (const auto& name : names) {
        ASSERT_EQ(call(name, "Start").status, 0) << corraldLog();
        pids[name] = pid(name);
    }
    auto image = dir_ / "data0.img";
    std::ofstream(image).close();
    std::filesystem::resize_file(image, 16 << 20);
    auto attach = call("vm1", "AttachDisk", {"ssa{sv}", "data0", image.string(), "0"});
    ASSERT_EQ(attach.status, 0) << attach.output;
    for (const auto& name : names)
        ASSERT_TRUE(waitProperty(name, "AgentConnected", "b true", 240s)) << corraldLog();

    killCorrald();
    startCorrald();
    for (const auto& name : names) {
        EXPECT_EQ(property(name, "State"), "s \"running\"") << name;
        EXPECT_EQ(pid(name), pids[name]) << name;
        auto qmp = call(name, "Monitor", {"s", R"({"execute":"query-status"})"});
        EXPECT_NE(qmp.output.find("running"), std::string::npos) << qmp.output;
        auto uname = call(name, "GuestExecute", {"asst", "2", "uname", "-s", "", "20000000"});
        EXPECT_EQ(uname.output, "s \"Linux\"\n") << name << corraldLog();
    }
    EXPECT_NE(property("vm1", "Devices").find("\"data0\" \"disk\""), std::string::npos);
    auto log = corraldLog();
    EXPECT_NE(log.find("3 reattached"), std::string::npos) << log;
    // Exactly the three original starts: nothing was restarted.
    std::size_t starts = 0;
    for (auto at = log.find(": starting"); at != std::string::npos;
         at = log.find(": starting", at + 1))
        ++starts;
    EXPECT_EQ(starts, 3u) << log;
    // The adopted disk can still be detached through the new daemon.
    EXPECT_EQ(call("vm1", "Detach", {"s", "data0"}).status, 0) << corraldLog();
}

}  // namespace
}  // namespace corral::test
