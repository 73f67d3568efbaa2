// The journal fields of corrald's log lines: a line about an instance corrald serves names it
// and its corral@ unit, so that `journalctl -u corral@NAME` shows it; nothing else is tagged.
#include "supervisor/log.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace corral::supervisor {
namespace {

using ::testing::ElementsAre;

InstanceFilter served(std::vector<std::string> names) {
    return [names = std::move(names)](std::string_view name) {
        for (const auto& n : names)
            if (n == name) return true;
        return false;
    };
}

TEST(JournalFields, ALineAboutAServedInstanceNamesItAndItsUnit) {
    EXPECT_THAT(
        journalFields(5, "web1: started (pid 42)", served({"web1"})),
        ElementsAre("MESSAGE=web1: started (pid 42)", "PRIORITY=5", "SYSLOG_IDENTIFIER=corrald",
                    "CORRAL_INSTANCE=web1", "OBJECT_SYSTEMD_UNIT=corral@web1.service"));
}

TEST(JournalFields, OtherLinesAreNotTagged) {
    auto filter = served({"web1"});
    const std::vector<std::string> lines = {
        // A name-shaped prefix that is no instance of this daemon.
        "start-up failed: cannot own the name org.corral1",
        // Not a name at all, or no "NAME: " prefix.
        "ignoring /etc/corral/instances/x.toml: is a directory",
        "loaded 3 instance(s) from /etc/corral/instances (0 invalid)",
        "web1 started",
        "",
    };
    for (const auto& line : lines) {
        auto fields = journalFields(6, line, filter);
        EXPECT_EQ(fields.size(), 3u) << line;
    }
    EXPECT_EQ(journalFields(6, "web1: x", {}).size(), 3u);
}

}  // namespace
}  // namespace corral::supervisor
