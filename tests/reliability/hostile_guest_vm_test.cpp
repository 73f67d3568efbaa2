// A real guest (TCG) whose agent port is abused from inside the VM, under a real corrald: the
// guest's root shell stops negotiator-guest and writes a 4 GiB length prefix, random bytes, half a
// frame and a flood of replies into the host-to-guest port. corrald's calls fail within their
// timeouts, its memory and fds stay bounded, the VM keeps running, and once a well-behaved agent
// is back, guest calls work again.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "tests/integration/supervisor/corrald_fixture.hpp"
#include "tests/support/serial_console.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// VmRSS of a process in KiB (0 if unreadable).
long rssKiB(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0;
}

struct Abuse {
    const char* what;
    const char* shell;  // PORT is the guest's host-to-guest device
};

// Each write runs in the background (the runner adds the `&`) under `timeout`: a port nobody reads
// may block the writer.
const Abuse kAbuses[] = {
    {"4 GiB length prefix, then 4 MB of zeros",
     "(printf '4294967296\\n'; head -c 4000000 /dev/zero) | timeout 20 cat > $PORT"},
    {"4 MB of random bytes", "head -c 4000000 /dev/urandom | timeout 20 cat > $PORT"},
    {"half a frame, then silence", "printf '100\\n{\"success\": tr' | timeout 20 cat > $PORT"},
    {"a flood of unsolicited replies",
     "f='{\"success\": true, \"result\": \"flood\"}'; "
     "(while :; do printf '%s\\n%s' ${#f} \"$f\"; done) | head -c 4000000 | "
     "timeout 20 cat > $PORT"},
};

class HostileGuestVm : public CorraldFixture {
  protected:
    CommandResult execute(const std::string& program, const std::string& arg,
                          const std::string& timeoutUsec) {
        return call("evil", "GuestExecute", {"asst", "2", program, arg, "", timeoutUsec}, 30s);
    }
};

TEST_F(HostileGuestVm, AbusedAgentPortNeverHurtsCorraldOrTheVm) {
    writeGuest("evil");
    startCorrald();
    auto started = call("evil", "Start");
    ASSERT_EQ(started.status, 0) << started.output << corraldLog();
    ASSERT_TRUE(waitProperty("evil", "AgentConnected", "b true", 180s)) << corraldLog();
    SerialConsole console(dir_ / "run" / "evil" / "serial.sock");
    pid_t qemu = pid("evil");
    pid_t daemon = corrald_.pid();

    auto port = console.run(
        "for p in /sys/class/virtio-ports/*; do "
        "[ \"$(cat $p/name)\" = negotiator-host-to-guest.0 ] && echo /dev/${p##*/}; done; true",
        30s);
    ASSERT_TRUE(port && port->status == 0) << console.transcript();
    auto start = port->text.find("/dev/");
    auto device = port->text.substr(start, port->text.find_first_of("\r\n", start) - start);
    ASSERT_EQ(device.rfind("/dev/vport", 0), 0u) << port->text;
    auto stopped = console.run("kill $(pidof negotiator-guest)", 30s);
    ASSERT_TRUE(stopped && stopped->status == 0) << console.transcript();

    // A first call while nobody answers: corrald's baseline with the channel in use.
    execute("echo", "baseline", "2000000");
    long rssBefore = rssKiB(daemon);
    auto fdsBefore = openFdCount(daemon);
    for (const auto& abuse : kAbuses) {
        SCOPED_TRACE(abuse.what);
        auto written = console.run(
            std::string("PORT=") + device + "; { ( " + abuse.shell + " ) >/dev/null 2>&1 & }", 30s);
        ASSERT_TRUE(written) << console.transcript();
        auto begin = Clock::now();
        auto result = execute("echo", "hello", "3000000");
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin);
        // The wire has no request ids: a flood may answer the call, garbage must not.
        EXPECT_EQ(result.output.find("hello"), std::string::npos) << result.output;
        EXPECT_LT(took.count(), 10000) << "a call outlived its 3 s timeout by far";
        EXPECT_EQ(property("evil", "State"), "s \"running\"");
        EXPECT_EQ(pid("evil"), qemu);
        EXPECT_EQ(::kill(daemon, 0), 0) << "corrald died";
        auto listed =
            busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "ListInstances"});
        EXPECT_EQ(listed.status, 0) << listed.output;
    }
    long rssAfter = rssKiB(daemon);
    EXPECT_LT(rssAfter - rssBefore, 48 * 1024)
        << "corrald grew from " << rssBefore << " to " << rssAfter << " KiB";

    // A well-behaved agent again: calls work, after the channel resynchronises.
    auto restarted = console.run("{ negotiator-guest --daemon >/tmp/ng2.log 2>&1 & }", 30s);
    ASSERT_TRUE(restarted) << console.transcript();
    bool answered = false;
    auto deadline = Clock::now() + 60s;
    while (!answered && Clock::now() < deadline) {
        answered = execute("echo", "back", "5000000").output == "s \"back\"\n";
        if (!answered) std::this_thread::sleep_for(500ms);
    }
    EXPECT_TRUE(answered) << corraldLog();
    EXPECT_EQ(pid("evil"), qemu);
    // One reconnected channel at most: nothing left open per abuse.
    EXPECT_LE(openFdCount(daemon), fdsBefore + 2);
    std::cout << "corrald RSS " << rssBefore << " KiB before, " << rssAfter
              << " KiB after the abuse\n";
}

}  // namespace
}  // namespace corral::test
