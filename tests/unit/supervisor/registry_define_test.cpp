// Registry::define / update / undefine over a real directory: the file and the registry change
// together, Reload afterwards finds nothing new, and only idle instances are undefined.
#include <gtest/gtest.h>

#include <fstream>

#include "supervisor/registry.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/supervisor/stub_vm.hpp"

namespace corral::supervisor::test {
namespace {

namespace fs = std::filesystem;

class RegistryDefine : public ::testing::Test {
  protected:
    RegistryDefine() {
        fs::create_directories(instances);
        fs::create_directories(storage);
        fs::create_directories(runtime / "web1");
        std::ofstream(dir / "vmlinuz") << "";
        registry.configure({{storage}, runtime});
        subscriptions.push_back(
            registry.added().connect([this](Vm& vm) { events.push_back("added " + vm.name()); }));
        subscriptions.push_back(registry.removing().connect(
            [this](Vm& vm) { events.push_back("removed " + vm.name()); }));
    }
    std::string text(unsigned cpus = 1, const std::string& extra = "") const {
        return "# a comment\n[machine]\ncpus = " + std::to_string(cpus) + "\n[boot]\nkernel = \"" +
               (dir / "vmlinuz").string() + "\"\n" + extra;
    }
    std::string disk(const std::string& id, const fs::path& image) const {
        std::ofstream(image) << "x";
        return "[[disk]]\nid = \"" + id + "\"\npath = \"" + image.string() + "\"\n";
    }

