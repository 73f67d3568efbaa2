// What both CLIs share with the original's: -t syntax and how results print.
#include <gtest/gtest.h>

#include "agent/cli_support.hpp"

namespace corral::agent {
namespace {

using namespace std::chrono_literals;

TEST(ParseTimeout, TakesWhatPythonsIntTakes) {
    EXPECT_EQ(parseTimeout("10"), 10s);
    EXPECT_EQ(parseTimeout(" 5 "), 5s);
    EXPECT_EQ(parseTimeout("+5"), 5s);
    EXPECT_EQ(parseTimeout("1_0"), 10s);
    EXPECT_EQ(parseTimeout("0"), 0ms);
    EXPECT_EQ(parseTimeout("2147483647"), std::chrono::seconds(2147483647));
}

TEST(ParseTimeout, NegativeMeansNoLimit) {
    EXPECT_EQ(parseTimeout("-1"), 0ms);
    EXPECT_EQ(parseTimeout("-2147483648"), 0ms);
}

TEST(ParseTimeout, AcceptsAFraction) {
    EXPECT_EQ(parseTimeout("0.5"), 500ms);
    EXPECT_EQ(parseTimeout("1.25"), 1250ms);
    EXPECT_EQ(parseTimeout("0.0001"), 1ms);  // never rounded down to "no limit"
}

TEST(ParseTimeout, RefusesWhatPythonsIntRefuses) {
    for (const char* bad : {"", " ", "abc", "5s", "0x10", "1__0", "_1", "1_", "+", "1.", ".5",
                            "1e3", "2147483648", "99999999999999999999", "nan", "inf"})
        EXPECT_FALSE(parseTimeout(bad)) << bad;
}

TEST(Printable, OutputLosesTrailingWhitespaceAndGetsOneNewline) {
    EXPECT_EQ(printableOutput("a\nb\n\n"), "a\nb\n");
    EXPECT_EQ(printableOutput("padded"), "padded\n");
    EXPECT_EQ(printableOutput("  x \t\n"), "  x\n");
    EXPECT_EQ(printableOutput(""), "\n");
}

TEST(Printable, ListIsSortedAndAnEmptyOneIsAnEmptyLine) {
    EXPECT_EQ(printableList({"zeta", "alpha", "find-ip-addresses"}),
              "alpha\nfind-ip-addresses\nzeta\n");
    EXPECT_EQ(printableList({}), "\n");
}

}  // namespace
}  // namespace corral::agent
