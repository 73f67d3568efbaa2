// negotiator-guest -e splits its COMMAND like shlex.split.
#include <gtest/gtest.h>

#include "agent/split.hpp"

namespace corral::agent {
namespace {

using Words = std::vector<std::string>;

TEST(SplitCommandLine, SplitsOnWhitespaceAndHonoursQuotes) {
    EXPECT_EQ(splitCommandLine("echo  a b"), (Words{"echo", "a", "b"}));
    EXPECT_EQ(splitCommandLine(R"(echo 'a b' "c \"d\"" e\ f '')"),
              (Words{"echo", "a b", "c \"d\"", "e f", ""}));
    EXPECT_EQ(splitCommandLine("   "), Words{});
}

TEST(SplitCommandLine, EscapesInsideDoubleQuotesAreShlexs) {
    // shlex keeps the backslash before anything but a quote or a backslash.
    EXPECT_EQ(splitCommandLine(R"(echo "\$HOME" "\`x\`" "a\\b" "\n")"),
              (Words{"echo", "\\$HOME", "\\`x\\`", "a\\b", "\\n"}));
    EXPECT_EQ(splitCommandLine("a\r\nb"), (Words{"a", "b"}));
}

TEST(SplitCommandLine, RejectsUnterminatedQuotes) {
    EXPECT_FALSE(splitCommandLine("echo 'a"));
    EXPECT_FALSE(splitCommandLine("echo \"a"));
    EXPECT_FALSE(splitCommandLine("echo a\\"));
}

}  // namespace
}  // namespace corral::agent
