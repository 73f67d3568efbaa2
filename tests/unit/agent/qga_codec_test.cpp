// The qemu-guest-agent protocol without I/O: frames, the line reader's resynchronisation and
// bounds, and the readers of the replies corrald uses (shapes as QEMU 7.2's qemu-ga sends them).
#include <gtest/gtest.h>

#include <random>

#include "agent/qga_codec.hpp"

namespace corral::agent {
namespace {

TEST(QgaCodec, SyncFrameStartsWithTheResetByteAndCarriesTheId) {
    EXPECT_EQ(qgaSyncFrame(42),
              "\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":42}}\n");
    EXPECT_EQ(qgaCommandFrame("guest-get-osinfo"), "{\"execute\":\"guest-get-osinfo\"}\n");
    EXPECT_EQ(qgaCommandFrame("guest-shutdown", R"({"mode":"powerdown"})"),
              "{\"execute\":\"guest-shutdown\",\"arguments\":{\"mode\":\"powerdown\"}}\n");
}

TEST(QgaCodec, ReaderDropsEverythingBeforeTheDelimiter) {
    QgaLineReader reader;
    reader.expectDelimiter();
    reader.feed("{\"return\": 7}\ngarbage\n\xff{\"return\": 9}\n");
    auto line = reader.next();
    ASSERT_TRUE(line && *line);
    EXPECT_EQ(**line, "{\"return\": 9}");
    EXPECT_FALSE(reader.next());
}

TEST(QgaCodec, ReaderAssemblesLinesAcrossReadsAndSkipsBlankOnes) {
    QgaLineReader reader;
    reader.feed("{\"ret");
    EXPECT_FALSE(reader.next());
    reader.feed("urn\": {}}\r\n\n  \n{\"return\": 1}\n");
    auto first = reader.next();
    ASSERT_TRUE(first && *first);
    EXPECT_EQ(**first, "{\"return\": {}}\r");
    auto second = reader.next();
    ASSERT_TRUE(second && *second);
    EXPECT_EQ(**second, "{\"return\": 1}");
}

TEST(QgaCodec, AnOverlongLineIsAnErrorNotAnAllocation) {
    QgaLineReader reader;
    std::string chunk(64 * 1024, 'x');
    for (std::size_t fed = 0; fed <= kQgaMaxLine; fed += chunk.size()) {
        reader.feed(chunk);
        if (fed + chunk.size() <= kQgaMaxLine) {
            EXPECT_FALSE(reader.next());
        }
    }
    auto line = reader.next();
    ASSERT_TRUE(line);
    ASSERT_FALSE(*line);
    EXPECT_EQ(line->error().kind, Errc::Protocol);
    EXPECT_NE(line->error().message.find("longer than"), std::string::npos);
    // The reader starts over: the next line is read again.
    reader.feed("{\"return\": 3}\n");
    auto after = reader.next();
    ASSERT_TRUE(after && *after);
    EXPECT_EQ(**after, "{\"return\": 3}");
}

TEST(QgaCodec, ManyShortLinesInOneReadAreNotTakenForAnOverlongOne) {
    QgaLineReader reader;
    std::string many;
    while (many.size() <= kQgaMaxLine + 1000) many += "{\"return\": {}}\n";
    reader.feed(many);
    int lines = 0;
    while (auto line = reader.next()) {
        ASSERT_TRUE(*line) << line->error().message;
        ++lines;
    }
    EXPECT_EQ(static_cast<std::size_t>(lines), many.size() / 15);
}

TEST(QgaCodec, ReplyIsItsReturnOrTheAgentsError) {
    auto ok = parseQgaReply(R"({"return": {"a": [1, 2]}})");
    ASSERT_TRUE(ok);
    EXPECT_EQ(*ok, R"({"a":[1,2]})");
    auto error = parseQgaReply(
        R"({"error": {"class": "CommandNotFound", "desc": "The command guest-x has not been found"}})");
    ASSERT_FALSE(error);
    EXPECT_EQ(error.error().kind, Errc::Remote);
    EXPECT_EQ(error.error().remoteClass, "CommandNotFound");
    EXPECT_EQ(error.error().message, "The command guest-x has not been found");
}

TEST(QgaCodec, GarbageRepliesAreProtocolErrors) {
    for (std::string_view bad : {"", "not json", "[1,2]", "{\"neither\": 1}",
                                 "{\"return\": ", "{\"error\": \"text\"}", "\"just a string\""}) {
        auto reply = parseQgaReply(bad);
        ASSERT_FALSE(reply) << bad;
        EXPECT_EQ(reply.error().kind, Errc::Protocol) << bad;
    }
}

TEST(QgaCodec, DeepNestingIsRefusedWithoutExhaustingTheStack) {
    std::string deep = "{\"return\": " + std::string(200000, '[') + std::string(200000, ']') + "}";
    auto reply = parseQgaReply(deep);
    ASSERT_FALSE(reply);
    EXPECT_EQ(reply.error().kind, Errc::Protocol);
    EXPECT_NE(reply.error().message.find("nested deeper"), std::string::npos);
}

TEST(QgaCodec, RandomBytesNeverCrashTheReaderOrTheParsers) {
    std::mt19937 random(18);
    for (int round = 0; round < 2000; ++round) {
        QgaLineReader reader;
        if (round % 2) reader.expectDelimiter();
        std::string bytes(random() % 600, '\0');
        for (auto& c : bytes) c = static_cast<char>(random() % 256);
        if (round % 3 == 0) bytes = "{\"return\": " + bytes + "}\n";
        reader.feed(bytes);
        reader.feed("\n");
        while (auto line = reader.next()) {
            if (!*line) continue;
            auto reply = parseQgaReply(**line);
            if (!reply) continue;
            (void)parseQgaSyncId(*reply);
            (void)parseQgaOsInfo(*reply);
            (void)parseQgaInterfaces(*reply);
            (void)parseQgaHostName(*reply);
            (void)parseQgaCount(*reply);
        }
    }
}

TEST(QgaCodec, SyncIdOnlyFromANumber) {
    EXPECT_EQ(*parseQgaSyncId("1234567890123"), 1234567890123u);
    EXPECT_FALSE(parseQgaSyncId("\"12\""));
    EXPECT_FALSE(parseQgaSyncId("-1"));
}

TEST(QgaCodec, OsInfoAsQemuGaReportsIt) {
    auto info = parseQgaOsInfo(
        R"j({"name":"Debian GNU/Linux","kernel-release":"6.1.0-57-amd64","version":"12 (bookworm)",)j"
        R"j("pretty-name":"Debian GNU/Linux 12 (bookworm)","version-id":"12",)j"
        R"j("kernel-version":"#1 SMP","machine":"x86_64","id":"debian"})j");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->id, "debian");
    EXPECT_EQ(info->name, "Debian GNU/Linux");
    EXPECT_EQ(info->version, "12 (bookworm)");
    EXPECT_EQ(info->versionId, "12");
    EXPECT_EQ(info->kernelRelease, "6.1.0-57-amd64");
    EXPECT_FALSE(parseQgaOsInfo("[]"));
}

TEST(QgaCodec, InterfacesGiveAddressesWithPrefixes) {
    auto nics = parseQgaInterfaces(
        R"([{"name":"lo","ip-addresses":[{"ip-address-type":"ipv4","ip-address":"127.0.0.1","prefix":8},)"
        R"({"ip-address-type":"ipv6","ip-address":"::1","prefix":128}],"statistics":{}},)"
        R"({"name":"eth0","hardware-address":"52:54:00:12:34:56","ip-addresses":)"
        R"([{"ip-address-type":"ipv4","ip-address":"10.0.2.15","prefix":24}]},)"
        R"({"name":"eth1"}, 7, {"name":"eth2","ip-addresses":[3,{"prefix":4}]}])");
    ASSERT_TRUE(nics);
    ASSERT_EQ(nics->size(), 4u);
    EXPECT_EQ((*nics)[0].addresses, (std::vector<std::string>{"127.0.0.1/8", "::1/128"}));
    EXPECT_EQ((*nics)[1].name, "eth0");
    EXPECT_EQ((*nics)[1].addresses, std::vector<std::string>{"10.0.2.15/24"});
    EXPECT_TRUE((*nics)[2].addresses.empty());
    EXPECT_TRUE((*nics)[3].addresses.empty());
    EXPECT_FALSE(parseQgaInterfaces("{}"));
}

TEST(QgaCodec, HostNameAndCounts) {
    EXPECT_EQ(*parseQgaHostName(R"({"host-name":"corral-guest"})"), "corral-guest");
    EXPECT_FALSE(parseQgaHostName("{}"));
    EXPECT_EQ(*parseQgaCount("2"), 2);
    EXPECT_FALSE(parseQgaCount("\"2\""));
    EXPECT_EQ(*parseQgaString("\"frozen\""), "frozen");
}

}  // namespace
}  // namespace corral::agent
