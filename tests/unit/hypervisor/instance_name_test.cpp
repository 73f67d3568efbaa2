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

}  // namespace
}  // namespace corral::hypervisor
