// Instance files written atomically: the file complete with mode 0644, an existing one refused
// or replaced as asked, and no temporary file left behind whatever fails.
#include "supervisor/definition_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/support/temp_dir.hpp"

namespace corral::supervisor::test {
namespace {

namespace fs = std::filesystem;

// Every entry of the directory, dot files included.
std::vector<std::string> entries(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

TEST(DefinitionStore, WritesTheWholeTextWithMode0644) {
    corral::test::TempDir dir;
    auto file = dir / "web1.toml";
    ::umask(077);  // the mode is set, not left to the umask
    auto error = writeDefinitionFile(file, "# keep me\nname = \"web1\"\n", Replace::No);
    ::umask(022);
    ASSERT_FALSE(error) << error->message;
    EXPECT_EQ(corral::test::readFile(file), "# keep me\nname = \"web1\"\n");
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"web1.toml"});
}

TEST(DefinitionStore, ExistingFileIsRefusedUntouchedWithoutReplace) {
    corral::test::TempDir dir;
    auto file = dir / "web1.toml";
    std::ofstream(file) << "old";
    auto error = writeDefinitionFile(file, "new", Replace::No);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->what, StoreError::What::Exists);
    EXPECT_EQ(corral::test::readFile(file), "old");
    EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"web1.toml"});
}

TEST(DefinitionStore, ReplaceSwapsTheFile) {
    corral::test::TempDir dir;
    auto file = dir / "web1.toml";
    std::ofstream(file) << "old";
    auto error = writeDefinitionFile(file, "new", Replace::Yes);
    ASSERT_FALSE(error) << error->message;
    EXPECT_EQ(corral::test::readFile(file), "new");
    EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"web1.toml"});
}

TEST(DefinitionStore, FailedRenameLeavesNoTemporaryFile) {
    corral::test::TempDir dir;
    // A directory (not empty) of that name: rename(2) onto it fails after the temp file was
    // written and synced.
    auto file = dir / "web1.toml";
    fs::create_directories(file / "inside");
    auto error = writeDefinitionFile(file, "text", Replace::Yes);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->what, StoreError::What::Failed);
    EXPECT_NE(error->message.find("web1.toml"), std::string::npos) << error->message;
    EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"web1.toml"});
    EXPECT_TRUE(fs::is_directory(file / "inside"));
}

TEST(DefinitionStore, UnwritableDirectoryFailsWithItsName) {
    // /proc takes no new files, not even from root.
    auto error = writeDefinitionFile("/proc/web1.toml", "text", Replace::No);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->what, StoreError::What::Failed);
    EXPECT_NE(error->message.find("/proc"), std::string::npos) << error->message;
    corral::test::TempDir dir;
    EXPECT_TRUE(writeDefinitionFile(dir / "nope" / "web1.toml", "text", Replace::No));
    EXPECT_TRUE(entries(dir.path()).empty());
}

TEST(DefinitionStore, RemoveDeletesAndAFileAlreadyGoneIsFine) {
    corral::test::TempDir dir;
    auto file = dir / "web1.toml";
    std::ofstream(file) << "x";
    EXPECT_FALSE(removeDefinitionFile(file));
    EXPECT_FALSE(fs::exists(file));
    EXPECT_FALSE(removeDefinitionFile(file));
}

TEST(DefinitionStore, ReadGivesTheBytesAndRefusesWhatDBusCannotCarry) {
    corral::test::TempDir dir;
    std::string problem;
    std::ofstream(dir / "a.toml") << "# comment \xc3\xa9\nname = \"a\"\n";
    EXPECT_EQ(readDefinitionFile(dir / "a.toml", problem), "# comment \xc3\xa9\nname = \"a\"\n");
    std::ofstream(dir / "bin.toml") << std::string("a\0b", 3);
    EXPECT_FALSE(readDefinitionFile(dir / "bin.toml", problem));
    EXPECT_NE(problem.find("UTF-8"), std::string::npos) << problem;
    std::ofstream(dir / "big.toml") << std::string(kMaxDefinitionBytes + 1, '#');
    EXPECT_FALSE(readDefinitionFile(dir / "big.toml", problem));
    EXPECT_NE(problem.find("1 MiB"), std::string::npos) << problem;
    EXPECT_FALSE(readDefinitionFile(dir / "missing.toml", problem));
    EXPECT_NE(problem.find("missing.toml"), std::string::npos) << problem;
}

}  // namespace
}  // namespace corral::supervisor::test
