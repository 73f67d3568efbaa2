// attach --persist / detach --persist as text edits: every byte outside the device's table kept,
// and the result read back by the real loader (checkDefinition).
#include <gtest/gtest.h>

#include <fstream>

#include "hypervisor/device_options.hpp"
#include "supervisor/definition_check.hpp"
#include "supervisor/persist_toml.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::supervisor {
namespace {

using hypervisor::Device;
using hypervisor::findKind;

const std::string kDefinition =
    "# web server\n"
    "[machine]\n"
    "accel = \"tcg\"   # no KVM here\n"
    "memory = \"256M\"\n"
    "\n"
    "[[disk]]\n"
    "id = \"root\"\n"
    "path = \"/dev/null\"\n"
    "# the NICs\n"
    "[[nic]]\n"
    "mode = \"user\"\n";

Device device(std::string_view kind, std::string id, hypervisor::Options options) {
    const auto& row = *findKind(kind);
    EXPECT_TRUE(hypervisor::completeOptions(row, options).empty());
    return hypervisor::makeDevice(row, std::move(id), std::move(options), "web1");
}

TEST(PersistToml, AppendsTheDeviceAndKeepsEveryByte) {
    test::TempDir dir;
    auto image = (dir / "data0.img").string();
    std::ofstream(image) << "x";
    std::ofstream(dir / "root.img") << "x";
    std::string definition = kDefinition;
    definition.replace(definition.find("/dev/null"), 9, (dir / "root.img").string());
    auto disk = device("disk", "data0", {{"path", image}, {"readonly", true}});
    auto text = withDeviceTable(definition, disk);
    EXPECT_EQ(text, definition + "\n[[disk]]\nid = \"data0\"\npath = \"" + image +
                        "\"\nreadonly = true\n");
    auto spec = checkDefinition("web1", text, dir / "web1.toml");
    ASSERT_TRUE(spec) << spec.error().message;
    ASSERT_EQ(spec.value().devices.size(), 3u);
    EXPECT_EQ(spec.value().devices[1].id, "data0");
    EXPECT_TRUE(spec.value().devices[1].flag("readonly"));

    // Undone byte for byte.
    auto back = withoutDeviceTable(text, *disk.kind, "data0");
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, definition);
}

TEST(PersistToml, AFileWithoutAFinalNewlineAndStringsThatNeedEscapes) {
    auto nic = device("nic", "net1", {{"mode", "user"}, {"mac", "52:54:00:00:00:01"}});
    auto text = withDeviceTable("[machine]\naccel = \"tcg\"", nic);
    EXPECT_EQ(text,
              "[machine]\naccel = \"tcg\"\n\n[[nic]]\nid = \"net1\"\nmac = "
              "\"52:54:00:00:00:01\"\n");
    auto odd = device("disk", "d", {{"path", "/tmp/a \"b\"\\c"}});
    EXPECT_NE(withDeviceTable("", odd).find("path = \"/tmp/a \\\"b\\\"\\\\c\"\n"),
              std::string::npos);
}

TEST(PersistToml, RemovesATableInTheMiddleAndOneWithADefaultId) {
    auto withoutRoot = withoutDeviceTable(kDefinition, *findKind("disk"), "root");
    ASSERT_TRUE(withoutRoot);
    EXPECT_EQ(*withoutRoot,
              "# web server\n[machine]\naccel = \"tcg\"   # no KVM here\nmemory = \"256M\"\n"
              "# the NICs\n[[nic]]\nmode = \"user\"\n");
    // The [[nic]] table has no id: the loader calls it net0.
    auto withoutNic = withoutDeviceTable(kDefinition, *findKind("nic"), "net0");
    ASSERT_TRUE(withoutNic);
    EXPECT_EQ(*withoutNic,
              "# web server\n[machine]\naccel = \"tcg\"   # no KVM here\nmemory = \"256M\"\n\n"
              "[[disk]]\nid = \"root\"\npath = \"/dev/null\"\n# the NICs\n");
    EXPECT_FALSE(withoutDeviceTable(kDefinition, *findKind("disk"), "data9"));
    EXPECT_FALSE(withoutDeviceTable(kDefinition, *findKind("nic"), "root"));
}

TEST(PersistToml, AHeaderInsideAMultiLineStringIsNotATable) {
    std::string text =
        "[boot]\ncmdline = \"\"\"\n[[disk]]\nid = \"x\"\n\"\"\"\n[[disk]]\nid = \"x\"\n"
        "path = \"/dev/null\"\n";
    auto out = withoutDeviceTable(text, *findKind("disk"), "x");
    ASSERT_TRUE(out);
    EXPECT_EQ(*out, "[boot]\ncmdline = \"\"\"\n[[disk]]\nid = \"x\"\n\"\"\"\n");
}

}  // namespace
}  // namespace corral::supervisor
