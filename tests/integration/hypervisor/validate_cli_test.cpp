// corral-validate as a user runs it: file:line:col diagnostics on stderr, exit 1 on any error,
// exit 0 when every file is valid.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

struct Run {
    int exitCode = -1;
    std::string output;
};

Run validate(const std::vector<std::string>& files, const std::vector<std::string>& as = {}) {
    TempDir dir;
    std::vector<std::string> argv = as;
    argv.push_back(CORRAL_VALIDATE_BIN);
    argv.insert(argv.end(), files.begin(), files.end());
    auto process = Process::spawn(argv, dir / "out");
    auto status = process.wait(10s);
    Run run;
    if (status && WIFEXITED(*status)) run.exitCode = WEXITSTATUS(*status);
    std::ifstream in(dir / "out");
    std::stringstream text;
    text << in.rdbuf();
    run.output = text.str();
    return run;
}

TEST(ValidateCli, PrintsEveryErrorAndExitsOne) {
    TempDir dir;
    auto good = dir / "good.toml";
    auto bad = dir / "bad.toml";
    std::ofstream(good) << "[boot]\nkernel = \"" << guestKernel().string() << "\"\n";
    std::ofstream(bad) << "[machine]\ncpus = 0\nmemroy = \"1G\"\n[[disk]]\npath = \"/nope\"\n";

    auto ok = validate({good});
    EXPECT_EQ(ok.exitCode, 0) << ok.output;
    EXPECT_EQ(ok.output, "");

    auto failed = validate({good, bad});
    EXPECT_EQ(failed.exitCode, 1);
    EXPECT_EQ(failed.output,
              bad.string() + ":2:8: error: cpus: expected an integer from 1 to 255, got 0\n" +
                  bad.string() + ":3:1: error: unknown key \"memroy\" in [machine]; did you mean " +
                  "\"memory\"?\n" + bad.string() + ":5:8: error: path: \"/nope\" does not exist\n");
}

// A user validating a definition of root's: a file that is there but hidden from them is not
// "missing", and the reason says who cannot read it and who will.
TEST(ValidateCli, AsAUserWhatCannotBeReadSaysWhoCannotReadIt) {
    TempDir dir;
    std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
    auto hidden = dir / "hidden";
    std::filesystem::create_directory(hidden);
    std::ofstream(hidden / "vmlinuz") << "";
    std::filesystem::permissions(hidden, std::filesystem::perms(0700));
    std::ofstream(dir / "private-kernel") << "";
    std::filesystem::permissions(dir / "private-kernel", std::filesystem::perms(0600));
    auto def = dir / "web1.toml";
    std::ofstream(def) << "[boot]\nkernel = \"" << (hidden / "vmlinuz").string()
                       << "\"\ninitrd = \"" << (dir / "private-kernel").string() << "\"\n";
    std::filesystem::permissions(def, std::filesystem::perms(0644));
    auto secret = dir / "secret.toml";
    std::ofstream(secret) << "";
    std::filesystem::permissions(secret, std::filesystem::perms(0600));

    const std::string why = " by uid 65534 (corrald checks and opens it as root: validate as root)";
    auto run = validate({def.string(), secret.string()}, {"runuser", "-u", "nobody", "--"});
    EXPECT_EQ(run.exitCode, 1);
    EXPECT_EQ(run.output,
              def.string() + ":2:10: error: kernel: \"" + (hidden / "vmlinuz").string() +
                  "\" cannot be checked: Permission denied" + why + "\n" + def.string() +
                  ":3:10: error: initrd: \"" + (dir / "private-kernel").string() +
                  "\" is not readable" + why + "\n" + secret.string() +
                  ":1:1: error: the file cannot be read: Permission denied" + why + "\n");
    // Root reads all of it: only the empty secret.toml's lack of [boot] or disk remains, if any.
    auto asRoot = validate({def.string()});
    EXPECT_EQ(asRoot.exitCode, 0) << asRoot.output;
}

// A directory is read as corrald reads it: what corrald would ignore is an error with the reason.
TEST(ValidateCli, DirectoryReportsEveryFileCorraldIgnores) {
    TempDir dir;
    std::string boot = "[boot]\nkernel = \"" + guestKernel().string() + "\"\n";
    std::ofstream(dir / "web1.toml") << boot;
    std::ofstream(dir / "copy.toml") << "name = \"web1\"\n" << boot;
    std::filesystem::create_directory(dir / "x.toml");
    std::filesystem::create_symlink(dir / "loop.toml", dir / "loop.toml");
    std::ofstream(dir / "notes.txt") << "not a definition";

    auto run = validate({dir.path().string()});
    EXPECT_EQ(run.exitCode, 1);
    auto d = dir.path().string();
    EXPECT_EQ(run.output, d +
                              "/copy.toml: error: ignored by corrald: instance web1 is already "
                              "defined by " +
                              d + "/web1.toml\n" + d +
                              "/loop.toml: error: ignored by corrald: symlink loop (Too many "
                              "levels of symbolic links)\n" +
                              d +
                              "/x.toml: error: ignored by corrald: is a directory, not a "
                              "definition file\n");

    std::filesystem::remove(dir / "copy.toml");
    std::filesystem::remove(dir / "x.toml");
    std::filesystem::remove(dir / "loop.toml");
    auto clean = validate({dir.path().string()});
    EXPECT_EQ(clean.exitCode, 0) << clean.output;
    EXPECT_EQ(clean.output, "");
}

TEST(ValidateCli, UsageErrorWithoutFiles) {
    auto run = validate({});
    EXPECT_EQ(run.exitCode, 2);
    EXPECT_THAT(run.output, ::testing::HasSubstr("usage: corral-validate FILE..."));
}

}  // namespace
}  // namespace corral::test
