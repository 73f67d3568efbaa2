#include "supervisor/qmp_link.hpp"

#include "monitor/json.hpp"
#include "monitor/qmp_client.hpp"

namespace corral::supervisor {

std::optional<QmpNotice> qmpNoticeOf(const monitor::QmpEvent& event) {
    if (event.name == "SHUTDOWN") {
        bool guest = event.data.IsObject() && event.data.HasMember("guest") &&
                     event.data["guest"].IsBool() && event.data["guest"].GetBool();
        bool quit = event.data.IsObject() && event.data.HasMember("reason") &&
                    event.data["reason"].IsString() &&
                    std::string_view(event.data["reason"].GetString()) == "host-qmp-quit";
        return QmpNotice{QmpNotice::Kind::Shutdown, guest, quit};
    }
    if (event.name == "STOP") return QmpNotice{QmpNotice::Kind::Stop, false};
    if (event.name == "RESUME") return QmpNotice{QmpNotice::Kind::Resume, false};
    if (event.name == "MIGRATION" && event.data.IsObject() && event.data.HasMember("status") &&
        event.data["status"].IsString()) {
        return QmpNotice{QmpNotice::Kind::Migration, false, false,
                         event.data["status"].GetString()};
    }
    if (event.name == "BLOCK_JOB_READY" || event.name == "BLOCK_JOB_COMPLETED" ||
        event.name == "BLOCK_JOB_CANCELLED" || event.name == "BLOCK_JOB_ERROR")
        return QmpNotice{QmpNotice::Kind::BlockJob, false, false, event.name};
    return std::nullopt;
}

namespace {

class ClientLink final : public QmpLink {
  public:
    ClientLink(boost::asio::any_io_executor executor, std::chrono::milliseconds timeout)
        : client_(monitor::QmpClient::create(std::move(executor))), timeout_(timeout) {
        // Both handlers die with the link: the subscription with it, and the disconnect handler
        // is never called after close(), which the destructor does.
        subscription_ = client_->subscribe([this](const monitor::QmpEvent& event) {
            if (auto notice = qmpNoticeOf(event)) notices.emit(*notice);
        });
        client_->onDisconnect([this](const monitor::Error&) { disconnected.emit(); });
    }
    ~ClientLink() override { close(); }

    boost::asio::awaitable<Status> connect(std::string socket,
                                           std::chrono::milliseconds window) override;
    boost::asio::awaitable<Status> command(std::string name) override;
    boost::asio::awaitable<Outcome<RunStatus>> queryStatus() override;
    boost::asio::awaitable<Outcome<std::string>> passthrough(std::string json) override;
    bool connected() const override { return client_->connected(); }
    pid_t peerPid() const override { return client_->peerPid(); }
    void close() override {
        subscription_.reset();
        client_->close();
    }

    const std::shared_ptr<monitor::QmpClient>& client() const { return client_; }

