// Managed save and restore of a real guest (TCG) under corrald, driven through busctl and
// corralctl: one booted guest with a counter process is saved, refused restores keep the file,
// the restore continues the very same processes, and discard_saved boots afresh.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <regex>
#include <thread>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class SaveGuest : public CorraldFixture {
  protected:
    CommandResult ctl(std::vector<std::string> args) {
        std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                                         "--address", address_};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, 300s, dir_.path());
    }
    // The guest's answer to a shell command, through the agent (GuestExecute's "s" output).
    std::string guest(const std::string& shell) {
        auto result = call("vm1", "GuestExecute", {"asst", "3", "sh", "-c", shell, "", "20000000"});
        EXPECT_EQ(result.status, 0) << shell << ": " << result.output;
        std::smatch match;
        std::regex text("^s \"(.*?)(\\\\n)?\"\n$");
        if (std::regex_match(result.output, match, text)) return match[1];
        return result.output;
    }
    struct Counter {
        long value = 0;
        std::string pid;
        double uptime = 0;
        std::string text;  // what the guest said
    };
    Counter readCounter() {
        Counter c;
        auto text = guest(
            "echo $(cat /tmp/counter) $(cat /tmp/counter.pid) $(cut -d' ' -f1 "
            "/proc/uptime) $(test -d /proc/$(cat /tmp/counter.pid) && echo alive)");
        c.text = text;
        std::istringstream in(text);
        std::string alive;
        in >> c.value >> c.pid >> c.uptime >> alive;
        if (alive != "alive") c.pid = "dead:" + c.pid;
        return c;
    }
    fs::path saved() const { return dir_ / "state" / "vm1" / "saved.state"; }
};

TEST_F(SaveGuest, SaveStopsAndStartRestoresTheSameProcesses) {
    writeGuest("vm1");
    startCorrald();
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"stopped\"", 10s));
    EXPECT_EQ(property("vm1", "HasSavedState"), "b false");

    // Nothing to save.
    auto idle = call("vm1", "Save");
    EXPECT_NE(idle.status, 0);
    EXPECT_NE(idle.output.find("vm1 is stopped; start it first."), std::string::npos)
        << idle.output;

    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    ASSERT_TRUE(waitProperty("vm1", "AgentConnected", "b true", 180s)) << corraldLog();
    guest(
        "(i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.1; done) "
        "</dev/null >/dev/null 2>&1 & echo $! > /tmp/counter.pid; sleep 0.5");
    auto before = readCounter();
    ASSERT_GT(before.value, 0) << before.text;
    ASSERT_EQ(before.pid.rfind("dead:", 0), std::string::npos) << before.pid;
    pid_t qemu = pid("vm1");

    auto save = ctl({"save", "vm1"});
    ASSERT_EQ(save.status, 0) << save.output << corraldLog();
    EXPECT_EQ(save.output,
              "vm1: saved; the next start restores it (start --discard-saved boots "
              "afresh)\n");
    EXPECT_EQ(property("vm1", "State"), "s \"stopped\"");
    EXPECT_EQ(property("vm1", "LastExit"), "s \"saved\"");
    EXPECT_EQ(property("vm1", "HasSavedState"), "b true");
    EXPECT_EQ(pid("vm1"), 0);
    EXPECT_NE(::kill(qemu, 0), 0) << "qemu " << qemu << " still runs after Save";
    ASSERT_TRUE(fs::exists(saved()));
    EXPECT_FALSE(fs::exists(dir_ / "state" / "vm1" / "saved.state.tmp"));
    auto size = fs::file_size(saved());
    EXPECT_GT(size, 1u << 20);  // the guest's RAM in use, at least

    // A damaged file: Start fails with qemu's own sentence and keeps the file as it was.
    auto good = dir_ / "good.state";
    fs::copy_file(saved(), good);
    fs::resize_file(saved(), size / 2);
    auto truncated = call("vm1", "Start");
    EXPECT_NE(truncated.status, 0);
    EXPECT_NE(truncated.output.find("load of migration failed"), std::string::npos)
        << truncated.output << corraldLog();
    EXPECT_EQ(fs::file_size(saved()), size / 2);
    EXPECT_EQ(property("vm1", "State"), "s \"stopped\"");
    EXPECT_EQ(property("vm1", "HasSavedState"), "b true");
    std::ofstream(saved(), std::ios::trunc) << "not a saved state\n";
    auto garbage = ctl({"start", "vm1"});
    EXPECT_EQ(garbage.status, 1) << garbage.output;
    EXPECT_NE(garbage.output.find("it is not a corral saved state"), std::string::npos)
        << garbage.output;
    EXPECT_NE(garbage.output.find("the file is kept"), std::string::npos) << garbage.output;
    EXPECT_TRUE(fs::exists(saved()));

    // The good file: the same guest goes on where it was.
    fs::remove(saved());
    fs::copy_file(good, saved());
    auto restore = ctl({"start", "vm1"});
    ASSERT_EQ(restore.status, 0) << restore.output << corraldLog();
    EXPECT_EQ(restore.output, "vm1: running (restored from its saved state)\n");
    EXPECT_FALSE(fs::exists(saved()));
    EXPECT_EQ(property("vm1", "HasSavedState"), "b false");
    ASSERT_TRUE(waitProperty("vm1", "AgentConnected", "b true", 60s)) << corraldLog();
    auto after = readCounter();
    EXPECT_EQ(after.pid, before.pid);
    EXPECT_GE(after.uptime, before.uptime);  // not booted again: its clock went on
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (after.value <= before.value && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(200ms);
        after = readCounter();
    }
    EXPECT_GT(after.value, before.value) << "the counter did not go on";

    // discard_saved: the saved state goes and the VM boots afresh.
    ASSERT_EQ(call("vm1", "Save").status, 0) << corraldLog();
    ASSERT_TRUE(fs::exists(saved()));
    auto fresh = ctl({"start", "--discard-saved", "vm1"});
    ASSERT_EQ(fresh.status, 0) << fresh.output << corraldLog();
    EXPECT_EQ(fresh.output, "vm1: running\n");
    EXPECT_FALSE(fs::exists(saved()));
    EXPECT_EQ(property("vm1", "HasSavedState"), "b false");
    EXPECT_EQ(property("vm1", "LastExit"), "s \"saved\"");
    std::ifstream cmdline("/proc/" + std::to_string(pid("vm1")) + "/cmdline");
    std::string argv((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    EXPECT_EQ(argv.find("-incoming"), std::string::npos);
    EXPECT_EQ(call("vm1", "Kill").status, 0);
}

}  // namespace
}  // namespace corral::test
