// [display]: every key's diagnostics at file:line:col and its QEMU arguments.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "hypervisor/instance_spec.hpp"
#include "hypervisor/qemu_argv.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::hypervisor {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Argv = std::vector<std::string>;

class Display : public ::testing::Test {
  protected:
    Display() {
        std::ofstream(dir_ / "vmlinuz") << "x";
        password("secret\n", 0600);
        std::filesystem::create_directory(dir_ / "pki");
        for (const char* f : {"ca-cert.pem", "server-cert.pem", "server-key.pem"})
            std::ofstream(dir_ / "pki" / f) << "x";
    }

    std::string head() const {
        return "[boot]\nkernel = \"" + (dir_ / "vmlinuz").string() + "\"\n";
    }
    std::string passwordFile() const { return (dir_ / "vnc.pass").string(); }
    std::string pki() const { return (dir_ / "pki").string(); }

    void password(const std::string& text, mode_t mode) {
        std::ofstream(dir_ / "vnc.pass", std::ios::trunc) << text;
        ::chmod(passwordFile().c_str(), mode);
    }

    std::vector<std::string> errors(const std::string& display) {
        auto result = parseInstanceSpec(head() + "[display]\n" + display, "vm1.toml");
        std::vector<std::string> out;
        for (const auto& d : result.diagnostics) out.push_back(d.format());
        return out;
    }

    Argv argv(const std::string& text, const std::string& machine = "q35") {
        auto result = parseInstanceSpec(
            head() + "[machine]\ntype = \"" + machine + "\"\n[display]\n" + text, "vm1.toml");
        EXPECT_TRUE(result.ok()) << (result.diagnostics.empty()
                                         ? std::string()
                                         : result.diagnostics.front().format());
        if (!result.ok()) return {};
        auto plan = planSlots(*result.spec);
        return buildQemuArgv(*result.spec, plan,
                             RuntimePaths::forInstance("/run/corral", result.spec->name));
    }

    // The -device argument of the device `id`; "" if none.
    static std::string device(const Argv& args, const std::string& id) {
        for (const auto& value : values(args, "-device"))
            if (value.find(",id=" + id + ",") != std::string::npos) return value;
        return "";
    }

    // Every value that follows `flag` in `args`.
    static std::vector<std::string> values(const Argv& args, const std::string& flag) {
        std::vector<std::string> out;
        for (std::size_t i = 0; i + 1 < args.size(); ++i)
            if (args[i] == flag) out.push_back(args[i + 1]);
        return out;
    }

    test::TempDir dir_;
};

TEST_F(Display, DefaultsToNoneWithoutVga) {
    auto result = parseInstanceSpec(head(), "vm1.toml");
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result.spec->display.type, DisplayType::None);
    EXPECT_EQ(result.spec->display.vga, VgaModel::None);
    auto args = buildQemuArgv(*result.spec, planSlots(*result.spec),
                              RuntimePaths::forInstance("/run/corral", "vm1"));
    EXPECT_THAT(values(args, "-display"), ElementsAre("none"));
    EXPECT_THAT(values(args, "-vnc"), IsEmpty());
    for (const auto& device : values(args, "-device"))
        EXPECT_EQ(device.find("VGA"), std::string::npos);
}

TEST_F(Display, VncOnTheUnixSocketWithAStdVgaInTheFirstSlot) {
    auto args = argv("type = \"vnc\"\n");
    EXPECT_THAT(values(args, "-display"), ElementsAre("none"));
    EXPECT_THAT(values(args, "-vnc"), ElementsAre("unix:/run/corral/vm1/vnc.sock"));
    EXPECT_EQ(device(args, "corral-vga"), "VGA,id=corral-vga,bus=pcie.0,addr=0x1");
    // The agent port moves one slot on.
    EXPECT_EQ(device(args, "corral-vserial"),
              "virtio-serial-pci,id=corral-vserial,bus=pcie.0,addr=0x2");
    EXPECT_EQ(device(argv("type = \"vnc\"\n", "pc"), "corral-vga"),
              "VGA,id=corral-vga,bus=pci.0,addr=0x2");
}

