// Define, Update, Undefine and GetDefinition against a real corrald on a private dbus-daemon:
// the file on disk, the signals, every error a caller can cause, and the root-only rule checked
// with a caller that really is not root. No guest boots here (define_guest_test.cpp does).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "tests/integration/supervisor/corrald_fixture.hpp"
#include "tests/integration/supervisor/define_client.hpp"

namespace corral::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class DefineTest : public CorraldFixture {
  protected:
    DefineTest() { std::ofstream(dir_ / "vmlinuz") << ""; }
    std::string text(unsigned cpus = 1) const {
        return "# web1, written by a test\n[machine]\naccel = \"tcg\"\ncpus = " +
               std::to_string(cpus) + "\n\n[boot]\nkernel = \"" + (dir_ / "vmlinuz").string() +
               "\"\n";
    }
    fs::path file(const std::string& name) const { return dir_ / "instances" / (name + ".toml"); }
    std::vector<std::string> instanceFiles() const {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(dir_ / "instances"))
            names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
    CommandResult ctl(std::vector<std::string> args, std::vector<std::string> env = {}) {
        std::vector<std::string> argv = {"env"};
        argv.insert(argv.end(), env.begin(), env.end());
        argv.push_back(std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl");
        argv.push_back("--address");
        argv.push_back(address_);
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, 30s, dir_.path());
    }
    // An executable shell script in the test dir.
    std::string script(const std::string& name, const std::string& body) {
        auto path = dir_ / name;
        std::ofstream(path) << "#!/bin/sh\n" << body;
        fs::permissions(path, fs::perms::owner_all);
        return path.string();
    }
};

TEST_F(DefineTest, DefineWritesTheFileAnnouncesTheInstanceAndReloadKeepsOne) {
    startCorrald();
    DefineClient client(address_);
    client.watchManagerSignals();
    auto r = client.define("web1", text());
    ASSERT_TRUE(r.error.empty()) << r.error << ": " << r.message;
    EXPECT_EQ(r.text, "/org/corral1/instance/web1");
    EXPECT_TRUE(client.waitSignal("InstanceNew web1 /org/corral1/instance/web1", 10s));
    EXPECT_EQ(readFile(file("web1")), text());
    struct stat st {};
    ASSERT_EQ(::stat(file("web1").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    EXPECT_EQ(instanceFiles(), std::vector<std::string>{"web1.toml"});
    EXPECT_EQ(property("web1", "State"), "s \"stopped\"");
    auto definition = client.getDefinition("web1");
    EXPECT_EQ(definition.text, text());  // the comment too

    ASSERT_EQ(
        busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "Reload"}).status, 0);
    auto list =
        busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "ListInstances"});
    EXPECT_EQ(list.output, "a(ssuo) 1 \"web1\" \"stopped\" 0 \"/org/corral1/instance/web1\"\n");
    EXPECT_FALSE(client.sawSignal("InstanceRemoved"));
}

TEST_F(DefineTest, DefinesRacingReloadsGiveOneInstanceEach) {
    startCorrald();
    std::vector<Process> reloads;
    for (int i = 0; i < 8; ++i)
        reloads.push_back(Process::spawn({"busctl", "--address", address_, "call", "org.corral1",
                                          "/org/corral1", "org.corral1.Manager", "Reload"}));
    DefineClient client(address_);
    for (int i = 0; i < 8; ++i)
        EXPECT_TRUE(client.define("vm" + std::to_string(i), text()).error.empty());
    for (auto& p : reloads) EXPECT_TRUE(p.wait(20s));
    ASSERT_EQ(
        busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "Reload"}).status, 0);
    auto list =
        busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "ListInstances"});
    EXPECT_EQ(list.output.rfind("a(ssuo) 8 ", 0), 0u) << list.output;
    EXPECT_EQ(instanceFiles().size(), 8u);
}

