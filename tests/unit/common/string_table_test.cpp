#include "common/string_table.hpp"

#include <gtest/gtest.h>

namespace corral {
namespace {

enum class Colour { Red, Green, Blue };

constexpr auto kColours = makeStringTable<Colour>({
    {Colour::Red, "red"},
    {Colour::Green, "green"},
    {Colour::Blue, "blue"},
});

TEST(StringTable, RoundTripsEveryEntry) {
    for (const auto& [value, name] : kColours.entries()) {
        EXPECT_EQ(kColours.toString(value), name);
        EXPECT_EQ(kColours.fromString(name), value);
    }
}

TEST(StringTable, UnknownNameIsNullopt) {
    EXPECT_EQ(kColours.fromString("Red"), std::nullopt);
    EXPECT_EQ(kColours.fromString(""), std::nullopt);
}

TEST(StringTable, ExpectedListsEveryName) {
    EXPECT_EQ(kColours.expected(), R"("red", "green" or "blue")");
    constexpr auto two = makeStringTable<Colour>({{Colour::Red, "a"}, {Colour::Blue, "b"}});
    EXPECT_EQ(two.expected(), R"("a" or "b")");
    EXPECT_EQ(two.toString(Colour::Green), "");
}

TEST(StringTable, LooksUpAtCompileTime) {
    static_assert(kColours.toString(Colour::Green) == "green");
    static_assert(*kColours.fromString("blue") == Colour::Blue);
}

}  // namespace
}  // namespace corral
