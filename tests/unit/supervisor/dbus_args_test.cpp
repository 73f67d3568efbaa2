#include "supervisor/dbus_args.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace corral::supervisor {
namespace {

OptionEntry text(std::string key, std::string value) {
    return {std::move(key), "s", std::move(value), false};
}

OptionEntry flag(std::string key, bool value) {
    return {std::move(key), "b", "", value};
}

OptionEntry typed(std::string key, std::string signature) {
    return {std::move(key), std::move(signature), "", false};
}

bool isPrintableAscii(const std::string& s) {
    for (char c : s) {
        if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
}

// The refusal is InvalidArgument, plain text, and contains every one of `words`.
void expectRefused(const OpError& error, const std::vector<std::string>& words,
                   const std::string& what) {
    EXPECT_EQ(error.kind, ErrorKind::InvalidArgument) << what;
    EXPECT_TRUE(isPrintableAscii(error.message)) << what << ": " << error.message;
    for (const auto& word : words) {
        EXPECT_NE(error.message.find(word), std::string::npos)
            << what << ": expected '" << word << "' in: " << error.message;
    }
}

TEST(DbusArgs, FlagsTakeOnlyTheirBooleansOnce) {
    auto none = validateFlags("Undefine", {}, {"remove_storage"});
    ASSERT_TRUE(none);
    EXPECT_TRUE(none.value().empty());
    auto on = validateFlags("Undefine", {flag("remove_storage", true)}, {"remove_storage"});
    ASSERT_TRUE(on) << on.error().message;
    EXPECT_TRUE(on.value().at("remove_storage"));
    expectRefused(
        validateFlags("Undefine", {text("remove_storage", "true")}, {"remove_storage"}).error(),
        {"\"remove_storage\"", "boolean", "type b", "\"s\""}, "string for a flag");
    expectRefused(
        validateFlags("Undefine", {flag("remove_storage", true), flag("remove_storage", false)},
                      {"remove_storage"})
            .error(),
        {"twice"}, "twice");
    expectRefused(validateFlags("Undefine", {flag("force", true)}, {"remove_storage"}).error(),
                  {"Unknown option \"force\" for Undefine", "remove_storage (b)"}, "unknown");
    expectRefused(validateFlags("Define", {flag("x", true)}, {}).error(),
                  {"Unknown option \"x\" for Define; it takes no options."}, "Define takes none");
    expectRefused(validateFlags("Define", {typed("\xff", "as")}, {}).error(), {"\\xff"},
                  "a key that is not ASCII");
    OptionDict many(kMaxOptionEntries + 1, flag("remove_storage", true));
    expectRefused(validateFlags("Undefine", many, {"remove_storage"}).error(), {"at most 24"},
                  "too many");
}

struct DiskCase {
    std::string what;
    std::string id;
    std::string path;
    OptionDict options;
    std::vector<std::string> words;
};

TEST(DbusArgs, AttachDiskAcceptsValidRequests) {
    auto plain = validateAttachDisk("d1", "/var/lib/corral/d1.qcow2", {});
    ASSERT_TRUE(plain) << plain.error().message;
    EXPECT_EQ(plain.value().id, "d1");
    EXPECT_EQ(plain.value().text("path"), "/var/lib/corral/d1.qcow2");
    EXPECT_FALSE(plain.value().flag("readonly"));

    auto readonly = validateAttachDisk("d1", "/tmp/disk.img", {flag("readonly", true)});
    ASSERT_TRUE(readonly) << readonly.error().message;
    EXPECT_TRUE(readonly.value().flag("readonly"));
    EXPECT_FALSE(validateAttachDisk("d1", "/tmp/disk.img", {flag("readonly", false)})
                     .value()
                     .flag("readonly"));
    EXPECT_EQ(plain.value().text("format"), "qcow2");  // from the file name
    EXPECT_EQ(readonly.value().text("format"), "raw");
    for (const char* format : {"raw", "qcow2"}) {
        auto given = validateAttachDisk("d1", "/tmp/disk.img", {text("format", format)});
        ASSERT_TRUE(given) << given.error().message;
        EXPECT_EQ(given.value().text("format"), format);
    }

    for (const std::string& path : {std::string("/srv/a..b.img"), std::string("/srv/..x/d.img"),
                                    std::string("/srv/./d.img"), "/" + std::string(4094, 'a')}) {
        auto ok = validateAttachDisk("d1", path, {});
        EXPECT_TRUE(ok) << path.substr(0, 40) << ": " << ok.error().message;
    }
}

TEST(DbusArgs, AttachDiskRefusesEachBrokenRule) {
    const std::vector<DiskCase> cases = {
        {"empty id", "", "/d.img", {}, {"device id"}},
        {"id with slash", "../x", "/d.img", {}, {"device id", "\"../x\""}},
        {"reserved id", "corral-serial", "/d.img", {}, {"device id", "reserved"}},
        {"non-ASCII id", "vm-\xc3\xa9", "/d.img", {}, {"device id", "\\xc3\\xa9"}},
        {"4 KiB id", std::string(4096, 'd'), "/d.img", {}, {"device id", "(4096 bytes)"}},
        {"empty path", "d1", "", {}, {"Disk path", "must not be empty"}},
        {"relative path", "d1", "disk.img", {}, {"\"disk.img\"", "must be absolute"}},
        {"relative dotdot", "d1", "../../etc/shadow", {}, {"must be absolute"}},
        {"dotdot inside", "d1", "/srv/../etc/shadow", {}, {"\"..\" component"}},
        {"dotdot at end", "d1", "/srv/..", {}, {"\"..\" component"}},
        {"NUL in path", "d1", std::string("/srv/a\0b", 8), {}, {"NUL byte", "\\x00"}},
        {"PATH_MAX path", "d1", "/" + std::string(4095, 'a'), {}, {"4096 bytes", "PATH_MAX"}},
        {"unknown option",
         "d1",
         "/d.img",
         {text("cache", "none")},
         {"Unknown option \"cache\"", "AttachDisk", "readonly (b)"}},
        {"readonly as string",
         "d1",
         "/d.img",
         {text("readonly", "true")},
         {"\"readonly\"", "must be a boolean (D-Bus type b)", "not a string"}},
        {"readonly as uint32",
         "d1",
         "/d.img",
         {typed("readonly", "u")},
         {"\"readonly\"", "D-Bus type \"u\"", "must be a string or a boolean"}},
        {"readonly twice",
         "d1",
         "/d.img",
         {flag("readonly", false), flag("readonly", true)},
         {"\"readonly\"", "given twice"}},
        {"binary key", "d1", "/d.img", {flag("\xff\n", true)}, {"Unknown option", "\\xff\\x0a"}},
        {"unknown format",
         "d1",
         "/d.img",
         {text("format", "vmdk")},
         {"'format'", "\"vmdk\"", "raw, qcow2"}},
        {"format as boolean",
         "d1",
         "/d.img",
         {flag("format", true)},
         {"\"format\"", "must be a string (D-Bus type s)"}},
    };
    for (const auto& c : cases) {
        auto result = validateAttachDisk(c.id, c.path, c.options);
        ASSERT_FALSE(result) << c.what << " was accepted";
        expectRefused(result.error(), c.words, c.what);
    }
}

TEST(DbusArgs, ChangeMediaTakesAReadableRegularFileOrNothing) {
    EXPECT_FALSE(checkChangeMediaArguments("cd0", ""));
    EXPECT_FALSE(checkChangeMediaArguments("cd0", "/proc/self/exe"));
    auto check = [](std::string_view id, std::string_view path) {
        auto bad = checkChangeMediaArguments(id, path);
        EXPECT_TRUE(bad) << path;
        return bad ? *bad : OpError{ErrorKind::Failed, ""};
    };
    expectRefused(check("0cd", "/x.iso"), {"0cd"}, "bad id");
    expectRefused(check("cd0", "x.iso"), {"ISO path", "must be absolute"}, "relative");
    expectRefused(check("cd0", "/a/../x.iso"), {"\"..\""}, "dot-dot");
    expectRefused(check("cd0", "/nonexistent/x.iso"), {"No such file or directory"}, "missing");
    expectRefused(check("cd0", "/"), {"is not a regular file"}, "directory");
    expectRefused(check("cd0", "/dev/null"), {"is not a regular file"}, "device");
}

TEST(DbusArgs, AttachNicAcceptsValidRequests) {
    auto plain = validateAttachNic("n1", {});
    ASSERT_TRUE(plain) << plain.error().message;
    EXPECT_EQ(plain.value().text("mode"), "user");
    EXPECT_EQ(plain.value().text("bridge"), "");
    EXPECT_EQ(plain.value().text("mac"), "");

    auto tap = validateAttachNic("n1", {text("mode", "tap"), text("mac", "52:54:00:AB:cd:01")});
    ASSERT_TRUE(tap) << tap.error().message;
    EXPECT_EQ(tap.value().text("mode"), "tap");
    EXPECT_EQ(tap.value().text("mac"), "52:54:00:ab:cd:01");

    for (const std::string& name :
         {std::string("br0"), std::string("br-lan.100"), std::string("b"), std::string(15, 'x'),
          std::string("..."), std::string("br@0")}) {
        auto bridge = validateAttachNic("n1", {text("bridge", name), text("mode", "bridge")});
        ASSERT_TRUE(bridge) << name << ": " << bridge.error().message;
        EXPECT_EQ(bridge.value().text("mode"), "bridge");
        EXPECT_EQ(bridge.value().text("bridge"), name);
    }
}

struct NicCase {
    std::string what;
    std::string id;
    OptionDict options;
    std::vector<std::string> words;
};

NicCase bridgeNamed(const std::string& name) {
    return {"bridge " + name,
            "n1",
            {text("mode", "bridge"), text("bridge", name)},
            {"Bad bridge name", "interface name is 1 to 15 bytes"}};
}

TEST(DbusArgs, AttachNicRefusesEachBrokenRule) {
    std::vector<NicCase> cases = {
        {"bad id", "a/b", {}, {"device id"}},
        {"unknown mode", "n1", {text("mode", "vhost")}, {"\"vhost\"", "is not one of"}},
        {"empty mode", "n1", {text("mode", "")}, {"is not one of user, tap, bridge"}},
        {"mode as array",
         "n1",
         {typed("mode", "as")},
         {"\"mode\"", "\"as\"", "must be a string or a boolean"}},
        {"mac as boolean", "n1", {flag("mac", true)}, {"\"mac\"", "must be a string"}},
        {"unknown option",
         "n1",
         {text("vlan", "7")},
         {"Unknown option \"vlan\"", "AttachNic", "mode (s), model (s), bridge (s), mac (s)"}},
        {"mode twice", "n1", {text("mode", "tap"), text("mode", "user")}, {"given twice"}},
        {"bridge mode without bridge",
         "n1",
         {text("mode", "bridge")},
         {"needs the option \"bridge\""}},
        {"bridge with tap",
         "n1",
         {text("mode", "tap"), text("bridge", "br0")},
         {"only meaningful", "not mode \"tap\""}},
        {"bridge with default mode",
         "n1",
         {text("bridge", "br0")},
         {"only meaningful", "not mode \"user\""}},
        {"short mac", "n1", {text("mac", "52:54:00:12:34")}, {"\"mac\"", "unicast MAC"}},
        {"dashed mac", "n1", {text("mac", "52-54-00-12-34-56")}, {"unicast MAC"}},
        {"non-hex mac", "n1", {text("mac", "52:54:00:12:34:zz")}, {"unicast MAC"}},
        {"multicast mac", "n1", {text("mac", "01:00:5e:00:00:01")}, {"first octet even"}},
        bridgeNamed(""),
        bridgeNamed(std::string(16, 'x')),
        bridgeNamed("."),
        bridgeNamed(".."),
        bridgeNamed("br/0"),
        bridgeNamed("br:0"),
        bridgeNamed("br 0"),
        bridgeNamed("br\t0"),
        bridgeNamed("br\v0"),
        bridgeNamed("br\xa0"),
        bridgeNamed(std::string("br\0", 3)),
    };
    for (const auto& c : cases) {
        auto result = validateAttachNic(c.id, c.options);
        ASSERT_FALSE(result) << c.what << " was accepted";
        expectRefused(result.error(), c.words, c.what);
    }
}

TEST(DbusArgs, HugeDictIsRefusedByItsSize) {
    OptionDict many;
    for (std::size_t i = 0; i <= kMaxOptionEntries; ++i) many.push_back(text("k", ""));
    auto disk = validateAttachDisk("d1", "/d.img", many);
    ASSERT_FALSE(disk);
    expectRefused(disk.error(), {"AttachDisk", "at most 24 options"}, "disk");
    auto nic = validateAttachNic("n1", many);
    ASSERT_FALSE(nic);
    expectRefused(nic.error(), {"AttachNic", "at most 24 options"}, "nic");
}

TEST(DbusArgs, DetachIdUsesTheDeviceIdRule) {
    EXPECT_EQ(checkDeviceIdArgument("d1"), std::nullopt);
    auto bad = checkDeviceIdArgument("corral-agent");
    ASSERT_TRUE(bad);
    expectRefused(*bad, {"device id", "reserved"}, "reserved id");
}

TEST(DbusArgs, TimeoutsAreBoundedByAYear) {
    EXPECT_FALSE(checkTimeoutArgument("Shutdown: timeout_usec", 0));
    EXPECT_FALSE(checkTimeoutArgument("Shutdown: timeout_usec", kMaxTimeoutUsec));
    auto bad = checkTimeoutArgument("Shutdown: timeout_usec", kMaxTimeoutUsec + 1);
    ASSERT_TRUE(bad);
    expectRefused(*bad, {"Shutdown: timeout_usec", "31536000000001", "one year"}, "year + 1");
    EXPECT_TRUE(checkTimeoutArgument("GuestExecute: timeout_usec", UINT64_MAX));
}

}  // namespace
}  // namespace corral::supervisor
