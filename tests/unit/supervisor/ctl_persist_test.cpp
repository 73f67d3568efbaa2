// corralctl's --persist: taken by attach and detach only.
#include <gtest/gtest.h>

#include "supervisor/ctl_commands.hpp"
#include "supervisor/ctl_verbs.hpp"

namespace corral::supervisor::ctl {
namespace {

TEST(CtlPersist, AttachAndDetachTakeItOtherVerbsRefuseIt) {
    auto attach = parseCommandLine(corralctlVerbs(), {"attach", "vm1", "disk", "d1", "--option",
                                                      "path=/var/lib/corral/d1.img", "--persist"});
    EXPECT_TRUE(attach.has(kPersist));
    EXPECT_TRUE(
        parseCommandLine(corralctlVerbs(), {"detach", "vm1", "d1", "--persist"}).has(kPersist));
    EXPECT_FALSE(parseCommandLine(corralctlVerbs(), {"detach", "vm1", "d1"}).has(kPersist));
    EXPECT_THROW(
        parseCommandLine(corralctlVerbs(), {"attach-disk", "vm1", "d1", "/x", "--persist"}),
        CtlError);
    EXPECT_THROW(parseCommandLine(corralctlVerbs(), {"start", "vm1", "--persist"}), CtlError);
}

}  // namespace
}  // namespace corral::supervisor::ctl
