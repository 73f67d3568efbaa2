// Command names and directories: what may run and how failures read.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "agent/commands.hpp"
#include "agent/guest/run_command.hpp"

namespace corral::agent {
namespace {

namespace fs = std::filesystem;

TEST(CommandNames, RefusesPathsAndDots) {
    EXPECT_TRUE(isSafeCommandName("uptime"));
    EXPECT_TRUE(isSafeCommandName("my-cmd.sh"));
    for (std::string bad : std::vector<std::string>{"", ".", "..", "../x", "a/b", "/bin/sh", "x..y",
                                                    std::string("a\0b", 3)}) {
        EXPECT_FALSE(isSafeCommandName(bad)) << bad;
    }
}

class CommandDir : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/agent-cmds.XXXXXX";
        dir_ = ::mkdtemp(tmpl);
    }
    void TearDown() override { fs::remove_all(dir_); }
    void script(const std::string& name, const std::string& body, int mode = 0755) {
        std::ofstream(dir_ / name) << "#!/bin/sh\n" << body << "\n";
        ::chmod((dir_ / name).c_str(), mode);
    }
    fs::path dir_;
};

TEST_F(CommandDir, ListsExecutablesSorted) {
    script("zeta", "true");
    script("alpha", "true");
    script("not-executable", "true", 0644);
    fs::create_directory(dir_ / "subdir");
    EXPECT_EQ(listCommands({dir_}), (std::vector<std::string>{"alpha", "zeta"}));
    EXPECT_TRUE(listCommands({dir_ / "missing"}).empty());
}

TEST_F(CommandDir, ListsTheUnionOfDirectories) {
    fs::create_directory(dir_ / "builtin");
    script("both", "true");
    script("builtin/both", "true");
    script("builtin/extra", "true");
    EXPECT_EQ(listCommands({dir_, dir_ / "builtin", dir_ / "missing"}),
              (std::vector<std::string>{"both", "extra"}));
}

TEST_F(CommandDir, FindsInOrderAndRefusesUnsafeNames) {
    fs::create_directory(dir_ / "second");
    script("second/both", "true");
    script("both", "true");
    script("second/only", "true");
    EXPECT_EQ(findCommand("both", {dir_, dir_ / "second"}), dir_ / "both");
    EXPECT_EQ(findCommand("only", {dir_, dir_ / "second"}), dir_ / "second" / "only");
    EXPECT_FALSE(findCommand("../second/only", {dir_}));
    EXPECT_FALSE(findCommand("missing", {dir_}));
}

TEST(CommandFailure, StatesExitCodeAndStderrTail) {
    auto message = describeFailure("fail", 3 << 8, "first\nlast words\n");
    EXPECT_EQ(message, "command 'fail' failed with exit code 3: first\nlast words");
    EXPECT_EQ(describeFailure("k", SIGKILL, ""), "command 'k' was killed by signal 9");
    EXPECT_LE(tail(std::string(10000, 'x') + "\nend", 100).size(), 104u);
}

TEST(GuestRunCommand, ReturnsStdoutAndFeedsStdin) {
    auto r = guest::runCommand("cat", {"cat"}, std::string("h\xC3\xA9llo\nworld\n"), {});
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.output, "h\xC3\xA9llo\nworld\n");
}

TEST(GuestRunCommand, NonZeroExitIsAnErrorWithCodeAndStderr) {
    auto r = guest::runCommand("sh", {"sh", "-c", "echo oops >&2; exit 7"}, std::nullopt, {});
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "command 'sh' failed with exit code 7: oops");
}

TEST(GuestRunCommand, TimeoutKillsTheCommand) {
    auto start = std::chrono::steady_clock::now();
    auto r = guest::runCommand("sh", {"sh", "-c", "sleep 30"}, std::nullopt,
                               {std::chrono::milliseconds(300), 1024});
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(GuestRunCommand, OutputCapIsAnError) {
    auto r = guest::runCommand("sh", {"sh", "-c", "yes"}, std::nullopt,
                               {std::chrono::seconds(10), 100000});
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("more than 100000 bytes"), std::string::npos) << r.error;
}

TEST(GuestRunCommand, MissingProgramIsAnError) {
    auto r = guest::runCommand("/nonexistent/prog", {"prog"}, std::nullopt, {});
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("cannot execute 'prog'"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace corral::agent
