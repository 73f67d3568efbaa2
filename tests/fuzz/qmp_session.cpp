// Fuzzes the QMP session with arbitrary bytes from a "QEMU": greeting, replies, events, garbage
// and split lines. The harness plays the client: it issues a few commands once the session is
// ready, sends their lines in pieces, and lets a fake clock run so that some of them time out.
//
// Input layout: byte 0 picks the chunk size the stream is fed in (1..64 bytes, or all at once),
// the rest is the stream.
#include "monitor/qmp_session.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string_view>
#include <variant>

namespace {

using corral::monitor::QmpSession;

constexpr std::size_t kMaxPendingCommands = 4;

// The fake clock: each chunk is one millisecond, so deadlines pass while the stream runs.
const corral::monitor::QmpTime kStart = corral::monitor::QmpTime() + std::chrono::hours(1);

struct Client {
    QmpSession session{[](std::string_view) {}};
    corral::monitor::QmpTime now = kStart;
    std::set<std::uint64_t> issued;
    std::set<std::uint64_t> ended;
    std::size_t executes = 0;

    // Writes at most `chunk` bytes of what the session queued, as a slow socket would, so that
    // lines wait in the queue and some calls end before or while theirs is sent.
    void send(std::size_t chunk) {
        auto write = session.nextWrite();
        if (!write) return;
        FUZZ_CHECK(!write->bytes.empty());
        // A call that ended before a byte of it left never reaches the wire.
        if (write->first && issued.contains(write->id)) FUZZ_CHECK(!ended.contains(write->id));
        session.commitWrite(std::min(chunk, write->bytes.size()));
    }

    // Issues what a real client would at this point of the conversation.
    void act() {
        while (session.state() == QmpSession::State::Ready && executes < kMaxPendingCommands) {
            rapidjson::Value none;
            // Some calls time out while the stream runs, some never do.
            auto timeout = std::chrono::milliseconds(executes % 2 ? 3 : 100000);
            auto id =
                session.execute(executes % 2 ? "query-status" : "device_del", none, now, timeout);
            FUZZ_CHECK(id.has_value());
            FUZZ_CHECK(issued.insert(*id).second);  // ids are never reused
            ++executes;
        }
    }

    // A call ends once, and only a call we issued.
    void end(const corral::monitor::QmpReply& reply) {
        FUZZ_CHECK(issued.contains(reply.id));
        FUZZ_CHECK(ended.insert(reply.id).second);
        if (!reply.result) FUZZ_CHECK(!reply.result.error().message.empty());
    }

    void check(const corral::monitor::QmpRecord& record) {
        if (const auto* reply = std::get_if<corral::monitor::QmpReply>(&record)) {
            end(*reply);
        } else if (const auto* event = std::get_if<corral::monitor::QmpEvent>(&record)) {
            FUZZ_CHECK(!event->name.empty());
        }
    }

    void tick() {
        now += std::chrono::milliseconds(1);
        for (const auto& reply : session.expire(now)) {
            FUZZ_CHECK(reply.result.error().kind == corral::Errc::Timeout);
            end(reply);
        }
        if (auto next = session.nextDeadline()) FUZZ_CHECK(*next > now);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::size_t chunk = data[0] % 65;
    std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
    if (chunk == 0) chunk = stream.size() + 1;

    Client client;
    client.session.limitHandshake(kStart, std::chrono::milliseconds(50));
    for (std::size_t offset = 0; offset < stream.size(); offset += chunk) {
        const bool wasFailed = client.session.state() == QmpSession::State::Failed;
        auto records = client.session.feed(stream.substr(offset, chunk));
        // A failed session reads nothing more; a failure is final and explained.
        if (wasFailed) FUZZ_CHECK(records.empty());
        if (client.session.state() == QmpSession::State::Failed) {
            FUZZ_CHECK(!client.session.failure().message.empty());
        }
        for (const auto& record : records) client.check(record);
        client.act();
        client.send(chunk);
        client.tick();
        FUZZ_CHECK(client.session.pendingCount() + client.ended.size() <= client.issued.size() + 1);
    }
    // Every call issued ends exactly once: answered, expired, or here.
    auto why = corral::makeError(corral::Errc::Disconnected, "QMP", "fuzz stream ended");
    for (const auto& reply : client.session.fail(why)) {
        FUZZ_CHECK(reply.result.error().kind == corral::Errc::Disconnected);
        client.end(reply);
    }
    FUZZ_CHECK(client.ended == client.issued);
    FUZZ_CHECK(client.session.state() == QmpSession::State::Failed);
    FUZZ_CHECK(!client.session.nextWrite().has_value());
    return 0;
}