TEST_F(Display, VgaModels) {
    EXPECT_EQ(device(argv("type = \"vnc\"\nvga = \"virtio\"\n"), "corral-vga"),
              "virtio-vga,id=corral-vga,bus=pcie.0,addr=0x1");
    EXPECT_EQ(device(argv("type = \"vnc\"\nvga = \"cirrus\"\n"), "corral-vga"),
              "cirrus-vga,id=corral-vga,bus=pcie.0,addr=0x1");
    // A VGA without VNC: for screenshots of a headless VM.
    auto headless = argv("vga = \"std\"\n");
    EXPECT_EQ(device(headless, "corral-vga"), "VGA,id=corral-vga,bus=pcie.0,addr=0x1");
    EXPECT_THAT(values(headless, "-vnc"), IsEmpty());
}

TEST_F(Display, TcpListenTakesADisplayNumber) {
    EXPECT_THAT(values(argv("type = \"vnc\"\nlisten = \"127.0.0.1:5901\"\n"), "-vnc"),
                ElementsAre("127.0.0.1:1"));
    EXPECT_THAT(values(argv("type = \"vnc\"\nlisten = \"[::1]:5900\"\n"), "-vnc"),
                ElementsAre("[::1]:0"));
    EXPECT_THAT(
        values(argv("type = \"vnc\"\nlisten = \"0.0.0.0:5910\"\nwebsocket = 5710\n"), "-vnc"),
        ElementsAre("0.0.0.0:10,websocket=0.0.0.0:5710"));
}

TEST_F(Display, PasswordIsOnlySwitchedOnInTheArgv) {
    auto args = argv("type = \"vnc\"\npassword_file = \"" + passwordFile() + "\"\n");
    EXPECT_THAT(values(args, "-vnc"), ElementsAre("unix:/run/corral/vm1/vnc.sock,password=on"));
    for (const auto& arg : args) EXPECT_EQ(arg.find("secret"), std::string::npos) << arg;
}

TEST_F(Display, TlsCredentialsObject) {
    auto args = argv("type = \"vnc\"\ntls_dir = \"" + pki() + "\"\ntls_verify_peer = true\n");
    EXPECT_THAT(values(args, "-object"), ElementsAre("tls-creds-x509,id=corral-vnc-tls,dir=" +
                                                     pki() + ",endpoint=server,verify-peer=on"));
    EXPECT_THAT(values(args, "-vnc"),
                ElementsAre("unix:/run/corral/vm1/vnc.sock,tls-creds=corral-vnc-tls"));
}

TEST_F(Display, BadValuesAtTheirPosition) {
    EXPECT_THAT(errors("type = \"spice\"\n"),
                ElementsAre("vm1.toml:4:8: error: type: expected one of \"none\" | \"vnc\", got "
                            "\"spice\""));
    EXPECT_THAT(errors("type = \"vnc\"\nvga = \"qxl\"\n"),
                ElementsAre("vm1.toml:5:7: error: vga: expected one of \"std\" | \"virtio\" | "
                            "\"cirrus\" | \"none\", got \"qxl\""));
    EXPECT_THAT(errors("type = \"vnc\"\nvga = \"none\"\n"),
                ElementsAre("vm1.toml:5:7: error: vga: a VNC display needs a VGA device; choose "
                            "\"std\", \"virtio\" or \"cirrus\""));
    EXPECT_THAT(errors("listen = \"unix\"\n"),
                ElementsAre("vm1.toml:4:10: error: listen: only with type = \"vnc\""));
    EXPECT_THAT(
        errors("type = \"vnc\"\nvnc_port = 1\n"),
        ElementsAre(::testing::StartsWith("vm1.toml:5:1: error: unknown key \"vnc_port\"")));
}