  private:
    std::shared_ptr<monitor::QmpClient> client_;
    std::chrono::milliseconds timeout_;
    monitor::Subscription subscription_;
};

// Every call copies what it needs before it suspends (QmpLink's promise).
boost::asio::awaitable<Status> ClientLink::connect(std::string socket,
                                                   std::chrono::milliseconds window) {
    auto client = client_;
    // Arguments are named before co_await: g++ 12 may destroy temporaries in it twice.
    auto result = co_await client->connect(std::move(socket), window);
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    co_return okStatus();
}

boost::asio::awaitable<Status> ClientLink::command(std::string name) {
    auto client = client_;
    monitor::Json none;
    std::vector<int> noFds;
    auto result =
        co_await client->execute(std::move(name), std::move(none), timeout_, std::move(noFds));
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    co_return okStatus();
}

boost::asio::awaitable<Outcome<RunStatus>> ClientLink::queryStatus() {
    auto client = client_;
    std::string command = "query-status";
    monitor::Json none;
    std::vector<int> noFds;
    auto result =
        co_await client->execute(std::move(command), std::move(none), timeout_, std::move(noFds));
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    const auto& value = *result;
    if (!value.IsObject() || !value.HasMember("running") || !value["running"].IsBool())
        co_return OpError{ErrorKind::Failed, "query-status: reply without 'running'"};
    RunStatus status{value["running"].GetBool(), {}};
    if (value.HasMember("status") && value["status"].IsString())
        status.status = value["status"].GetString();
    co_return status;
}

boost::asio::awaitable<Outcome<std::string>> ClientLink::passthrough(std::string json) {
    auto client = client_;
    auto parsed = monitor::parseJson(json);
    if (!parsed)
        co_return OpError{ErrorKind::InvalidArgument,
                          "Monitor: not JSON: " + parsed.error().message};
    const auto& doc = *parsed;
    if (!doc.IsObject() || !doc.HasMember("execute") || !doc["execute"].IsString())
        co_return OpError{ErrorKind::InvalidArgument,
                          "Monitor: expected {\"execute\": \"<command>\", \"arguments\": {...}}."};
    std::string command = doc["execute"].GetString();
    if (command == "qmp_capabilities")
        co_return OpError{ErrorKind::InvalidArgument,
                          "Monitor: the session is already negotiated by corrald."};
    monitor::Json args;
    if (doc.HasMember("arguments")) args = monitor::copyJson(doc["arguments"]);
    std::vector<int> noFds;
    auto result =
        co_await client->execute(std::move(command), std::move(args), timeout_, std::move(noFds));
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    co_return monitor::toJsonString(*result);
}

}  // namespace

std::string qmpCommandJson(std::string_view command,
                           const std::vector<std::pair<std::string_view, std::string_view>>& args) {
    monitor::JsonObject arguments;
    for (const auto& [key, value] : args) arguments.set(key, value);
    return monitor::toJsonString(
        monitor::JsonObject().set("execute", command).set("arguments", arguments).json());
}

std::shared_ptr<QmpLink> makeQmpLink(boost::asio::any_io_executor executor,
                                     std::chrono::milliseconds timeout) {
    return std::make_shared<ClientLink>(std::move(executor), timeout);
}

namespace {

std::uint64_t counter(const rapidjson::Value& object, const char* key) {
    if (!object.HasMember(key) || !object[key].IsUint64()) return 0;
    return object[key].GetUint64();
}

std::string text(const rapidjson::Value& object, const char* key) {
    if (!object.HasMember(key) || !object[key].IsString()) return {};
    return object[key].GetString();
}

Outcome<monitor::Json> parseArray(std::string_view json, const char* command) {
    auto parsed = monitor::parseJson(json);
    if (!parsed || !parsed->IsArray())
        return OpError{ErrorKind::Failed, std::string(command) + ": reply is not a JSON array"};
    return std::move(*parsed);
}

}  // namespace

Outcome<std::vector<VcpuThread>> parseVcpuThreads(std::string_view json) {
    auto doc = parseArray(json, "query-cpus-fast");
    if (!doc) return doc.error();
    std::vector<VcpuThread> out;
    for (const auto& cpu : doc.value().GetArray()) {
        if (!cpu.IsObject() || !cpu.HasMember("cpu-index") || !cpu["cpu-index"].IsUint() ||
            !cpu.HasMember("thread-id") || !cpu["thread-id"].IsInt())
            continue;
        out.push_back({cpu["cpu-index"].GetUint(), cpu["thread-id"].GetInt()});
    }
    return out;
}

Outcome<std::vector<DiskSample>> parseBlockStats(std::string_view json) {
    auto doc = parseArray(json, "query-blockstats");
    if (!doc) return doc.error();
    std::vector<DiskSample> out;
    for (const auto& entry : doc.value().GetArray()) {
        if (!entry.IsObject() || !entry.HasMember("stats") || !entry["stats"].IsObject()) continue;
        DiskSample disk;
        disk.device = deviceIdOfQdev(text(entry, "qdev"));
        if (disk.device.empty()) disk.device = text(entry, "device");
        if (disk.device.empty()) disk.device = text(entry, "node-name");
        if (disk.device.empty()) continue;
        const auto& stats = entry["stats"];
        disk.readBytes = counter(stats, "rd_bytes");
        disk.writtenBytes = counter(stats, "wr_bytes");
        disk.readOps = counter(stats, "rd_operations");
        disk.writeOps = counter(stats, "wr_operations");
        disk.readTimeNs = counter(stats, "rd_total_time_ns");
        disk.writeTimeNs = counter(stats, "wr_total_time_ns");
        out.push_back(std::move(disk));
    }
    return out;
}

Outcome<MigrationQuery> parseMigrationQuery(std::string_view json) {
    auto parsed = monitor::parseJson(json);
    if (!parsed || !parsed->IsObject())
        return OpError{ErrorKind::Failed, "query-migrate: reply is not a JSON object"};
    const auto& doc = *parsed;
    MigrationQuery out;
    out.status = text(doc, "status");
    if (out.status.empty()) out.status = "none";
    out.error = text(doc, "error-desc");
    auto& p = out.progress;
    p.expectedDowntimeMs = counter(doc, "expected-downtime");
    p.downtimeMs = counter(doc, "downtime");
    p.totalTimeMs = counter(doc, "total-time");
    if (doc.HasMember("ram") && doc["ram"].IsObject()) {
        const auto& ram = doc["ram"];
        p.transferred = counter(ram, "transferred");
        p.remaining = counter(ram, "remaining");
        p.total = counter(ram, "total");
        auto pageSize = counter(ram, "page-size");
        p.dirtyRate = counter(ram, "dirty-pages-rate") * (pageSize ? pageSize : 4096);
        out.dirtySyncCount = counter(ram, "dirty-sync-count");
    }
    return out;
}

std::shared_ptr<monitor::QmpClient> qmpClientOf(QmpLink& link) {
    auto* real = dynamic_cast<ClientLink*>(&link);
    return real ? real->client() : nullptr;
}

}  // namespace corral::supervisor
