// The instance registry over a directory of TOML files: valid and invalid definitions, Reload
// adding, redefining and removing, and running instances kept when their file goes away.
#include "supervisor/registry.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/supervisor/stub_vm.hpp"

namespace corral::supervisor::test {
namespace {

using namespace std::chrono_literals;

class RegistryTest : public ::testing::Test {
  protected:
    RegistryTest() {
        subscriptions.push_back(
            registry.added().connect([this](Vm& vm) { events.push_back("added " + vm.name()); }));
        subscriptions.push_back(registry.removing().connect(
            [this](Vm& vm) { events.push_back("removed " + vm.name()); }));
        subscriptions.push_back(registry.redefined().connect(
            [this](Vm& vm) { events.push_back("redefined " + vm.name()); }));
    }
    void write(const std::string& file, const std::string& text) {
        std::ofstream(dir / file) << text;
    }
    // IgnoredFiles as "FILE: reason", FILE relative to the directory.
    std::vector<std::string> ignored() const {
        std::vector<std::string> out;
        for (const auto& f : registry.ignoredFiles())
            out.push_back(f.file.lexically_relative(dir.path()).string() + ": " + f.reason);
        return out;
    }
    void writeValid(const std::string& name) {
        write("vmlinuz", "");  // the loader checks that the kernel exists
        write(name + ".toml", "[boot]\nkernel = \"" + (dir / "vmlinuz").string() + "\"\n");
    }

