#include <gtest/gtest.h>

#include "hypervisor/instance_name.hpp"

namespace corral::hypervisor {
namespace {

TEST(InstanceName, AcceptsValidNames) {
    for (const std::string& name :
         std::vector<std::string>{"web1", "a", "9lives", "db_primary.eu-1", std::string(63, 'x')}) {
        EXPECT_EQ(checkInstanceName(name), std::nullopt) << name;
    }
}

TEST(InstanceName, RejectsEmptyLongAndBadCharacters) {
    EXPECT_EQ(*checkInstanceName(""), "an instance name must not be empty");
    EXPECT_NE(checkInstanceName(std::string(64, 'x'))->find("at most 63"), std::string::npos);
    EXPECT_NE(checkInstanceName("-web")->find("must start with a letter or digit"),
              std::string::npos);
    EXPECT_NE(checkInstanceName(".hidden"), std::nullopt);
    EXPECT_NE(checkInstanceName("a/../etc")->find("may contain only"), std::string::npos);
    EXPECT_NE(checkInstanceName("a/b"), std::nullopt);
    EXPECT_NE(checkInstanceName(std::string("a\0b", 3)), std::nullopt);
    EXPECT_NE(checkInstanceName("wéb"), std::nullopt);
}

TEST(InterfaceName, FollowsTheKernelRule) {
    for (const std::string& name : {std::string("br0"), std::string("br-lan.100"),
                                    std::string(15, 'x'), std::string("..."), std::string("b")}) {
        EXPECT_EQ(checkInterfaceName(name), std::nullopt) << name;
    }
    for (const std::string& name :
         {std::string(), std::string(16, 'x'), std::string("."), std::string(".."),
          std::string("br/0"), std::string("br:0"), std::string("br 0"), std::string("br\n"),
          std::string("br\f0"), std::string("br\xa0"), std::string("br\0", 3)}) {
        auto why = checkInterfaceName(name);
        ASSERT_NE(why, std::nullopt) << name;
        EXPECT_NE(why->find("1 to 15 bytes"), std::string::npos) << *why;
    }
}

TEST(QuoteForMessage, EscapesEverythingButPrintableAscii) {
    EXPECT_EQ(quoteForMessage("disk.img"), "\"disk.img\"");
    EXPECT_EQ(quoteForMessage("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(quoteForMessage(std::string("\xc3\xa9\n\0", 4)), "\"\\xc3\\xa9\\x0a\\x00\"");
    EXPECT_EQ(quoteForMessage(std::string(100, 'x')),
              "\"" + std::string(64, 'x') + "\"... (100 bytes)");
}

TEST(DeviceId, RefusalQuotesTheIdAsPlainText) {
    auto why = checkDeviceId("vm-\xc3\xa9");
    ASSERT_NE(why, std::nullopt);
    EXPECT_NE(why->find("\"vm-\\xc3\\xa9\""), std::string::npos) << *why;
}

}  // namespace
}  // namespace corral::hypervisor