TEST_F(DefineTest, BadDefinitionReportsEveryErrorWithLineAndColumnAndWritesNothing) {
    startCorrald();
    DefineClient client(address_);
    std::string bad = "name = \"other\"\n[machine]\ncpus = 0\nmemory = \"lots\"\n[bogus]\n";
    auto r = client.define("web1", bad);
    EXPECT_EQ(r.error, "org.corral1.Error.InvalidDefinition");
    auto f = file("web1").string();
    // corral-validate's lines for the same text at the same path, plus the name mismatch.
    fs::create_directories(dir_ / "check");
    std::ofstream(dir_ / "check" / "web1.toml") << bad;
    auto validate = runCommand({std::string(CORRAL_BINARY_DIR) + "/hypervisor/corral-validate",
                                (dir_ / "check" / "web1.toml").string()},
                               10s, dir_.path());
    EXPECT_EQ(validate.status, 1);
    std::istringstream lines(validate.output);
    std::string line;
    unsigned count = 0;
    while (std::getline(lines, line)) {
        line.replace(0, (dir_ / "check" / "web1.toml").string().size(), f);
        EXPECT_NE(r.message.find(line), std::string::npos) << line << "\nin\n" << r.message;
        ++count;
    }
    EXPECT_GE(count, 3u);
    for (const char* at : {":3:8: error: ", ":4:10: error: "})
        EXPECT_NE(r.message.find(f + at), std::string::npos) << at << " in\n" << r.message;
    EXPECT_NE(r.message.find(f + ":1:8: error: name: \"other\" differs from the instance name"),
              std::string::npos)
        << r.message;
    EXPECT_EQ(std::count(r.message.begin(), r.message.end(), '\n'), count);  // one line each
    EXPECT_TRUE(instanceFiles().empty());
    EXPECT_EQ(busctl({"get-property", "org.corral1", path("web1"), "org.corral1.Instance", "State"})
                  .status,
              1);
}

TEST_F(DefineTest, ExistingNameIsRefusedWithExists) {
    writeFile("web1.toml", text());
    startCorrald();
    DefineClient client(address_);
    auto r = client.define("web1", text(2));
    EXPECT_EQ(r.error, "org.corral1.Error.Exists");
    EXPECT_EQ(r.message, "An instance named web1 exists already; change it with Update.");
    EXPECT_EQ(readFile(file("web1")), text());
}

TEST_F(DefineTest, BadArgumentsAreRefusedClearlyAndNothingIsWritten) {
    startCorrald();
    DefineClient client(address_);
    struct Case {
        std::string what, name, toml;
        std::vector<std::pair<std::string, char>> options;
        std::string message;
    };
    std::vector<Case> cases = {
        {"bad name", "../etc", text(), {}, "Bad instance name \"../etc\": "},
        {"empty name", "", text(), {}, "Bad instance name \"\": "},
        {"empty toml", "web1", "", {}, "The definition is empty"},
        {"2 MiB toml",
         "web1",
         std::string(2u << 20, '#'),
         {},
         "The definition is 2097152 bytes; at most 1048576 (1 MiB) are accepted."},
        {"unknown option",
         "web1",
         text(),
         {{"force", 'b'}},
         "Unknown option \"force\" for Define; it takes no options."},
        {"option of a strange type", "web1", text(), {{"x", 'u'}}, "Unknown option \"x\""},
    };
    for (const auto& c : cases) {
        auto r = client.define(c.name, c.toml, c.options);
        EXPECT_EQ(r.error, "org.corral1.Error.InvalidArgument") << c.what << ": " << r.message;
        EXPECT_NE(r.message.find(c.message), std::string::npos) << c.what << ": " << r.message;
    }
    // A wrong signature never reaches the method.
    auto wrong = busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "Define",
                         "ss", "web1", text()});
    EXPECT_NE(wrong.status, 0);
    EXPECT_TRUE(instanceFiles().empty());
    EXPECT_TRUE(corrald_.running());
}

TEST_F(DefineTest, UpdateOfAStoppedInstanceAppliesAtOnce) {
    startCorrald();
    DefineClient client(address_);
    ASSERT_TRUE(client.define("web1", text()).error.empty());
    auto r = client.update("web1", text(3));
    ASSERT_TRUE(r.error.empty()) << r.message;
    EXPECT_TRUE(r.strings.empty());
    EXPECT_EQ(property("web1", "Vcpus"), "u 3");
    EXPECT_EQ(readFile(file("web1")), text(3));
    auto bad = client.update("web1", "[machine]\ncpus = 0\n");
    EXPECT_EQ(bad.error, "org.corral1.Error.InvalidDefinition");
    EXPECT_NE(bad.message.find(file("web1").string() + ":2:8: error: "), std::string::npos)
        << bad.message;
    EXPECT_EQ(readFile(file("web1")), text(3));
    EXPECT_EQ(instanceFiles(), std::vector<std::string>{"web1.toml"});
}

TEST_F(DefineTest, InvalidInstanceStillShowsItsTextAndCanBeRepaired) {
    writeFile("web1.toml", "# broken\n[machine]\ncpus = 0\n");
    startCorrald();
    DefineClient client(address_);
    EXPECT_EQ(client.getDefinition("web1").text, "# broken\n[machine]\ncpus = 0\n");
    ASSERT_TRUE(client.update("web1", text()).error.empty());
    EXPECT_EQ(property("web1", "State"), "s \"stopped\"");
}

