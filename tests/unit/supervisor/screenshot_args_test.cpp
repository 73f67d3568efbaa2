// Screenshot(s path): what corrald lets qemu write to.
#include <gtest/gtest.h>

#include <fstream>

#include "supervisor/dbus_args.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::supervisor {
namespace {

std::string refusal(const std::string& path) {
    auto bad = checkScreenshotPath(path);
    if (!bad) return "";
    EXPECT_EQ(bad->kind, ErrorKind::InvalidArgument);
    return bad->message;
}

TEST(ScreenshotPath, AnAbsoluteFileInAnExistingDirectory) {
    corral::test::TempDir dir;
    EXPECT_EQ(refusal((dir / "shot.png").string()), "");
    std::ofstream(dir / "old.png") << "x";
    EXPECT_EQ(refusal((dir / "old.png").string()), "");  // replaced, as cp would
}

TEST(ScreenshotPath, RefusesRelativeDotDotMissingDirectoriesAndDirectories) {
    corral::test::TempDir dir;
    EXPECT_EQ(refusal("shot.png"), "Screenshot path \"shot.png\" must be absolute.");
    EXPECT_EQ(refusal(""), "Screenshot path must not be empty; give an absolute path.");
    EXPECT_EQ(refusal("/tmp/../etc/x.png"),
              "Screenshot path \"/tmp/../etc/x.png\" must not contain a \"..\" component.");
    EXPECT_EQ(refusal("/nonexistent/x.png"),
              "Screenshot path \"/nonexistent/x.png\": directory \"/nonexistent\" does not "
              "exist.");
    EXPECT_EQ(refusal(dir.path().string()), "Screenshot path \"" + dir.path().string() +
                                                "\" is a directory; name the PNG file to write.");
    EXPECT_NE(refusal(std::string("/tmp/a\0b", 8)).find("NUL"), std::string::npos);
}

}  // namespace
}  // namespace corral::supervisor
