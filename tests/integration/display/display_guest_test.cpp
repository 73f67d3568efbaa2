// [display] on real qemu under corrald (TCG guests): a VNC client of the tests reads the boot
// text through the unix socket and over TCP, VNC passwords set over QMP (and kept across a
// corrald restart), Screenshot's PNG against the framebuffer size, TLS refusing plain clients.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "tests/integration/display/rfb_client.hpp"
#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

// A free TCP port on 127.0.0.1 from 5900 on (QEMU takes display numbers).
unsigned freeVncPort() {
    std::mt19937 random(static_cast<unsigned>(::getpid()));
    for (int attempt = 0; attempt < 200; ++attempt) {
        unsigned port = 5900 + 100 + random() % 5000;
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        ::close(fd);
        if (free) return port;
    }
    throw std::runtime_error("no free TCP port from 6000 to 10900");
}

class DisplayGuest : public CorraldFixture {
  protected:
    // A TCG guest whose kernel also writes to the VGA console (console=tty0), with `display`
    // as its [display] table ("" for none).
    void writeVm(const std::string& name, const std::string& display) {
        std::ostringstream s;
        s << "[machine]\ntype = \"pc\"\naccel = \"tcg\"\nmemory = \"256M\"\n\n[boot]\n"
          << "kernel = \"" << guestKernel().string() << "\"\n"
          << "initrd = \"" << guestInitrd().string() << "\"\n"
          << "cmdline = \"console=tty0 console=ttyS0 panic=-1\"\n\n"
          << "[lifecycle]\nshutdown_timeout = \"3s\"\n";
        if (!display.empty()) s << "\n[display]\n" << display;
        writeFile(name + ".toml", s.str());
    }
    std::string writePassword(const std::string& password, mode_t mode) {
        auto file = dir_ / "vnc.pass";
        std::ofstream(file, std::ios::trunc) << password << "\n";
        ::chmod(file.c_str(), mode);
        return file.string();
    }
    std::string vncSocket(const std::string& name) const {
        return (dir_ / "run" / name / "vnc.sock").string();
    }
    CommandResult ctl(std::vector<std::string> args) {
        std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                                         "--address", address_};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, 60s, dir_.path());
    }
    // Captures until the picture has more than one colour (the boot text), bounded.
    RfbCapture waitForText(const RfbTarget& target, const std::optional<std::string>& password) {
        RfbCapture capture;
        auto deadline = std::chrono::steady_clock::now() + 120s;
        while (std::chrono::steady_clock::now() < deadline) {
            capture = rfbCapture(target, password);
            if (capture.error.find("security result") != std::string::npos) break;
            if (capture.ok() && capture.colours() > 1) break;
            std::this_thread::sleep_for(500ms);
        }
        return capture;
    }
};

TEST_F(DisplayGuest, UnixSocketWithPasswordScreenshotAndReattach) {
    auto passwordFile = writePassword("s3cret", 0600);
    writeVm("vm1", "type = \"vnc\"\npassword_file = \"" + passwordFile + "\"\n");
    startCorrald();
    auto start = call("vm1", "Start");
    ASSERT_EQ(start.status, 0) << start.output << corraldLog();

    auto display = property("vm1", "Display");
    EXPECT_NE(display.find("\"socket\" s \"" + vncSocket("vm1") + "\""), std::string::npos)
        << display;
    EXPECT_NE(display.find("\"password\" b true"), std::string::npos) << display;
    auto vnc = ctl({"vnc", "vm1"});
    EXPECT_EQ(vnc.status, 0) << vnc.output;
    EXPECT_NE(vnc.output.find("remote-viewer vnc+unix://" + vncSocket("vm1")), std::string::npos)
        << vnc.output;

    auto target = RfbTarget::unixSocket(vncSocket("vm1"));
    auto text = waitForText(target, "s3cret");
    ASSERT_TRUE(text.ok()) << text.error << corraldLog();
    EXPECT_GT(text.colours(), 1u) << "the VGA console stayed blank";
    EXPECT_EQ(text.securityTypes, std::vector<std::uint8_t>{2});

    auto wrong = rfbCapture(target, "wrong");
    EXPECT_FALSE(wrong.authenticated);
    EXPECT_NE(wrong.error.find("security result: failed"), std::string::npos) << wrong.error;
    auto none = rfbCapture(target, std::nullopt);
    EXPECT_NE(none.error.find("no security type this client speaks (offered: 2)"),
              std::string::npos)
        << none.error;

    auto shot = (dir_ / "shot.png").string();
    auto screenshot = call("vm1", "Screenshot", {"s", shot});
    ASSERT_EQ(screenshot.status, 0) << screenshot.output;
    auto size = pngSize(shot);
    ASSERT_TRUE(size) << shot << " is no PNG";
    auto now = rfbCapture(target, "s3cret");
    ASSERT_TRUE(now.ok()) << now.error;
    EXPECT_EQ(size->first, now.width);
    EXPECT_EQ(size->second, now.height);

    auto viaCtl = ctl({"screenshot", "vm1", (dir_ / "ctl.png").string()});
    EXPECT_EQ(viaCtl.status, 0) << viaCtl.output;
    EXPECT_TRUE(pngSize((dir_ / "ctl.png").string()));
    auto relative = call("vm1", "Screenshot", {"s", "shot.png"});
    EXPECT_NE(relative.output.find("must be absolute"), std::string::npos) << relative.output;
    auto dotdot = call("vm1", "Screenshot", {"s", (dir_ / "run" / ".." / "x.png").string()});
    EXPECT_NE(dotdot.output.find("\"..\""), std::string::npos) << dotdot.output;
    auto nowhere = call("vm1", "Screenshot", {"s", "/nonexistent/dir/x.png"});
    EXPECT_NE(nowhere.output.find("does not exist"), std::string::npos) << nowhere.output;

    // qemu keeps the password: a restarted corrald has nothing to set again.
    auto qemu = pid("vm1");
    killCorrald();
    startCorrald();
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 20s)) << corraldLog();
    EXPECT_EQ(pid("vm1"), qemu);
    auto after = rfbCapture(target, "s3cret");
    EXPECT_TRUE(after.ok()) << after.error;
    EXPECT_FALSE(rfbCapture(target, "wrong").authenticated);
}

