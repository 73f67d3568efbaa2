// What Define and Update accept, and which keys an Update of a running VM leaves for the next
// start.
#include "supervisor/definition_check.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "supervisor/definition_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::supervisor::test {
namespace {

namespace fs = std::filesystem;

class DefinitionCheck : public ::testing::Test {
  protected:
    DefinitionCheck() {
        std::ofstream(dir / "vmlinuz") << "";
        std::ofstream(dir / "data.img") << "";
        std::ofstream(dir / "other.img") << "";
    }
    std::string base() const {
        return "[machine]\ncpus = 1\nmemory = \"512M\"\n\n[boot]\nkernel = \"" +
               (dir / "vmlinuz").string() + "\"\ncmdline = \"console=ttyS0\"\n";
    }
    std::string disk(const std::string& id, const std::string& image) const {
        return "\n[[disk]]\nid = \"" + id + "\"\npath = \"" + (dir / image).string() + "\"\n";
    }
    hypervisor::InstanceSpec spec(const std::string& text) const {
        auto result = checkDefinition("web1", text, file);
        if (!result) ADD_FAILURE() << result.error().message;
        return result ? result.value() : hypervisor::InstanceSpec{};
    }
    corral::test::TempDir dir;
    fs::path file = dir / "instances" / "web1.toml";
};

TEST_F(DefinitionCheck, ValidTextGivesTheSpec) {
    auto result = checkDefinition("web1", base(), file);
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result.value().name, "web1");
    EXPECT_EQ(result.value().machine.cpus, 1u);
}

TEST_F(DefinitionCheck, EveryDiagnosticWithLineAndColumnOfTheFileItWouldBe) {
    auto result =
        checkDefinition("web1", "[machine]\ncpus = 0\nmemory = \"lots\"\nbogus = 1\n", file);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, ErrorKind::InvalidDefinition);
    // The same lines corral-validate prints for that file, in its order.
    auto expected =
        hypervisor::parseInstanceSpec("[machine]\ncpus = 0\nmemory = \"lots\"\nbogus = 1\n", file);
    ASSERT_GE(expected.diagnostics.size(), 3u);
    std::string lines;
    for (const auto& d : expected.diagnostics) lines += (lines.empty() ? "" : "\n") + d.format();
    EXPECT_EQ(result.error().message, lines);
    EXPECT_NE(lines.find(file.string() + ":2:8: error: "), std::string::npos) << lines;
    EXPECT_NE(lines.find(file.string() + ":4:1: error: "), std::string::npos) << lines;
}

TEST_F(DefinitionCheck, TomlSyntaxErrorHasItsPosition) {
    auto result = checkDefinition("web1", "[machine\ncpus = 1\n", file);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().message.rfind(file.string() + ":1:", 0), 0u) << result.error().message;
}

TEST_F(DefinitionCheck, NameKeyNamingAnotherInstanceIsAnErrorAtTheKey) {
    auto result = checkDefinition("web1", "name = \"web2\"\n" + base(), file);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().message,
              file.string() +
                  ":1:8: error: name: \"web2\" differs from the instance name \"web1\"; leave "
                  "\"name\" out or make it \"web1\"");
    EXPECT_TRUE(checkDefinition("web1", "name = \"web1\"\n" + base(), file));
    // Among other errors, it is one more line.
    auto both = checkDefinition("web1", "name = \"web2\"\n[machine]\ncpus = 0\n", file);
    ASSERT_FALSE(both);
    EXPECT_NE(both.error().message.find(":1:8: error: name: \"web2\" differs"), std::string::npos);
    EXPECT_NE(both.error().message.find(":3:8: error: "), std::string::npos);
}

TEST_F(DefinitionCheck, FileOfAnotherStemNeedsTheNameKey) {
    auto other = dir / "instances" / "old-name.toml";
    auto result = checkDefinition("web1", base(), other);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().message.rfind(other.string() + ":1:1: error: ", 0), 0u);
    EXPECT_TRUE(checkDefinition("web1", "name = \"web1\"\n" + base(), other));
}