TEST_F(DefineTest, UndefineRemovesTheFileAndTheObject) {
    startCorrald();
    DefineClient client(address_);
    client.watchManagerSignals();
    ASSERT_TRUE(client.define("web1", text()).error.empty());
    auto r = client.undefine("web1", {});
    ASSERT_TRUE(r.error.empty()) << r.message;
    EXPECT_TRUE(r.strings.empty());
    EXPECT_TRUE(client.waitSignal("InstanceRemoved web1 /org/corral1/instance/web1", 10s));
    EXPECT_TRUE(instanceFiles().empty());
    auto get = busctl(
        {"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "GetInstance", "s", "web1"});
    EXPECT_NE(get.output.find("No instance named web1"), std::string::npos) << get.output;
    auto wrongType = client.undefine("web1", {{"remove_storage", 's'}});
    EXPECT_FALSE(wrongType.error.empty());  // the object is gone
}

TEST_F(DefineTest, UndefineOptionsAreCheckedBeforeAnythingIsRemoved) {
    startCorrald();
    DefineClient client(address_);
    ASSERT_TRUE(client.define("web1", text()).error.empty());
    auto r = client.undefine("web1", {{"remove_storage", 's'}});
    EXPECT_EQ(r.error, "org.corral1.Error.InvalidArgument");
    EXPECT_EQ(r.message,
              "Option \"remove_storage\" must be a boolean (D-Bus type b), not D-Bus type \"s\".");
    auto unknown = client.undefine("web1", {{"purge", 'b'}});
    EXPECT_EQ(unknown.message,
              "Unknown option \"purge\" for Undefine; it takes remove_storage (b).");
    EXPECT_EQ(instanceFiles(), std::vector<std::string>{"web1.toml"});
}

TEST_F(DefineTest, RemoveStorageDeletesOnlyImagesUnderAllowedDirs) {
    fs::create_directories(dir_ / "storage");
    fs::create_directories(dir_ / "elsewhere");
    std::ofstream(dir_ / "storage" / "data.img") << "data";
    std::ofstream(dir_ / "elsewhere" / "keep.img") << "keep";
    // A symlink inside the storage dir leading out of it must not delete its target.
    fs::create_symlink(dir_ / "elsewhere" / "keep.img", dir_ / "storage" / "escape.img");
    extraConfig_ = "[storage]\nallowed_dirs = [\"" + (dir_ / "storage").string() + "\"]\n";
    startCorrald();
    DefineClient client(address_);
    auto disks = "\n[[disk]]\nid = \"data\"\npath = \"" + (dir_ / "storage" / "data.img").string() +
                 "\"\n\n[[disk]]\nid = \"keep\"\npath = \"" +
                 (dir_ / "elsewhere" / "keep.img").string() +
                 "\"\n\n[[disk]]\nid = \"esc\"\npath = \"" +
                 (dir_ / "storage" / "escape.img").string() + "\"\n";
    auto d = client.define("web1", text() + disks);
    ASSERT_TRUE(d.error.empty()) << d.message;
    auto r = client.undefine("web1", {{"remove_storage", 'b'}});
    ASSERT_TRUE(r.error.empty()) << r.message;
    EXPECT_EQ(r.strings, std::vector<std::string>{(dir_ / "storage" / "data.img").string()});
    EXPECT_FALSE(fs::exists(dir_ / "storage" / "data.img"));
    EXPECT_EQ(readFile(dir_ / "elsewhere" / "keep.img"), "keep");
    EXPECT_TRUE(fs::is_symlink(dir_ / "storage" / "escape.img"));
    auto log = corraldLog();
    EXPECT_NE(log.find("kept " + (dir_ / "elsewhere" / "keep.img").string()), std::string::npos)
        << log;
}

TEST_F(DefineTest, CorralctlDefineShowUndefineRoundTrip) {
    startCorrald();
    std::ofstream(dir_ / "db1.toml") << text();
    auto define = ctl({"define", (dir_ / "db1.toml").string()});
    EXPECT_EQ(define.status, 0) << define.output;
    EXPECT_EQ(define.output, "db1: defined (/org/corral1/instance/db1)\n");
    auto show = ctl({"show", "db1"});
    EXPECT_EQ(show.status, 0);
    EXPECT_EQ(show.output, text());
    EXPECT_EQ(ctl({"define", (dir_ / "db1.toml").string()}).status, 1);
    std::ofstream(dir_ / "bad.toml") << "[machine]\ncpus = 0\n";
    auto bad = ctl({"define", (dir_ / "bad.toml").string()});
    EXPECT_EQ(bad.status, 1);
    // corrald's lines as they are, with no "corralctl:" in front: editors can jump to them.
    EXPECT_EQ(bad.output.rfind(file("bad").string() + ":1:1: error: ", 0), 0u) << bad.output;
    EXPECT_NE(bad.output.find("\n" + file("bad").string() + ":2:8: error: "), std::string::npos)
        << bad.output;
    auto undefine = ctl({"undefine", "db1"});
    EXPECT_EQ(undefine.status, 0) << undefine.output;
    EXPECT_EQ(undefine.output, "db1: undefined\n");
    EXPECT_EQ(ctl({"show", "db1"}).status, 3);
    EXPECT_TRUE(instanceFiles().empty());
}

TEST_F(DefineTest, CorralctlEditSavesTheEditorsChange) {
    startCorrald();
    DefineClient client(address_);
    ASSERT_TRUE(client.define("web1", text()).error.empty());
    auto editor = script("more-cpus", "sed -i 's/^cpus = 1$/cpus = 2/' \"$1\"\n");
    auto edit =
        ctl({"edit", "web1"}, {"VISUAL=", "EDITOR=" + editor, "TMPDIR=" + dir_.path().string()});
    EXPECT_EQ(edit.status, 0) << edit.output;
    EXPECT_EQ(edit.output, "web1: updated\n");
    EXPECT_EQ(readFile(file("web1")), text(2));
    EXPECT_EQ(property("web1", "Vcpus"), "u 2");
    auto none = ctl({"edit", "web1"}, {"EDITOR=true", "TMPDIR=" + dir_.path().string()});
    EXPECT_EQ(none.status, 0);
    EXPECT_EQ(none.output, "web1: no changes\n");
    for (const auto& e : fs::directory_iterator(dir_.path()))
        EXPECT_EQ(e.path().filename().string().rfind("corral-web1-", 0), std::string::npos)
            << "temp copy left: " << e.path();
}

TEST_F(DefineTest, CorralctlEditOfABrokenCopyPrintsTheErrorsAndKeepsIt) {
    startCorrald();
    DefineClient client(address_);
    ASSERT_TRUE(client.define("web1", text()).error.empty());
    auto editor = script("break-it", "sed -i 's/^cpus = 1$/cpus = 0/' \"$1\"\n");
    auto edit = ctl({"edit", "web1"}, {"EDITOR=" + editor, "TMPDIR=" + dir_.path().string()});
    EXPECT_EQ(edit.status, 1) << edit.output;
    EXPECT_NE(edit.output.find(file("web1").string() + ":4:8: error: "), std::string::npos)
        << edit.output;
    auto at = edit.output.find("the edited copy is kept in ");
    ASSERT_NE(at, std::string::npos) << edit.output;
    auto kept = edit.output.substr(at + 27);
    kept.erase(kept.find('\n'));
    EXPECT_EQ(readFile(kept), text(0));
    EXPECT_EQ(readFile(file("web1")), text());
}

// On a terminal (script(1) gives corralctl one), a broken copy is offered again; "y" reopens it,
// anything else discards it.
TEST_F(DefineTest, CorralctlEditOnATerminalOffersToEditAgain) {
    startCorrald();
    DefineClient client(address_);
    ASSERT_TRUE(client.define("web1", text()).error.empty());
    // First run breaks the copy, the second one repairs it with 2 CPUs.
    auto editor = script("twice",
                         "if [ -e \"$0.ran\" ]; then\n"
                         "  sed -i 's/^cpus = 0$/cpus = 2/' \"$1\"\n"
                         "else\n"
                         "  touch \"$0.ran\"; sed -i 's/^cpus = .*/cpus = 0/' \"$1\"\n"
                         "fi\n");
    auto onTerminal = [&](const std::string& answer) {
        std::string command = "EDITOR=" + editor + " TMPDIR=" + dir_.path().string() + " " +
                              CORRAL_BINARY_DIR + "/supervisor/corralctl --address " + address_ +
                              " edit web1";
        return runCommand(
            {"sh", "-c", "printf '" + answer + "\\n' | script -qec '" + command + "' /dev/null"},
            30s, dir_.path());
    };
    auto again = onTerminal("y");
    EXPECT_EQ(again.status, 0) << again.output;
    EXPECT_NE(again.output.find(file("web1").string() + ":4:8: error: "), std::string::npos)
        << again.output;
    EXPECT_NE(again.output.find("edit again? [y/N]"), std::string::npos) << again.output;
    EXPECT_NE(again.output.find("web1: updated"), std::string::npos) << again.output;
    EXPECT_EQ(readFile(file("web1")), text(2));

    fs::remove(editor + ".ran");
    auto no = onTerminal("n");
    EXPECT_EQ(no.status, 1) << no.output;
    EXPECT_NE(no.output.find("edit again? [y/N]"), std::string::npos) << no.output;
    EXPECT_EQ(no.output.find("kept in"), std::string::npos) << no.output;
    EXPECT_EQ(readFile(file("web1")), text(2));
    for (const auto& e : fs::directory_iterator(dir_.path()))
        EXPECT_EQ(e.path().filename().string().rfind("corral-web1-", 0), std::string::npos)
            << "temp copy left: " << e.path();
}

}  // namespace
}  // namespace corral::test
