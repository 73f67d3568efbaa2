// Request/reply model and dispatcher: exact wire JSON, ASCII-only output, every malformed request.
#include <gtest/gtest.h>

#include <stdexcept>

#include "agent/rpc.hpp"

namespace corral::agent {
namespace {

TEST(Rpc, EncodesCallWithMethodArgsKw) {
    Call call{"execute", {"echo", "hi"}, {{"input", std::string("x")}}};
    EXPECT_EQ(encodeCall(call), R"({"method":"execute","args":["echo","hi"],"kw":{"input":"x"}})");
    EXPECT_EQ(encodeCall(Call{"list_commands", {}, {}}),
              R"({"method":"list_commands","args":[],"kw":{}})");
}

TEST(Rpc, EncodesNonAsciiAsEscapes) {
    auto json = encodeReply(Reply::ok(std::string("h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80")));
    EXPECT_EQ(json, R"({"success":true,"result":"h\u00E9 \u20AC \uD83D\uDE00"})");
    for (char c : json) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
}

TEST(Rpc, EncodesInvalidUtf8AsReplacementCharacter) {
    EXPECT_EQ(encodeReply(Reply::ok(std::string("a\xFF"
                                                "b"))),
              R"({"success":true,"result":"a\uFFFDb"})");
    EXPECT_EQ(sanitizeUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
    EXPECT_EQ(sanitizeUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

TEST(Rpc, EncodesFailureAndListResults) {
    EXPECT_EQ(encodeReply(Reply::fail("boom")), R"({"success":false,"error":"boom"})");
    EXPECT_EQ(encodeReply(Reply::ok(std::vector<std::string>{"a", "b"})),
              R"({"success":true,"result":["a","b"]})");
    EXPECT_EQ(encodeReply(Reply::ok({})), R"({"success":true,"result":null})");
}

TEST(Rpc, ParsesPythonStyleRequest) {
    auto parsed = parseCall(R"({"method": "execute", "args": ["cat"], "kw": {"input": "\u00e9"}})");
    auto* call = std::get_if<Call>(&parsed);
    ASSERT_TRUE(call);
    EXPECT_EQ(call->method, "execute");
    EXPECT_EQ(call->args, std::vector<std::string>{"cat"});
    EXPECT_EQ(call->kw.at("input"), KwArg("\xC3\xA9"));
}

TEST(Rpc, KeepsKeywordArgumentsOfAnyType) {
    // What the original CLIs send: execute(*argv, capture=True).
    auto parsed = parseCall(
        R"({"method": "execute", "args": ["ls"], "kw": {"capture": true, "n": 3, "l": [1, "\u00e9"]}})");
    auto* call = std::get_if<Call>(&parsed);
    ASSERT_TRUE(call);
    EXPECT_EQ(call->kw.at("capture"), KwArg::json("true"));
    EXPECT_EQ(call->kw.at("n"), KwArg::json("3"));
    EXPECT_EQ(call->kw.at("l"), KwArg::json(R"([1,"\u00E9"])"));
    EXPECT_EQ(encodeCall(*call),
              R"({"method":"execute","args":["ls"],"kw":{"capture":true,"l":[1,"\u00E9"],"n":3}})");
}

TEST(Rpc, EncodedLengthIsKnownWithoutEncoding) {
    std::string every;
    for (int c = 1; c < 0x80; ++c) every += static_cast<char>(c);
    every += std::string("\0", 1) + "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
    for (const auto& reply :
         {Reply::ok(every), Reply::ok(std::string()), Reply::ok({}), Reply::fail(every),
          Reply::ok(std::vector<std::string>{}), Reply::ok(std::vector<std::string>{"a", every})})
        EXPECT_EQ(encodedLength(reply), encodeReply(reply).size()) << encodeReply(reply);
}

TEST(Rpc, ReplyTooLargeForAMessageBecomesAnError) {
    auto ok = Reply::ok(std::string(100, 'x'));
    EXPECT_EQ(encodeReplyWithin(ok, 200), encodeReply(ok));
    EXPECT_EQ(encodeReplyWithin(ok, 100),
              R"({"success":false,"error":"the reply of 128 bytes exceeds the message limit of )"
              R"(100 bytes"})");
    // NUL bytes are six bytes each once escaped: refused without building the 6 MiB reply.
    auto nuls = Reply::ok(std::string(1024 * 1024, '\0'));
    EXPECT_EQ(encodeReplyWithin(nuls, 4 * 1024 * 1024).find("the reply of 6291484 bytes"), 26u);
}

TEST(Rpc, ArgsAndKwAreOptional) {
    auto parsed = parseCall(R"({"method": "list_commands"})");
    ASSERT_TRUE(std::holds_alternative<Call>(parsed));
    parsed = parseCall(R"({"method": "execute", "args": ["x"], "kw": {"input": null}})");
    ASSERT_TRUE(std::holds_alternative<Call>(parsed));
    EXPECT_EQ(std::get<Call>(parsed).kw.at("input"), KwArg());
}

void expectRejected(std::string_view body, std::string_view needle) {
    auto parsed = parseCall(body);
    auto* reply = std::get_if<Reply>(&parsed);
    ASSERT_TRUE(reply) << body;
    EXPECT_FALSE(reply->success);
    EXPECT_NE(reply->error.find(needle), std::string::npos) << reply->error;
}

TEST(Rpc, RejectsMalformedRequests) {
    expectRejected("not json", "not valid JSON");
    expectRejected("", "not valid JSON");
    expectRejected("[1,2]", "not a JSON object");
    expectRejected("\"method\"", "not a JSON object");
    expectRejected("{}", "no 'method'");
    expectRejected(R"({"command": "list_commands"})", "no 'method'");
    expectRejected(R"({"method": 5})", "not a string");
    expectRejected(R"({"method": "execute", "args": "ls"})", "not a list");
    expectRejected(R"({"method": "execute", "args": [1]})", "string arguments");
    expectRejected(R"({"method": "execute", "kw": []})", "not an object");
    expectRejected("{\"method\": \"\xFF\"}", "not valid JSON");
}

TEST(Rpc, ParsesReplies) {
    std::string problem;
    auto ok = parseReply(R"({"success": true, "result": "out"})", problem);
    ASSERT_TRUE(ok);
    EXPECT_EQ(std::get<std::string>(ok->result), "out");
    auto list = parseReply(R"({"success": true, "result": ["a"]})", problem);
    ASSERT_TRUE(list);
    EXPECT_EQ(std::get<std::vector<std::string>>(list->result), std::vector<std::string>{"a"});
    auto fail = parseReply(R"({"success": false, "error": "no"})", problem);
    ASSERT_TRUE(fail);
    EXPECT_FALSE(fail->success);
    EXPECT_EQ(fail->error, "no");
    EXPECT_FALSE(parseReply(R"({"result": 1})", problem));
    EXPECT_FALSE(parseReply(R"({"success": true, "result": 1})", problem));
    EXPECT_FALSE(parseReply("[]", problem));
}

TEST(Dispatcher, RoutesByMethodName) {
    Dispatcher d;
    d.add("echo", [](const Call& c) { return Reply::ok(c.args.at(0)); });
    EXPECT_EQ(d.handle(R"({"method":"echo","args":["x"],"kw":{}})"),
              R"({"success":true,"result":"x"})");
}

TEST(Dispatcher, AnswersUnknownMethodMissingMethodAndThrowingHandler) {
    Dispatcher d;
    d.add("boom", [](const Call&) -> Reply { throw std::runtime_error("kaput"); });
    EXPECT_EQ(d.handle(R"({"method":"nope"})"),
              R"({"success":false,"error":"unknown method 'nope'"})");
    EXPECT_EQ(d.handle(R"({"args":[]})"),
              R"({"success":false,"error":"invalid request: no 'method' key"})");
    EXPECT_EQ(d.handle(R"({"method":"boom"})"),
              R"({"success":false,"error":"boom failed: kaput"})");
    EXPECT_EQ(d.handle("[]"),
              R"({"success":false,"error":"invalid request: message is not a JSON object"})");
}

}  // namespace
}  // namespace corral::agent