TEST_F(DisplayGuest, TcpListenWithoutPasswordAndAVmWithoutDisplay) {
    auto port = freeVncPort();
    writeVm("tcp", "type = \"vnc\"\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\n");
    writeVm("plain", "");
    startCorrald();
    ASSERT_EQ(call("tcp", "Start").status, 0) << corraldLog();
    RfbTarget target;
    target.host = "127.0.0.1";
    target.port = port;
    auto text = waitForText(target, std::nullopt);
    ASSERT_TRUE(text.ok()) << text.error << corraldLog();
    EXPECT_EQ(text.securityTypes, std::vector<std::uint8_t>{1});
    EXPECT_GT(text.colours(), 1u);
    auto vnc = ctl({"vnc", "tcp"});
    EXPECT_NE(vnc.output.find("vnc://127.0.0.1:" + std::to_string(port)), std::string::npos)
        << vnc.output;

    auto stopped = call("plain", "Screenshot", {"s", (dir_ / "p.png").string()});
    EXPECT_NE(stopped.output.find("plain is not running"), std::string::npos) << stopped.output;
    ASSERT_EQ(call("plain", "Start").status, 0) << corraldLog();
    auto headless = call("plain", "Screenshot", {"s", (dir_ / "p.png").string()});
    EXPECT_NE(headless.output.find("plain has no VGA device"), std::string::npos)
        << headless.output;
    auto headlessCtl = ctl({"screenshot", "plain", (dir_ / "p.png").string()});
    EXPECT_EQ(headlessCtl.status, 5) << headlessCtl.output;  // InvalidState
    EXPECT_FALSE(std::filesystem::exists(dir_ / "p.png"));
    auto noVnc = ctl({"vnc", "plain"});
    EXPECT_EQ(noVnc.status, 5) << noVnc.output;
}

TEST_F(DisplayGuest, PasswordFileReadableByOthersIsRefusedAtStart) {
    auto passwordFile = writePassword("s3cret", 0600);
    writeVm("vm1", "type = \"vnc\"\npassword_file = \"" + passwordFile + "\"\n");
    startCorrald();
    ::chmod(passwordFile.c_str(), 0644);  // after corrald validated the definition
    auto start = call("vm1", "Start");
    EXPECT_NE(start.status, 0);
    EXPECT_NE(start.output.find(passwordFile + " must be readable by root only"), std::string::npos)
        << start.output;
    EXPECT_TRUE(waitProperty("vm1", "State", "s \"stopped\"", 20s)) << property("vm1", "State");
    EXPECT_EQ(pid("vm1"), 0);
}

TEST_F(DisplayGuest, TlsCredentialsAcceptedAndPlainClientsRefused) {
    auto pki = dir_ / "pki";
    std::filesystem::create_directory(pki);
    auto openssl = [&](std::vector<std::string> args) {
        args.insert(args.begin(), "openssl");
        auto result = runCommand(args, 60s, dir_.path());
        ASSERT_EQ(result.status, 0) << result.output;
    };
    auto at = [&](const char* file) { return (pki / file).string(); };
    openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=corral test CA", "-keyout", at("ca-key.pem"), "-out", at("ca-cert.pem"),
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign"});
    openssl({"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout",
             at("server-key.pem"), "-out", at("server.csr")});
    std::ofstream(pki / "server.ext") << "basicConstraints=CA:FALSE\n"
                                         "keyUsage=digitalSignature,keyEncipherment\n"
                                         "extendedKeyUsage=serverAuth\n";
    openssl({"x509", "-req", "-in", at("server.csr"), "-CA", at("ca-cert.pem"), "-CAkey",
             at("ca-key.pem"), "-CAcreateserial", "-days", "2", "-extfile", at("server.ext"),
             "-out", at("server-cert.pem")});
    writeVm("vm1", "type = \"vnc\"\ntls_dir = \"" + pki.string() + "\"\n");
    startCorrald();
    auto start = call("vm1", "Start");
    ASSERT_EQ(start.status, 0) << start.output << corraldLog();
    ASSERT_TRUE(waitForPath(vncSocket("vm1"), 10s));
    auto plain = rfbCapture(RfbTarget::unixSocket(vncSocket("vm1")), std::nullopt);
    EXPECT_FALSE(plain.ok());
    EXPECT_FALSE(plain.authenticated);
    EXPECT_EQ(plain.securityTypes, std::vector<std::uint8_t>{19}) << plain.error;  // VeNCrypt
    EXPECT_NE(property("vm1", "Display").find("\"tls\" b true"), std::string::npos);
}

}  // namespace
}  // namespace corral::test
