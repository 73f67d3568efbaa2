// The instance registry over a directory of TOML files: valid and invalid definitions, Reload
// adding, redefining and removing, and running instances kept when their file goes away.
#include "supervisor/registry.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/supervisor/fake_vm.hpp"

namespace corral::supervisor::test {
namespace {

using namespace std::chrono_literals;

// A Vm whose lifecycle runs on a FakeVm; records redefinitions.
class RecordingVm : public Vm {
  public:
    RecordingVm(std::string name, FakeClock& clock, bool valid)
        : name_(std::move(name)), instance_(name_, control_, clock, {}, nullptr) {
        control_.autoLaunchPid = 100;
        if (!valid) instance_.markInvalid("broken");
    }
    const std::string& name() const override { return name_; }
    Instance& lifecycle() override { return instance_; }
    VmInfo info() const override { return {}; }
    void redefine(const hypervisor::LoadResult& definition) override {
        ++redefinitions;
        if (definition.ok())
            instance_.markValid();
        else
            instance_.markInvalid("broken");
    }
    std::vector<hypervisor::Device> devices() const override { return {}; }
    void setDevicesObserver(std::function<void()>) override {}
    void attachDevice(hypervisor::Device, Reply<std::string>) override {}
    void detach(std::string, Done) override {}
    void guestExecute(std::vector<std::string>, std::string, std::chrono::milliseconds,
                      Reply<std::string>) override {}
    void guestListCommands(Reply<std::vector<std::string>>) override {}
    void monitor(std::string, Reply<std::string>) override {}

    int redefinitions = 0;

  private:
    std::string name_;
    FakeVm control_;
    Instance instance_;
};

class RegistryTest : public ::testing::Test {
  protected:
    RegistryTest() {
        Registry::Listener listener;
        listener.added = [this](Vm& vm) { events.push_back("added " + vm.name()); };
        listener.removed = [this](const std::string& n) { events.push_back("removed " + n); };
        listener.redefined = [this](Vm& vm) { events.push_back("redefined " + vm.name()); };
        registry.setListener(listener);
    }
    void write(const std::string& file, const std::string& text) {
        std::ofstream(dir / file) << text;
    }
    void writeValid(const std::string& name) {
        write("vmlinuz", "");  // the loader checks that the kernel exists
        write(name + ".toml", "[boot]\nkernel = \"" + (dir / "vmlinuz").string() + "\"\n");
    }

    corral::test::TempDir dir;
    FakeClock clock;
    std::vector<std::string> events;
    Registry registry{dir.path(),
                      [this](const std::string& name, const hypervisor::LoadResult& def) {
                          return std::make_unique<RecordingVm>(name, clock, def.ok());
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

TEST_F(RegistryTest, MissingDirectoryIsEmpty) {
    Registry missing(
        dir / "nope",
        [](const std::string&, const hypervisor::LoadResult&) { return std::unique_ptr<Vm>(); },
        [](int, const std::string&) {});
    EXPECT_EQ(missing.reload().added, 0u);
}

}  // namespace
}  // namespace corral::supervisor::test
