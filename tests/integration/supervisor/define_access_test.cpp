// corrald's own root check of Define, Update, Undefine and GetDefinition, with a caller that
// really is not root: busctl and corralctl run as `nobody` (runuser) on a private dbus-daemon
// whose policy lets every user connect and call, so that only corrald can refuse.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <thread>

#include "tests/integration/supervisor/corrald_fixture.hpp"
#include "tests/integration/supervisor/define_client.hpp"

namespace corral::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kOpenPolicy = R"(<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=@SOCKET@</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
)";

class DefineAccess : public CorraldFixture {
  protected:
    DefineAccess() {
        // The fixture's bus lets only root connect: replace it by one every user may use, with
        // its socket where `nobody` can reach it.
        dbus_.kill(SIGKILL);
        dbus_.wait(5s);
        char pattern[] = "/tmp/corral-access-XXXXXX";
        if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
        socketDir_ = pattern;
        fs::permissions(socketDir_, fs::perms(0755));
        std::string config = kOpenPolicy;
        config.replace(config.find("@SOCKET@"), 8, (socketDir_ / "bus").string());
        std::ofstream(dir_ / "open-bus.conf") << config;
        dbus_ = Process::spawn({"dbus-daemon", "--config-file=" + (dir_ / "open-bus.conf").string(),
                                "--nofork", "--nopidfile", "--print-address=1"},
                               dir_ / "open-bus.address");
        address_.clear();
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (address_.empty() && std::chrono::steady_clock::now() < deadline) {
            auto text = readFile(dir_ / "open-bus.address");
            if (auto end = text.find('\n'); end != std::string::npos)
                address_ = text.substr(0, end);
            std::this_thread::sleep_for(10ms);
        }
        if (address_.empty()) throw std::runtime_error("the open dbus-daemon printed no address");
        std::ofstream(dir_ / "vmlinuz") << "";
    }
    ~DefineAccess() override {
        std::error_code ec;
        fs::remove_all(socketDir_, ec);
    }
    std::string text(unsigned cpus = 1) const {
        return "[machine]\naccel = \"tcg\"\ncpus = " + std::to_string(cpus) +
               "\n[boot]\nkernel = \"" + (dir_ / "vmlinuz").string() + "\"\n";
    }
    CommandResult asNobody(std::vector<std::string> argv) {
        argv.insert(argv.begin(), {"runuser", "-u", "nobody", "--"});
        return runCommand(argv, 30s, dir_.path());
    }
    CommandResult busctlAsNobody(std::vector<std::string> args) {
        args.insert(args.begin(), {"busctl", "--address", address_});
        return asNobody(args);
    }
    fs::path socketDir_;
};

TEST_F(DefineAccess, NonRootCallersAreRefusedByCorraldAndNothingChanges) {
    startCorrald();
    // The caller really is someone else: the bus lets nobody in, and read-only calls work.
    auto list = busctlAsNobody(
        {"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "ListInstances"});
    ASSERT_EQ(list.status, 0) << list.output;

    auto define = busctlAsNobody({"call", "org.corral1", "/org/corral1", "org.corral1.Manager",
                                  "Define", "ssa{sv}", "web1", text(), "0"});
    EXPECT_NE(define.status, 0);
    EXPECT_NE(
        define.output.find("Permission denied: Define needs root; the caller runs as uid 65534."),
        std::string::npos)
        << define.output;
    EXPECT_FALSE(fs::exists(dir_ / "instances" / "web1.toml"));

    // Root defines it; nobody may neither change, remove nor read it.
    DefineClient root(address_);
    ASSERT_TRUE(root.define("web1", text()).error.empty());
    auto path = "/org/corral1/instance/web1";
    auto update = busctlAsNobody(
        {"call", "org.corral1", path, "org.corral1.Instance", "Update", "s", text(2)});
    EXPECT_NE(update.output.find("Permission denied: Update needs root;"), std::string::npos)
        << update.output;
    auto undefine = busctlAsNobody(
        {"call", "org.corral1", path, "org.corral1.Instance", "Undefine", "a{sv}", "0"});
    EXPECT_NE(undefine.output.find("Permission denied: Undefine needs root;"), std::string::npos)
        << undefine.output;
    auto get =
        busctlAsNobody({"call", "org.corral1", path, "org.corral1.Instance", "GetDefinition"});
    EXPECT_NE(get.output.find("Permission denied: GetDefinition needs root or group corral;"),
              std::string::npos)
        << get.output;
    EXPECT_EQ(readFile(dir_ / "instances" / "web1.toml"), text());
    EXPECT_EQ(property("web1", "Vcpus"), "u 1");

    auto ctl = asNobody({std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl", "--address",
                         address_, "undefine", "web1"});
    EXPECT_EQ(ctl.status, 1);
    EXPECT_EQ(ctl.output,
              "corralctl: Permission denied: Undefine needs root; the caller runs as uid 65534.\n");
    EXPECT_TRUE(fs::exists(dir_ / "instances" / "web1.toml"));
    EXPECT_EQ(root.getDefinition("web1").text, text());
}

}  // namespace
}  // namespace corral::test