    corral::test::TempDir dir;
    fs::path instances = dir / "instances";
    fs::path storage = dir / "storage";
    fs::path runtime = dir / "run";
    FakeClock clock;
    std::vector<std::string> events;
    std::vector<std::string> logged;
    std::vector<Connection> subscriptions;
    Registry registry{instances,
                      [this](const std::string& name, const hypervisor::LoadResult& def) {
                          auto vm = std::make_unique<StubVm>(name, clock, def.ok());
                          vm->spec = def.spec;
                          return vm;
                      },
                      [this](int, const std::string& line) { logged.push_back(line); }};
};

TEST_F(RegistryDefine, DefineWritesTheFileAndAddsTheInstance) {
    auto vm = registry.define("web1", text());
    ASSERT_TRUE(vm) << vm.error().message;
    EXPECT_EQ(vm.value(), registry.find("web1"));
    EXPECT_EQ(corral::test::readFile(instances / "web1.toml"), text());
    EXPECT_EQ(events, std::vector<std::string>{"added web1"});
    EXPECT_EQ(registry.definitionText(*vm.value()).value(), text());
    // Reload reads the same file: no second instance, nothing added.
    auto summary = registry.reload();
    EXPECT_EQ(summary.added, 0u);
    EXPECT_EQ(registry.all().size(), 1u);
}

TEST_F(RegistryDefine, DefineRefusesATakenNameAndAFileThatIsThere) {
    ASSERT_TRUE(registry.define("web1", text()));
    auto again = registry.define("web1", text(2));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().kind, ErrorKind::Exists);
    EXPECT_EQ(corral::test::readFile(instances / "web1.toml"), text());
    std::ofstream(instances / "web2.toml") << "# not loaded yet\n";
    auto file = registry.define("web2", text());
    ASSERT_FALSE(file);
    EXPECT_EQ(file.error().kind, ErrorKind::Exists);
    EXPECT_NE(file.error().message.find("Reload"), std::string::npos) << file.error().message;
    EXPECT_EQ(corral::test::readFile(instances / "web2.toml"), "# not loaded yet\n");
}

TEST_F(RegistryDefine, InvalidDefinitionWritesNothing) {
    auto vm = registry.define("web1", "[machine]\ncpus = 0\n");
    ASSERT_FALSE(vm);
    EXPECT_EQ(vm.error().kind, ErrorKind::InvalidDefinition);
    EXPECT_NE(vm.error().message.find((instances / "web1.toml").string() + ":2:8: error:"),
              std::string::npos)
        << vm.error().message;
    EXPECT_TRUE(fs::is_empty(instances));
    EXPECT_TRUE(events.empty());
}

TEST_F(RegistryDefine, ReloadKeepsTheDefinedFileWhenAnotherClaimsTheName) {
    ASSERT_TRUE(registry.define("web1", text()));
    std::ofstream(instances / "aaa.toml") << "name = \"web1\"\n" + text(4);
    registry.reload();
    EXPECT_EQ(registry.all().size(), 1u);
    EXPECT_EQ(registry.fileOf("web1"), instances / "web1.toml");
    EXPECT_EQ(registry.find("web1")->activeSpec()->machine.cpus, 1u);
}

TEST_F(RegistryDefine, UpdateOfAStoppedInstanceAppliesAtOnce) {
    auto& vm = *registry.define("web1", text()).value();
    auto pending = registry.update(vm, text(2));
    ASSERT_TRUE(pending) << pending.error().message;
    EXPECT_TRUE(pending.value().empty());
    EXPECT_EQ(vm.activeSpec()->machine.cpus, 2u);
    EXPECT_EQ(corral::test::readFile(instances / "web1.toml"), text(2));
}

TEST_F(RegistryDefine, UpdateOfARunningInstanceListsWhatWaitsForTheNextStart) {
    auto& vm = *registry.define("web1", text()).value();
    vm.lifecycle().start([](Status) {});
    ASSERT_EQ(vm.lifecycle().state(), State::Running);
    auto pending = registry.update(vm, text(2));
    ASSERT_TRUE(pending) << pending.error().message;
    EXPECT_EQ(pending.value(), std::vector<std::string>{"machine.cpus"});
    EXPECT_EQ(vm.activeSpec()->machine.cpus, 1u);  // the running VM keeps what it has
    EXPECT_EQ(corral::test::readFile(instances / "web1.toml"), text(2));
    // A second update is compared with the running VM, not with the first update.
    auto again = registry.update(vm, text(2, "[resources]\ncpu_weight = 10\n"));
    EXPECT_EQ(again.value(), (std::vector<std::string>{"machine.cpus", "resources.cpu_weight"}));
}

TEST_F(RegistryDefine, ARunningVmWithAScopeTakesNewLimitsAtOnce) {
    auto& vm = static_cast<StubVm&>(*registry.define("web1", text()).value());
    vm.scoped = true;
    vm.lifecycle().start([](Status) {});
    auto pending = registry.update(vm, text(2, "[resources]\ncpu_weight = 10\n"));
    ASSERT_TRUE(pending) << pending.error().message;
    EXPECT_EQ(pending.value(), std::vector<std::string>{"machine.cpus"});
    EXPECT_EQ(vm.resourceChanges, 1);
    EXPECT_EQ(vm.activeSpec()->resources.cpuWeight, 10u);
    // Only a change of the limits reaches the scope.
    auto again = registry.update(vm, text(3, "[resources]\ncpu_weight = 10\n"));
    EXPECT_EQ(again.value(), std::vector<std::string>{"machine.cpus"});
    EXPECT_EQ(vm.resourceChanges, 1);
}

TEST_F(RegistryDefine, InvalidUpdateKeepsTheFile) {
    auto& vm = *registry.define("web1", text()).value();
    auto pending = registry.update(vm, "name = \"web2\"\n" + text());
    ASSERT_FALSE(pending);
    EXPECT_EQ(pending.error().kind, ErrorKind::InvalidDefinition);
    EXPECT_EQ(corral::test::readFile(instances / "web1.toml"), text());
}

TEST_F(RegistryDefine, UndefineOfARunningInstanceIsRefused) {
    auto& vm = *registry.define("web1", text()).value();
    vm.lifecycle().start([](Status) {});
    auto removed = registry.undefine(vm, false);
    ASSERT_FALSE(removed);
    EXPECT_EQ(removed.error().kind, ErrorKind::InvalidState);
    EXPECT_EQ(removed.error().message, "web1 is running; shut it down before Undefine.");
    EXPECT_TRUE(fs::exists(instances / "web1.toml"));
    EXPECT_NE(registry.find("web1"), nullptr);
}

TEST_F(RegistryDefine, UndefineRemovesFileInstanceAndRuntimeDir) {
    auto& vm = *registry.define("web1", text()).value();
    auto removed = registry.undefine(vm, false);
    ASSERT_TRUE(removed) << removed.error().message;
    EXPECT_TRUE(removed.value().empty());
    EXPECT_FALSE(fs::exists(instances / "web1.toml"));
    EXPECT_FALSE(fs::exists(runtime / "web1"));
    EXPECT_EQ(registry.find("web1"), nullptr);
    EXPECT_EQ(events, (std::vector<std::string>{"added web1", "removed web1"}));
}

TEST_F(RegistryDefine, RemoveStorageDeletesOnlyImagesInsideTheStorageDirs) {
    auto inside = storage / "data.img";
    auto outside = dir / "keep.img";
    auto& vm =
        *registry.define("web1", text(1, disk("data", inside) + disk("keep", outside))).value();
    auto removed = registry.undefine(vm, true);
    ASSERT_TRUE(removed) << removed.error().message;
    EXPECT_EQ(removed.value(),
              std::vector<std::string>{fs::canonical(storage).string() + "/data.img"});
    EXPECT_FALSE(fs::exists(inside));
    EXPECT_TRUE(fs::exists(outside));
    bool named = false;
    for (const auto& line : logged)
        named = named || line.find("kept " + outside.string()) != std::string::npos;
    EXPECT_TRUE(named) << "the kept image is named in the log";
}

TEST_F(RegistryDefine, RemoveStorageKeepsAnImageAnotherInstanceUses) {
    auto shared = storage / "shared.img";
    auto& vm = *registry.define("web1", text(1, disk("data", shared))).value();
    ASSERT_TRUE(registry.define("web2", text(1, disk("data", shared))));
    auto removed = registry.undefine(vm, true);
    ASSERT_TRUE(removed);
    EXPECT_TRUE(removed.value().empty());
    EXPECT_TRUE(fs::exists(shared));
}

TEST_F(RegistryDefine, WithoutRemoveStorageNoImageIsTouched) {
    auto inside = storage / "data.img";
    auto& vm = *registry.define("web1", text(1, disk("data", inside))).value();
    ASSERT_TRUE(registry.undefine(vm, false));
    EXPECT_TRUE(fs::exists(inside));
}

}  // namespace
}  // namespace corral::supervisor::test
