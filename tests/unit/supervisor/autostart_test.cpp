// The once-per-boot rule of autostart: a marker in the runtime dir with the kernel's boot id.
#include "supervisor/autostart.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/temp_dir.hpp"

namespace corral::supervisor::test {
namespace {

namespace fs = std::filesystem;

std::string contents(const fs::path& file) {
    std::ifstream in(file);
    std::string text;
    std::getline(in, text);
    return text;
}

TEST(BootMarker, NoMarkerIsANewBoot) {
    EXPECT_TRUE(isNewBoot(std::nullopt, "boot-a"));
    EXPECT_TRUE(isNewBoot(std::nullopt, ""));
}

TEST(BootMarker, SameBootIdIsNotANewBoot) {
    EXPECT_FALSE(isNewBoot(std::string("boot-a"), "boot-a"));
}

TEST(BootMarker, DifferentBootIdIsANewBoot) {
    EXPECT_TRUE(isNewBoot(std::string("boot-a"), "boot-b"));
    EXPECT_TRUE(isNewBoot(std::string(""), "boot-b"));
}

TEST(BootMarker, UnreadableBootIdTrustsTheMarker) {
    EXPECT_FALSE(isNewBoot(std::string("boot-a"), ""));
}

TEST(BootMarker, ClaimIsTrueOncePerBootAndRecordsTheId) {
    corral::test::TempDir dir;
    std::string problem;
    EXPECT_TRUE(claimBoot(dir.path(), "boot-a", problem));
    EXPECT_EQ(problem, "");
    EXPECT_EQ(contents(dir / kBootMarkerName), "boot-a");
    EXPECT_FALSE(claimBoot(dir.path(), "boot-a", problem));
    EXPECT_FALSE(claimBoot(dir.path(), "boot-a", problem));
    // The runtime dir survived a reboot: the kernel's id changed.
    EXPECT_TRUE(claimBoot(dir.path(), "boot-b", problem));
    EXPECT_EQ(contents(dir / kBootMarkerName), "boot-b");
    EXPECT_FALSE(claimBoot(dir.path(), "boot-b", problem));
    EXPECT_FALSE(fs::exists(dir / (std::string(kBootMarkerName) + ".tmp")));
}

TEST(BootMarker, UnwritableMarkerIsReportedAndStillAnswers) {
    corral::test::TempDir dir;
    fs::create_directories(dir / "run" / kBootMarkerName / "blocker");  // a dir where the file goes
    std::string problem;
    EXPECT_TRUE(claimBoot(dir / "run", "boot-a", problem));
    EXPECT_NE(problem.find(kBootMarkerName), std::string::npos) << problem;
}

TEST(BootMarker, ReadsTheKernelsBootId) {
    auto id = readBootId();
    EXPECT_EQ(id.size(), 36u) << id;  // a UUID
    corral::test::TempDir dir;
    EXPECT_EQ(readBootId(dir / "missing"), "");
}

}  // namespace
}  // namespace corral::supervisor::test
