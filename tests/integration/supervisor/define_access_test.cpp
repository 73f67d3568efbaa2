// corrald's own root check of Define, Update, Undefine and GetDefinition, and of the host files
// a non-root caller may attach, with a caller that really is not root: busctl and corralctl run
// as `nobody` (runuser) on a private dbus-daemon whose policy lets every user connect and call,
// so that only corrald can refuse. And what corralctl says when the real bus policy refuses.
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
        char pattern[] = "/tmp/corral-access-XXXXXX";
        if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
        socketDir_ = pattern;
        fs::permissions(socketDir_, fs::perms(0755));
        restartBus("open-bus", "");
        std::ofstream(dir_ / "vmlinuz") << "";
    }
    // Replaces the bus by one every user may connect to and call on, with its socket where
    // `nobody` can reach it; `include` (a policy file) comes after the open rules and so
    // overrides them.
    void restartBus(const std::string& stem, const std::string& include) {
        dbus_.kill(SIGKILL);
        dbus_.wait(5s);
        std::string config = kOpenPolicy;
        config.replace(config.find("@SOCKET@"), 8, (socketDir_ / stem).string());
        if (!include.empty())
            config.replace(config.find("</busconfig>"), 12,
                           "  <include>" + include + "</include>\n</busconfig>");
        std::ofstream(dir_ / (stem + ".conf")) << config;
        dbus_ =
            Process::spawn({"dbus-daemon", "--config-file=" + (dir_ / (stem + ".conf")).string(),
                            "--nofork", "--nopidfile", "--print-address=1"},
                           dir_ / (stem + ".address"));
        address_.clear();
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (address_.empty() && std::chrono::steady_clock::now() < deadline) {
            // Its warnings (e.g. no group corral on this host) share the file: the address is
            // its own line.
            auto printed = readFile(dir_ / (stem + ".address"));
            auto begin = printed.find("unix:path=");
            auto end = printed.find('\n', begin);
            if (begin != std::string::npos && end != std::string::npos)
                address_ = printed.substr(begin, end - begin);
            std::this_thread::sleep_for(10ms);
        }
        if (address_.empty()) throw std::runtime_error("the dbus-daemon printed no address");
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

// Group corral may attach disks, and a disk is a host file the guest can read: outside the
// storage directories only root may name one, so that AttachDisk of /etc/shadow does not make
// the group root-equivalent. The rule is corrald's and holds for every attach method.
TEST_F(DefineAccess, NonRootCallersAttachOnlyFilesInsideTheStorageDirectories) {
    auto storage = dir_ / "storage";
    fs::create_directories(storage);
    std::ofstream(storage / "data.img") << std::string(4096, '\0');
    fs::create_symlink("/etc/shadow", storage / "shadow-link");
    extraConfig_ = "[storage]\nallowed_dirs = [\"" + storage.string() + "\"]\n";
    startCorrald();
    DefineClient root(address_);
    ASSERT_TRUE(root.define("web1", text()).error.empty());
    auto path = "/org/corral1/instance/web1";
    auto attachDisk = [&](const std::string& file) {
        return busctlAsNobody({"call", "org.corral1", path, "org.corral1.Instance", "AttachDisk",
                               "ssa{sv}", "d1", file, "0"});
    };
    auto refusal = [&](const std::string& method, const std::string& file) {
        return "Permission denied: " + method + " of " + file +
               " needs root; other callers may only attach files inside the storage directories "
               "([storage] allowed_dirs: " +
               storage.string() + "), judged after following symlinks.";
    };

    auto shadow = attachDisk("/etc/shadow");
    EXPECT_NE(shadow.output.find(refusal("AttachDisk", "/etc/shadow")), std::string::npos)
        << shadow.output;
    auto link = attachDisk((storage / "shadow-link").string());
    EXPECT_NE(link.output.find(refusal("AttachDisk", (storage / "shadow-link").string())),
              std::string::npos)
        << link.output;
    auto device =
        busctlAsNobody({"call", "org.corral1", path, "org.corral1.Instance", "AttachDevice",
                        "ssa{sv}", "disk", "d1", "1", "path", "s", "/etc/shadow"});
    EXPECT_NE(device.output.find(refusal("AttachDevice", "/etc/shadow")), std::string::npos)
        << device.output;

    auto media = busctlAsNobody({"call", "org.corral1", path, "org.corral1.Instance", "ChangeMedia",
                                 "ss", "cd0", "/etc/shadow"});
    EXPECT_NE(media.output.find(refusal("ChangeMedia", "/etc/shadow")), std::string::npos)
        << media.output;

    // Inside the storage directory the path is fine: what stops it is that web1 is not running.
    auto inside = attachDisk((storage / "data.img").string());
    EXPECT_EQ(inside.output.find("Permission denied"), std::string::npos) << inside.output;
    EXPECT_NE(inside.output.find("web1 is stopped"), std::string::npos) << inside.output;
    // Root may name any file.
    auto asRoot = busctl({"call", "org.corral1", path, "org.corral1.Instance", "AttachDisk",
                          "ssa{sv}", "d1", "/etc/shadow", "0"});
    EXPECT_EQ(asRoot.output.find("Permission denied"), std::string::npos) << asRoot.output;
}

// The real bus policy (etc/dbus/org.corral1.conf) refuses a caller who is neither root nor in
// group corral before corrald sees the call; corralctl says so in one sentence instead of
// printing the policy rule that matched.
TEST_F(DefineAccess, ABusPolicyRefusalIsOneSentenceFromCorralctl) {
    // Everyone may connect, call and own; then the project's policy decides who may call and
    // own org.corral1.
    restartBus("policy-bus", (fs::path(CORRAL_SOURCE_DIR) / "etc/dbus/org.corral1.conf").string());
    writeFile("web1.toml", text());
    startCorrald();

    auto ctl = asNobody({std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl", "--address",
                         address_, "start", "web1"});
    EXPECT_EQ(ctl.status, 1);
    EXPECT_EQ(ctl.output,
              "corralctl: permission denied: Start needs root or membership in group corral (the "
              "bus refused uid 65534)\n");
    // Reading is everyone's.
    auto status = asNobody({std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl", "--address",
                            address_, "status", "web1"});
    EXPECT_EQ(status.status, 0) << status.output;
    EXPECT_EQ(property("web1", "State"), "s \"stopped\"");
}

// attach/detach with persist rewrite the definition: root only. On a stopped VM they change
// the file alone, byte for byte reversibly; an unknown call option is refused.
TEST_F(DefineAccess, PersistIsRootOnlyAndOnAStoppedVmChangesOnlyTheFile) {
    startCorrald();
    DefineClient root(address_);
    auto original = "# keep me\n" + text();
    ASSERT_TRUE(root.define("web1", original).error.empty());
    auto file = dir_ / "instances" / "web1.toml";
    auto image = dir_ / "d1.img";
    std::ofstream(image) << "x";
    auto path = "/org/corral1/instance/web1";
    std::vector<std::string> attach = {"call",
                                       "org.corral1",
                                       path,
                                       "org.corral1.Instance",
                                       "AttachDeviceWithOptions",
                                       "ssa{sv}a{sv}",
                                       "disk",
                                       "d1",
                                       "1",
                                       "path",
                                       "s",
                                       image.string(),
                                       "1",
                                       "persist",
                                       "b",
                                       "true"};
    auto refused = busctlAsNobody(attach);
    EXPECT_NE(refused.output.find("Permission denied: AttachDeviceWithOptions with persist needs "
                                  "root;"),
              std::string::npos)
        << refused.output;
    auto detachRefused =
        busctlAsNobody({"call", "org.corral1", path, "org.corral1.Instance", "DetachWithOptions",
                        "sa{sv}", "d1", "1", "persist", "b", "true"});
    EXPECT_NE(detachRefused.output.find("Permission denied: DetachWithOptions with persist needs "
                                        "root;"),
              std::string::npos)
        << detachRefused.output;
    EXPECT_EQ(readFile(file), original);

    auto bogus = busctl({"call", "org.corral1", path, "org.corral1.Instance",
                         "AttachDeviceWithOptions", "ssa{sv}a{sv}", "disk", "d1", "1", "path", "s",
                         image.string(), "1", "persistent", "b", "true"});
    EXPECT_NE(bogus.status, 0);
    EXPECT_NE(bogus.output.find("persistent"), std::string::npos) << bogus.output;
    EXPECT_EQ(readFile(file), original);

    attach.insert(attach.begin(), "--");
    auto written = busctl(attach);
    ASSERT_EQ(written.status, 0) << written.output << corraldLog();
    EXPECT_EQ(written.output, "s \"\"\n");
    EXPECT_EQ(readFile(file),
              original + "\n[[disk]]\nid = \"d1\"\npath = \"" + image.string() + "\"\n");
    auto notDefined = busctl({"--", "call", "org.corral1", path, "org.corral1.Instance",
                              "DetachWithOptions", "sa{sv}", "d9", "1", "persist", "b", "true"});
    EXPECT_NE(notDefined.output.find("d9 is not in " + file.string()), std::string::npos)
        << notDefined.output;
    auto removed = busctl({"--", "call", "org.corral1", path, "org.corral1.Instance",
                           "DetachWithOptions", "sa{sv}", "d1", "1", "persist", "b", "true"});
    EXPECT_EQ(removed.status, 0) << removed.output;
    EXPECT_EQ(readFile(file), original);
}

}  // namespace
}  // namespace corral::test
