// Undefine's remove_storage rule on a real tree: only files inside a storage dir, judged after
// symlinks and ".." are resolved.
#include "supervisor/storage_dirs.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/temp_dir.hpp"

namespace corral::supervisor::test {
namespace {

namespace fs = std::filesystem;

class StorageDirs : public ::testing::Test {
  protected:
    StorageDirs() {
        fs::create_directories(storage);
        fs::create_directories(outside);
        fs::create_directories(dir / "corral2");
        std::ofstream(storage / "disk.img") << "x";
        std::ofstream(outside / "secret.img") << "x";
        std::ofstream(dir / "corral2" / "near.img") << "x";
    }
    corral::test::TempDir dir;
    fs::path storage = dir / "corral";
    fs::path outside = dir / "etc";
    std::vector<fs::path> dirs{storage};
};

TEST_F(StorageDirs, FileInsideIsDeletable) {
    EXPECT_EQ(imageInStorage(storage / "disk.img", dirs), fs::canonical(storage / "disk.img"));
}

TEST_F(StorageDirs, FileOutsideIsNot) {
    EXPECT_FALSE(imageInStorage(outside / "secret.img", dirs));
    // A sibling whose name starts like the storage dir is outside too.
    EXPECT_FALSE(imageInStorage(dir / "corral2" / "near.img", dirs));
}

TEST_F(StorageDirs, SymlinkInsidePointingOutsideIsNot) {
    fs::create_symlink(outside / "secret.img", storage / "escape.img");
    EXPECT_FALSE(imageInStorage(storage / "escape.img", dirs));
    fs::create_directory_symlink(outside, storage / "linkdir");
    EXPECT_FALSE(imageInStorage(storage / "linkdir" / "secret.img", dirs));
}

TEST_F(StorageDirs, DotDotOutOfTheStorageDirIsNot) {
    EXPECT_FALSE(imageInStorage(storage / ".." / "etc" / "secret.img", dirs));
    EXPECT_EQ(imageInStorage(outside / ".." / "corral" / "disk.img", dirs),
              fs::canonical(storage / "disk.img"));
}

TEST_F(StorageDirs, SymlinkOutsidePointingInsideGivesTheTarget) {
    fs::create_symlink(storage / "disk.img", outside / "link.img");
    EXPECT_EQ(imageInStorage(outside / "link.img", dirs), fs::canonical(storage / "disk.img"));
}

TEST_F(StorageDirs, StorageDirThatIsASymlinkIsResolvedToo) {
    fs::create_directory_symlink(storage, dir / "alias");
    EXPECT_TRUE(imageInStorage(storage / "disk.img", {dir / "alias"}));
    EXPECT_FALSE(imageInStorage(outside / "secret.img", {dir / "alias"}));
}

TEST_F(StorageDirs, TheDirItselfMissingFilesAndNoDirsHoldNothing) {
    EXPECT_FALSE(imageInStorage(storage, dirs));
    EXPECT_FALSE(imageInStorage(storage / "gone.img", dirs));
    EXPECT_FALSE(imageInStorage(storage / "disk.img", {}));
    EXPECT_FALSE(imageInStorage(storage / "disk.img", {dir / "missing"}));
}

}  // namespace
}  // namespace corral::supervisor::test