TEST_F(Display, ListenMustBeNumericWithAPortFrom5900) {
    EXPECT_THAT(errors("type = \"vnc\"\nlisten = \"localhost:5901\"\n"),
                ElementsAre("vm1.toml:5:10: error: listen: \"localhost\" is not a numeric IPv4 "
                            "address (host names are not resolved), got \"localhost:5901\""));
    EXPECT_THAT(errors("type = \"vnc\"\nlisten = \"127.0.0.1:80\"\n"),
                ElementsAre("vm1.toml:5:10: error: listen: port \"80\" is not between 5900 and "
                            "65535 (QEMU takes VNC display numbers, port 5900 + N), got "
                            "\"127.0.0.1:80\""));
    EXPECT_THAT(errors("type = \"vnc\"\nlisten = \"::1:5901\"\n"),
                ElementsAre("vm1.toml:5:10: error: listen: an IPv6 address goes in brackets: "
                            "\"[::1]:5901\", got \"::1:5901\""));
    EXPECT_THAT(errors("type = \"vnc\"\nlisten = \"127.0.0.1\"\n"),
                ElementsAre(::testing::HasSubstr("expected \"unix\" or \"ADDRESS:PORT\"")));
    EXPECT_THAT(errors("type = \"vnc\"\nlisten = \"[::1]:99999\"\n"),
                ElementsAre(::testing::HasSubstr("port \"99999\" is not between")));
}

TEST_F(Display, WebsocketNeedsTcp) {
    EXPECT_THAT(errors("type = \"vnc\"\nwebsocket = 5700\n"),
                ElementsAre("vm1.toml:5:13: error: websocket: a websocket port needs listen = "
                            "\"ADDRESS:PORT\"; with listen = \"unix\" there is no TCP address to "
                            "serve it on"));
    EXPECT_THAT(errors("type = \"vnc\"\nlisten = \"127.0.0.1:5901\"\nwebsocket = 5901\n"),
                ElementsAre("vm1.toml:6:13: error: websocket: port 5901 is the VNC port itself; "
                            "choose another"));
    EXPECT_THAT(errors("type = \"vnc\"\nlisten = \"127.0.0.1:5901\"\nwebsocket = 0\n"),
                ElementsAre("vm1.toml:6:13: error: websocket: expected an integer from 1 to "
                            "65535, got 0"));
}

TEST_F(Display, PasswordFileMustBeRootsAloneAndShort) {
    std::string key = "type = \"vnc\"\npassword_file = \"" + passwordFile() + "\"\n";
    EXPECT_THAT(errors(key), IsEmpty());
    password("secret\n", 0644);
    EXPECT_THAT(errors(key), ElementsAre("vm1.toml:5:17: error: password_file: " + passwordFile() +
                                         " must be readable by root only (owner root, mode 0600 "
                                         "or 0400); it has owner uid 0 and mode 0644"));
    password("123456789\n", 0400);
    EXPECT_THAT(errors(key), ElementsAre("vm1.toml:5:17: error: password_file: " + passwordFile() +
                                         ": the password has 9 characters; QEMU's VNC "
                                         "authentication takes at most 8"));
    password("\n", 0600);
    EXPECT_THAT(errors(key), ElementsAre(::testing::HasSubstr("is empty")));
    password("a\tb", 0600);
    EXPECT_THAT(errors(key), ElementsAre(::testing::HasSubstr("only printable ASCII")));
    EXPECT_THAT(errors("type = \"vnc\"\npassword_file = \"vnc.pass\"\n"),
                ElementsAre("vm1.toml:5:17: error: password_file: expected an absolute path, got "
                            "\"vnc.pass\""));
    EXPECT_THAT(errors("type = \"vnc\"\npassword_file = \"/nonexistent/x\"\n"),
                ElementsAre("vm1.toml:5:17: error: password_file: cannot read /nonexistent/x: No "
                            "such file or directory"));
}

TEST_F(Display, TlsDirMustHoldTheServerCredentials) {
    std::filesystem::remove(dir_ / "pki" / "server-key.pem");
    EXPECT_THAT(errors("type = \"vnc\"\ntls_dir = \"" + pki() + "\"\n"),
                ElementsAre("vm1.toml:5:11: error: tls_dir: " + pki() +
                            " has no server-key.pem (QEMU's x509 server needs ca-cert.pem, "
                            "server-cert.pem and server-key.pem)"));
    EXPECT_THAT(errors("type = \"vnc\"\ntls_verify_peer = true\n"),
                ElementsAre("vm1.toml:5:19: error: tls_verify_peer: only with tls_dir"));
}

}  // namespace
}  // namespace corral::hypervisor