    corral::test::TempDir dir;
    FakeClock clock;
    std::vector<std::string> events;
    std::vector<Connection> subscriptions;
    Registry registry{dir.path(),
                      [this](const std::string& name, const hypervisor::LoadResult& def) {
                          return std::make_unique<StubVm>(name, clock, def.ok());
                      },
                      [](int, const std::string&) {}};
};

TEST_F(RegistryTest, InvalidFileBecomesInvalidInstance) {
    writeValid("web1");
    write("web2.toml", "[machine]\ncpus = \"two\"\n");
    write("notes.txt", "ignored");
    auto summary = registry.reload();
    EXPECT_EQ(summary.added, 2u);
    EXPECT_EQ(summary.invalid, 1u);
    ASSERT_NE(registry.find("web2"), nullptr);
    EXPECT_EQ(registry.find("web2")->lifecycle().state(), State::Invalid);
    EXPECT_EQ(registry.find("web1")->lifecycle().state(), State::Stopped);
    EXPECT_EQ(registry.all().size(), 2u);
}

TEST_F(RegistryTest, FileWithABadNameIsIgnored) {
    write("bad name!.toml", "[boot]\nkernel = \"/boot/vmlinuz\"\n");
    EXPECT_EQ(registry.reload().added, 0u);
    EXPECT_TRUE(registry.all().empty());
}

TEST_F(RegistryTest, ReloadAddsRedefinesAndRemoves) {
    writeValid("web1");
    writeValid("web2");
    registry.reload();
    events.clear();
    std::filesystem::remove(dir / "web1.toml");
    writeValid("web3");
    auto summary = registry.reload();
    EXPECT_EQ(summary.added, 1u);
    EXPECT_EQ(summary.removed, 1u);
    EXPECT_EQ(events, (std::vector<std::string>{"redefined web2", "added web3", "removed web1"}));
    EXPECT_EQ(registry.find("web1"), nullptr);
}

TEST_F(RegistryTest, RunningInstanceOutlivesItsFile) {
    writeValid("web1");
    registry.reload();
    registry.find("web1")->lifecycle().start([](Status) {});
    ASSERT_EQ(registry.find("web1")->lifecycle().state(), State::Running);
    std::filesystem::remove(dir / "web1.toml");
    EXPECT_EQ(registry.reload().removed, 0u);
    EXPECT_NE(registry.find("web1"), nullptr);
}

TEST_F(RegistryTest, EverySubscriberHearsEveryChange) {
    // The fixture's subscriber stays connected; a second one (metrics, an event log) joins.
    std::vector<std::string> second;
    auto added = registry.added().connect([&](Vm& vm) { second.push_back("added " + vm.name()); });
    auto removing =
        registry.removing().connect([&](Vm& vm) { second.push_back("removed " + vm.name()); });
    auto redefined =
        registry.redefined().connect([&](Vm& vm) { second.push_back("redefined " + vm.name()); });
    writeValid("web1");
    registry.reload();
    writeValid("web1");
    registry.reload();
    std::filesystem::remove(dir / "web1.toml");
    registry.reload();
    std::vector<std::string> expected = {"added web1", "redefined web1", "removed web1"};
    EXPECT_EQ(events, expected);
    EXPECT_EQ(second, expected);
}

TEST_F(RegistryTest, RemovingSubscribersSeeTheVmStillFindable) {
    writeValid("web1");
    registry.reload();
    bool findable = false;
    auto removing =
        registry.removing().connect([&](Vm& vm) { findable = registry.find(vm.name()) == &vm; });
    std::filesystem::remove(dir / "web1.toml");
    registry.reload();
    EXPECT_TRUE(findable);
    EXPECT_EQ(registry.find("web1"), nullptr);
}

TEST_F(RegistryTest, AddedSubscribersSeeTheVmComplete) {
    write("broken.toml", "[machine]\ncpus = \"two\"\n");
    std::optional<State> seen;
    auto added = registry.added().connect([&](Vm& vm) {
        if (registry.find(vm.name()) == &vm) seen = vm.lifecycle().state();
    });
    registry.reload();
    EXPECT_EQ(seen, State::Invalid);
}

TEST_F(RegistryTest, DisconnectedSubscriberHearsNoMore) {
    int calls = 0;
    auto added = registry.added().connect([&](Vm&) { ++calls; });
    writeValid("web1");
    registry.reload();
    added.disconnect();
    writeValid("web2");
    registry.reload();
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(events, (std::vector<std::string>{"added web1", "redefined web1", "added web2"}));
}

TEST_F(RegistryTest, MissingDirectoryIsEmpty) {
    Registry missing(
        dir / "nope",
        [](const std::string&, const hypervisor::LoadResult&) { return std::unique_ptr<Vm>(); },
        [](int, const std::string&) {});
    EXPECT_EQ(missing.reload().added, 0u);
}

TEST_F(RegistryTest, EveryIgnoredFileIsListedWithItsReason) {
    unsigned changes = 0;
    auto counted = registry.ignoredChanged().connect([&] { ++changes; });
    writeValid("web1");
    write("other.toml",
          "name = \"web1\"\n[boot]\nkernel = \"" + (dir / "vmlinuz").string() + "\"\n");
    write("bad name!.toml", "[boot]\nkernel = \"/boot/vmlinuz\"\n");
    std::filesystem::create_directory(dir / "x.toml");
    std::filesystem::create_symlink(dir / "loop.toml", dir / "loop.toml");
    registry.reload();
    EXPECT_EQ(registry.all().size(), 1u);
    std::vector<std::string> expected = {
        "bad name!.toml: bad instance name: instance name may contain only letters, digits, "
        "'_', '.' and '-'; found byte 0x20",
        "loop.toml: symlink loop (Too many levels of symbolic links)",
        "other.toml: instance web1 is already defined by " + (dir / "web1.toml").string(),
        "x.toml: is a directory, not a definition file",
    };
    EXPECT_EQ(ignored(), expected);
    EXPECT_EQ(changes, 1u);
    registry.reload();
    EXPECT_EQ(changes, 1u);  // nothing changed, nothing announced
    std::filesystem::remove(dir / "x.toml");
    registry.reload();
    EXPECT_EQ(changes, 2u);
    EXPECT_EQ(registry.ignoredFiles().size(), 3u);
}

// NAME.toml wins over another file claiming NAME, and so does the file an instance came from.
TEST_F(RegistryTest, DuplicateKeepsTheFileTheInstanceCameFrom) {
    writeValid("web0");
    write("a.toml", "name = \"web1\"\n[boot]\nkernel = \"" + (dir / "vmlinuz").string() + "\"\n");
    registry.reload();
    ASSERT_EQ(registry.fileOf("web1"), dir / "a.toml");
    writeValid("web1");
    registry.reload();
    EXPECT_EQ(registry.fileOf("web1"), dir / "a.toml");
    ASSERT_EQ(registry.ignoredFiles().size(), 1u);
    EXPECT_EQ(registry.ignoredFiles()[0].file, dir / "web1.toml");
    EXPECT_EQ(registry.ignoredFiles()[0].reason,
              "instance web1 is already defined by " + (dir / "a.toml").string());
}

}  // namespace
}  // namespace corral::supervisor::test
