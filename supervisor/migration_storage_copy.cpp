// Storage copy, the source side: the mirrors of a migration run, from the destination's
// exports attached to the mirrors ended in sync or abandoned.
#include "supervisor/migration_storage.hpp"

#include "monitor/json.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using monitor::JsonObject;

namespace {

// query-block-jobs at most 2/s while the mirrors catch up, like query-migrate.
constexpr auto kPoll = 500ms;
// How long the mirrors may take to end once asked (in sync, the vCPUs stopped: little to do).
constexpr auto kEndWindow = 60s;

OpError failed(std::string text) {
    return {ErrorKind::Failed, std::move(text)};
}

std::string command(const char* name, const JsonObject& arguments) {
    return monitor::toJsonString(
        JsonObject().set("execute", name).set("arguments", arguments).json());
}

}  // namespace

StorageCopy::StorageCopy(std::vector<hypervisor::Device> disks, Qmp qmp, const Lifetime& life)
    : disks_(std::move(disks)), qmp_(std::move(qmp)), life_(life) {}

asio::awaitable<Outcome<DiskSizes>> StorageCopy::measure() {
    auto reply =
        co_await qmp_(R"({"execute":"query-named-block-nodes","arguments":{"flat":true}})");
    if (!reply) co_return reply.error();
    std::vector<const hypervisor::Device*> disks;
    for (const auto& d : disks_) disks.push_back(&d);
    co_return parseVirtualSizes(reply.value(), disks);
}

asio::awaitable<Outcome<Unit>> StorageCopy::start(CopyUris uris,
                                                  std::optional<std::filesystem::path> tlsDir,
                                                  std::uint64_t speed, std::string preloadedCreds) {
    const bool tls = tlsDir.has_value();
    const std::string credsId = preloadedCreds.empty() ? kStorageTlsId : preloadedCreds;
    if (tls && preloadedCreds.empty()) {
        JsonObject del;
        del.set("id", kStorageTlsId);
        const auto stale_json = command("object-del", del);
        auto stale = co_await qmp_(stale_json);
        (void)stale;
        JsonObject creds;
        creds.set("qom-type", "tls-creds-x509")
            .set("id", kStorageTlsId)
            .set("dir", tlsDir->string())
            .set("endpoint", "client")
            .set("verify-peer", true);
        const auto add_json = command("object-add", creds);
        auto added = co_await qmp_(add_json);
        if (!added) co_return failed("TLS for the storage copy: " + added.error().message);
        tls_ = true;
    }
    for (const auto& disk : disks_) {
        const auto node_json = nbdClientAddJson(disk.id, uris, tls ? credsId.c_str() : nullptr);
        auto added = co_await qmp_(node_json);
        if (!added)
            co_return failed("cannot reach the destination's export of disk " + disk.id + ": " +
                             added.error().message);
        nodes_.push_back(mirrorTargetNode(disk.id));
        const auto mirror_json = mirrorStartJson(disk.id, speed);
        auto mirror = co_await qmp_(mirror_json);
        if (!mirror)
            co_return failed("cannot mirror disk " + disk.id + ": " + mirror.error().message);
        jobs_.push_back(mirrorJobId(disk.id));
    }
    co_return Unit{};
}

asio::awaitable<Outcome<Unit>> StorageCopy::waitReady(
    corral::Signal<>& wake, std::function<std::string()> stop,
    std::function<void(std::uint64_t, std::uint64_t)> progress) {
    while (true) {
        auto reply = co_await qmp_(R"({"execute":"query-block-jobs"})");
        auto jobs = reply ? parseMirrorJobs(reply.value()) : Outcome<MirrorJobs>(reply.error());
        if (!jobs) co_return jobs.error();
        progress(jobs.value().offset, jobs.value().length);
        if (!jobs.value().error.empty())
            co_return failed("the storage copy failed: " + jobs.value().error);
        if (jobs.value().count < jobs_.size())
            co_return failed("a storage copy job ended before it was in sync");
        if (jobs.value().ready == jobs_.size()) co_return Unit{};
        auto why = stop();
        if (!why.empty()) co_return failed(why);
        co_await life_.sleep(kPoll, wake);
    }
}

asio::awaitable<Outcome<Unit>> StorageCopy::endJobs(bool force) {
    for (const auto& job : jobs_) {
        JsonObject args;
        args.set("device", job).set("force", force);
        const auto json = command("block-job-cancel", args);
        auto cancel = co_await qmp_(json);
        if (!cancel && !force)
            co_return failed("block-job-cancel " + job + ": " + cancel.error().message);
    }
    // The jobs end by themselves (auto-dismiss) once the last data is on the target.
    auto deadline = std::chrono::steady_clock::now() + kEndWindow;
    while (!jobs_.empty()) {
        auto reply = co_await qmp_(R"({"execute":"query-block-jobs"})");
        auto jobs = reply ? parseMirrorJobs(reply.value()) : Outcome<MirrorJobs>(reply.error());
        if (!jobs) co_return jobs.error();
        if (jobs.value().count == 0) break;
        if (std::chrono::steady_clock::now() >= deadline)
            co_return failed("the storage copy jobs did not end within 60 s");
        co_await life_.sleep(50ms);
    }
    jobs_.clear();
    for (const auto& node : nodes_) {
        JsonObject del;
        del.set("node-name", node);
        const auto json = command("blockdev-del", del);
        auto removed = co_await qmp_(json);
        (void)removed;
    }
    nodes_.clear();
    if (tls_) {
        JsonObject del;
        del.set("id", kStorageTlsId);
        const auto json = command("object-del", del);
        auto removed = co_await qmp_(json);
        (void)removed;
        tls_ = false;
    }
    co_return Unit{};
}

asio::awaitable<Outcome<Unit>> StorageCopy::complete() {
    co_return co_await endJobs(false);
}

asio::awaitable<void> StorageCopy::abandon() {
    // What this qemu has of corral's mirrors, also those a previous corrald started.
    auto jobs = co_await qmp_(R"({"execute":"query-block-jobs"})");
    jobs_ = jobs ? namesWithPrefix(jobs.value(), "device", mirrorJobId("")) : jobs_;
    auto list = co_await qmp_(R"({"execute":"query-named-block-nodes","arguments":{"flat":true}})");
    nodes_ = list ? namesWithPrefix(list.value(), "node-name", mirrorTargetNode("")) : nodes_;
    tls_ = true;  // object-del of an object that is not there fails harmlessly
    auto ended = co_await endJobs(true);
    (void)ended;
}

}  // namespace corral::supervisor