TEST_F(DefinitionCheck, BadArgumentsAreInvalidArgument) {
    for (auto [name, text] : std::vector<std::pair<std::string, std::string>>{
             {"bad name", base()},
             {"", base()},
             {"web1", ""},
             {"web1", std::string(kMaxDefinitionBytes + 1, '#')}}) {
        auto result = checkDefinition(name, text, file);
        ASSERT_FALSE(result) << name;
        EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument) << name;
    }
    auto huge = checkDefinition("web1", std::string(kMaxDefinitionBytes + 1, '#'), file);
    EXPECT_EQ(huge.error().message,
              "The definition is 1048577 bytes; at most 1048576 (1 MiB) are accepted.");
    // Exactly the limit is read (and found to define nothing).
    auto limit = checkDefinition("web1", std::string(kMaxDefinitionBytes, '#'), file);
    EXPECT_EQ(limit.error().kind, ErrorKind::InvalidDefinition);
}

TEST_F(DefinitionCheck, SameDefinitionChangesNoKey) {
    auto a = spec(base() + disk("data", "data.img"));
    // Comments, order and spelling of values do not count: "512M" is 536870912 bytes.
    auto b = spec("# edited\n[boot]\nkernel = \"" + (dir / "vmlinuz").string() +
                  "\"\ncmdline = \"console=ttyS0\"\n[machine]\nmemory = \"536870912\"\n" +
                  disk("data", "data.img"));
    EXPECT_EQ(changedKeys(a, b), std::vector<std::string>{});
}

TEST_F(DefinitionCheck, ChangedKeysAreNamedInFileOrder) {
    auto a = spec(base() + disk("data", "data.img"));
    std::string text = base();
    text.replace(text.find("cpus = 1"), 8, "cpus = 2");
    text.replace(text.find("console=ttyS0"), 13, "console=ttyS1");
    text += "\n[resources]\ncpu_weight = 50\n";
    auto b = spec(text + disk("data", "other.img"));
    EXPECT_EQ(changedKeys(a, b),
              (std::vector<std::string>{"machine.cpus", "boot.cmdline", "disk.data.path",
                                        "resources.cpu_weight"}));
}

TEST_F(DefinitionCheck, AChangedUuidIsPending) {
    auto a = spec(base());
    std::string text = base();
    text.replace(text.find("cpus = 1"), 8,
                 "cpus = 1\nuuid = \"6f1c3c4e-0c1a-4b8e-9d2f-3a5b7c9d1e2f\"");
    EXPECT_EQ(changedKeys(a, spec(text)), std::vector<std::string>{"machine.uuid"});
}

TEST_F(DefinitionCheck, DisplayAndTpmChangesArePending) {
    auto a = spec(base());
    auto b = spec(base() + "\n[display]\ntype = \"vnc\"\nlisten = \"127.0.0.1:5901\"\n[tpm]\n" +
                  "type = \"tpm2\"\n");
    EXPECT_EQ(changedKeys(a, b), (std::vector<std::string>{"display.type", "display.vga",
                                                           "display.listen", "tpm.type"}));
}

TEST_F(DefinitionCheck, AChangedConfineIsPending) {
    auto a = spec(base());
    EXPECT_EQ(changedKeys(a, spec(base() + "\n[security]\nconfine = false\n")),
              std::vector<std::string>{"security.confine"});
    EXPECT_EQ(changedKeys(a, spec(base() + "\n[security]\nconfine = true\n")),
              std::vector<std::string>{});
}

TEST_F(DefinitionCheck, AddedAndRemovedDevicesAreNamedWhole) {
    auto a = spec(base() + disk("data", "data.img"));
    auto b = spec(base() + disk("scratch", "data.img"));
    EXPECT_EQ(changedKeys(a, b), (std::vector<std::string>{"disk.scratch", "disk.data"}));
}

TEST_F(DefinitionCheck, DiskImagesAreTheBlockDevicesPaths) {
    auto s = spec(base() + disk("data", "data.img") + disk("more", "other.img") +
                  "\n[[rng]]\nid = \"rng0\"\n");
    EXPECT_EQ(diskImages(s), (std::vector<fs::path>{dir / "data.img", dir / "other.img"}));
}

}  // namespace
}  // namespace corral::supervisor::test
