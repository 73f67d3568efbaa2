// Fuzzes the QMP session with arbitrary bytes from a "QEMU": greeting, replies, events, garbage
// and split lines. The harness plays the client: it negotiates once the greeting is in and keeps
// a few commands pending so that replies have ids to be routed to.
//
// Input layout: byte 0 picks the chunk size the stream is fed in (1..64 bytes, or all at once),
// the rest is the stream.
#include "monitor/qmp_session.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <set>
#include <string_view>
#include <variant>

namespace {

using corral::monitor::QmpSession;

constexpr std::size_t kMaxPendingCommands = 4;

struct Client {
    QmpSession session{[](std::string_view) {}};
    bool negotiated = false;
    std::set<std::uint64_t> issued;
    std::set<std::uint64_t> answered;
    std::size_t executes = 0;

    // Issues what a real client would at this point of the conversation.
    void act() {
        if (session.state() == QmpSession::State::Negotiating && !negotiated) {
            auto line = session.negotiate();
            FUZZ_CHECK(line.has_value());
            FUZZ_CHECK(line->line.ends_with("\r\n"));
            issued.insert(line->id);
            negotiated = true;
        }
        while (session.state() == QmpSession::State::Ready && executes < kMaxPendingCommands) {
            rapidjson::Value none;
            auto line = session.execute(executes % 2 ? "query-status" : "device_del", none);
            FUZZ_CHECK(line.has_value());
            FUZZ_CHECK(issued.insert(line->id).second);  // ids are never reused
            if (++executes == 2) session.abandon(line->id);
        }
    }

    void check(const corral::monitor::QmpRecord& record) {
        if (const auto* reply = std::get_if<corral::monitor::QmpReply>(&record)) {
            // A reply routed to us carries an id we issued, once.
            FUZZ_CHECK(issued.contains(reply->id));
            FUZZ_CHECK(answered.insert(reply->id).second);
            if (!reply->result) FUZZ_CHECK(!reply->result.error().message.empty());
        } else if (const auto* event = std::get_if<corral::monitor::QmpEvent>(&record)) {
            FUZZ_CHECK(!event->name.empty());
        }
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::size_t chunk = data[0] % 65;
    std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
    if (chunk == 0) chunk = stream.size() + 1;

    Client client;
    bool failed = false;
    for (std::size_t offset = 0; offset < stream.size(); offset += chunk) {
        auto records = client.session.feed(stream.substr(offset, chunk));
        if (!records) {
            // A protocol error is final and explained.
            failed = true;
            FUZZ_CHECK(client.session.state() == QmpSession::State::Failed);
            FUZZ_CHECK(!client.session.failure().empty());
            FUZZ_CHECK(!records.error().message.empty());
            continue;
        }
        FUZZ_CHECK(!failed);
        for (const auto& record : *records) client.check(record);
        client.act();
        FUZZ_CHECK(client.session.pendingCount() <= client.issued.size());
    }
    auto pending = client.session.fail();
    for (auto id : pending) FUZZ_CHECK(client.issued.contains(id) && !client.answered.contains(id));
    FUZZ_CHECK(client.session.state() == QmpSession::State::Failed);
    return 0;
}
