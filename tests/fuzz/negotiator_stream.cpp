// Fuzzes what an untrusted guest controls on a negotiator channel: the byte stream (framing)
// and each message body, read both as a request (guest->host port, Dispatcher) and as a reply
// (host->guest port, parseReply).
//
// Input layout: byte 0 picks the chunk size the stream is fed in (1..32 bytes, or all at once),
// the rest is the stream. With byte 0 == 0 the stream is also handled as one message body
// whatever its length, since the real cap (16 MiB) is far above what the decoder here allows.
#include "agent/codec.hpp"
#include "agent/rpc.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

using corral::agent::Call;
using corral::agent::FrameDecoder;
using corral::agent::Reply;

// Small enough for the fuzzer to reach the Oversized path with short inputs.
constexpr std::size_t kFuzzMaxMessage = 512;

corral::agent::Dispatcher makeDispatcher() {
    corral::agent::Dispatcher dispatcher;
    dispatcher.add("list_commands", [](const Call&) {
        return Reply::ok(std::vector<std::string>{"reboot", "uptime"});
    });
    dispatcher.add("execute", [](const Call& call) {
        if (call.args.empty()) throw std::runtime_error("execute needs a command");
        auto input = call.kw.find("input");
        std::string echoed = call.args.front();
        if (input != call.kw.end()) echoed += input->second.value;
        return Reply::ok(echoed);
    });
    return dispatcher;
}

bool isAscii(std::string_view text) {
    for (char c : text) {
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    }
    return true;
}

void checkBody(const corral::agent::Dispatcher& dispatcher, std::string_view body) {
    // Whatever the request, exactly one well-formed ASCII reply goes back.
    auto answer = dispatcher.handle(body);
    FUZZ_CHECK(isAscii(answer));
    std::string problem;
    auto reply = corral::agent::parseReply(answer, problem);
    FUZZ_CHECK(reply.has_value());

    // Read as a reply from the guest: either parsed or a problem that says why not.
    problem.clear();
    auto parsed = corral::agent::parseReply(body, problem);
    FUZZ_CHECK(parsed.has_value() || !problem.empty());
    if (parsed) {
        // Re-encoding what we accepted gives a reply we accept again.
        auto again = corral::agent::encodeReply(*parsed);
        FUZZ_CHECK(isAscii(again));
        FUZZ_CHECK(corral::agent::parseReply(again, problem).has_value());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto dispatcher = makeDispatcher();
    if (size == 0) return 0;
    std::size_t chunk = data[0] % 33;
    std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
    if (chunk == 0) {
        chunk = stream.size() + 1;
        checkBody(dispatcher, stream);
    }

    FrameDecoder decoder(kFuzzMaxMessage);
    std::size_t messageBytes = 0;
    bool broken = false;
    for (std::size_t offset = 0; offset < stream.size(); offset += chunk) {
        decoder.feed(stream.substr(offset, chunk));
        while (auto event = decoder.next()) {
            FUZZ_CHECK(!broken);  // nothing comes out after Broken
            switch (event->kind) {
                case FrameDecoder::Event::Kind::Message:
                    FUZZ_CHECK(event->body.size() <= kFuzzMaxMessage);
                    messageBytes += event->body.size();
                    checkBody(dispatcher, event->body);
                    // A message we decoded frames back to bytes that decode to the same body.
                    {
                        FrameDecoder echo(kFuzzMaxMessage);
                        echo.feed(corral::agent::encodeFrame(event->body));
                        auto same = echo.next();
                        FUZZ_CHECK(same && same->body == event->body);
                    }
                    break;
                case FrameDecoder::Event::Kind::Oversized:
                    FUZZ_CHECK(!event->error.empty());
                    break;
                case FrameDecoder::Event::Kind::Broken:
                    FUZZ_CHECK(!event->error.empty());
                    broken = true;
                    break;
            }
        }
    }
    // The decoder never produces more body bytes than it was given.
    FUZZ_CHECK(messageBytes <= stream.size());
    decoder.reset();
    FUZZ_CHECK(!decoder.midMessage());
    return 0;
}
