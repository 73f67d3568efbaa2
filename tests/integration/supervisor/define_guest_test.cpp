// A guest defined over D-Bus boots under corrald; an Update of the running VM replaces the file,
// leaves the running qemu alone, lists what waits, and is in force after a stop and start.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/integration/supervisor/corrald_fixture.hpp"
#include "tests/integration/supervisor/define_client.hpp"

namespace corral::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class DefineGuest : public CorraldFixture {
  protected:
    // The fixture's guest definition (TCG, the test image) as text, not as a file.
    std::string guestText() {
        writeGuest("template");
        auto text = readFile(dir_ / "instances" / "template.toml");
        fs::remove(dir_ / "instances" / "template.toml");
        return text;
    }
    static std::string replaced(std::string text, const std::string& from, const std::string& to) {
        auto at = text.find(from);
        if (at == std::string::npos) ADD_FAILURE() << from << " not in the definition";
        return at == std::string::npos ? text : text.replace(at, from.size(), to);
    }
    // vCPUs of the running qemu, as QEMU itself counts them.
    std::size_t qemuCpus(const std::string& name) {
        auto out = call(name, "Monitor", {"s", R"({"execute":"query-cpus-fast"})"}).output;
        std::size_t n = 0;
        for (auto at = out.find("cpu-index"); at != std::string::npos;
             at = out.find("cpu-index", at + 1))
            ++n;
        return n;
    }
    void kill(const std::string& name) {
        ASSERT_EQ(call(name, "Kill").status, 0);
        ASSERT_TRUE(waitProperty(name, "State", "s \"stopped\"", 20s)) << corraldLog();
    }
};

TEST_F(DefineGuest, DefinedGuestBootsAndARunningUpdateWaitsForTheNextStart) {
    auto text = guestText();
    startCorrald();
    DefineClient client(address_);
    client.watchManagerSignals();
    auto defined = client.define("web1", text);
    ASSERT_TRUE(defined.error.empty()) << defined.message;
    EXPECT_TRUE(client.waitSignal("InstanceNew web1 /org/corral1/instance/web1", 10s));
    auto start = call("web1", "Start");
    ASSERT_EQ(start.status, 0) << start.output << corraldLog();
    ASSERT_EQ(property("web1", "State"), "s \"running\"");
    auto qemu = pid("web1");
    ASSERT_NE(qemu, 0);
    ASSERT_EQ(qemuCpus("web1"), 1u);
    // The guest itself boots: its agent connects from inside.
    ASSERT_TRUE(waitProperty("web1", "AgentConnected", "b true", 180s)) << corraldLog();

    auto twoCpus = replaced(text, "cpus = 1", "cpus = 2");
    auto update = client.update("web1", twoCpus);
    ASSERT_TRUE(update.error.empty()) << update.message;
    EXPECT_EQ(update.strings, std::vector<std::string>{"machine.cpus"});
    EXPECT_EQ(readFile(dir_ / "instances" / "web1.toml"), twoCpus);
    // The running VM is untouched, and its properties still describe it.
    EXPECT_EQ(pid("web1"), qemu);
    EXPECT_EQ(qemuCpus("web1"), 1u);
    EXPECT_EQ(property("web1", "Vcpus"), "u 1");
    EXPECT_EQ(property("web1", "State"), "s \"running\"");

    // corralctl edit of the running VM prints everything that waits for the next start.
    auto editor = dir_ / "more-memory";
    std::ofstream(editor)
        << "#!/bin/sh\nsed -i 's/^memory = \"256M\"$/memory = \"320M\"/' \"$1\"\n";
    fs::permissions(editor, fs::perms::owner_all);
    auto edit = runCommand({"env", "EDITOR=" + editor.string(), "TMPDIR=" + dir_.path().string(),
                            std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl", "--address",
                            address_, "edit", "web1"},
                           30s, dir_.path());
    EXPECT_EQ(edit.status, 0) << edit.output;
    EXPECT_EQ(edit.output,
              "web1: updated; takes effect at the next start: machine.cpus, machine.memory\n");

    auto undefine = client.undefine("web1", {});
    EXPECT_EQ(undefine.error, "org.corral1.Error.InvalidState");
    EXPECT_EQ(undefine.message, "web1 is running; shut it down before Undefine.");
    EXPECT_TRUE(fs::exists(dir_ / "instances" / "web1.toml"));

    client.watchProperties("web1");
    kill("web1");
    // Announced, so that a client that caches properties (an ObjectManager proxy) sees it.
    EXPECT_TRUE(client.waitSignal("PropertiesChanged Vcpus", 10s));
    EXPECT_EQ(property("web1", "Vcpus"), "u 2");
    EXPECT_EQ(property("web1", "MemoryBytes"), "t " + std::to_string(320ull << 20));
    ASSERT_EQ(call("web1", "Start").status, 0) << corraldLog();
    EXPECT_NE(pid("web1"), qemu);
    EXPECT_EQ(qemuCpus("web1"), 2u);
    kill("web1");
    auto removed = client.undefine("web1", {});
    EXPECT_TRUE(removed.error.empty()) << removed.message;
    EXPECT_TRUE(client.waitSignal("InstanceRemoved web1 /org/corral1/instance/web1", 10s));
    EXPECT_FALSE(fs::exists(dir_ / "instances" / "web1.toml"));
    EXPECT_FALSE(fs::exists(dir_ / "run" / "web1"));
}

}  // namespace
}  // namespace corral::test
