#include "supervisor/qmp_link.hpp"

#include "monitor/json.hpp"
#include "monitor/qmp_client.hpp"

namespace corral::supervisor {

struct QmpLink::Subscription {
    monitor::Subscription handle;
};

QmpLink::QmpLink(boost::asio::any_io_executor executor, std::chrono::milliseconds timeout)
    : client_(monitor::QmpClient::create(std::move(executor))), timeout_(timeout) {}

QmpLink::~QmpLink() {
    subscription_.reset();
    client_->close();
}

boost::asio::awaitable<Status> QmpLink::connect(std::string socket,
                                                std::chrono::milliseconds window) {
    // Arguments are named before co_await: g++ 12 may destroy temporaries in it twice.
    auto result = co_await client_->connect(std::move(socket), window);
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    co_return okStatus();
}

boost::asio::awaitable<Status> QmpLink::command(std::string name) {
    monitor::Json none;
    std::vector<int> noFds;
    auto result =
        co_await client_->execute(std::move(name), std::move(none), timeout_, std::move(noFds));
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    co_return okStatus();
}

boost::asio::awaitable<Outcome<RunStatus>> QmpLink::queryStatus() {
    std::string command = "query-status";
    monitor::Json none;
    std::vector<int> noFds;
    auto result =
        co_await client_->execute(std::move(command), std::move(none), timeout_, std::move(noFds));
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    const auto& value = *result;
    if (!value.IsObject() || !value.HasMember("running") || !value["running"].IsBool())
        co_return OpError{ErrorKind::Failed, "query-status: reply without 'running'"};
    RunStatus status{value["running"].GetBool(), {}};
    if (value.HasMember("status") && value["status"].IsString())
        status.status = value["status"].GetString();
    co_return status;
}

boost::asio::awaitable<Outcome<std::string>> QmpLink::passthrough(std::string json) {
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
        co_await client_->execute(std::move(command), std::move(args), timeout_, std::move(noFds));
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    co_return monitor::toJsonString(*result);
}

void QmpLink::onNotice(std::function<void(const QmpNotice&)> handler) {
    subscription_ = std::make_unique<Subscription>();
    subscription_->handle =
        client_->subscribe([handler = std::move(handler)](const monitor::QmpEvent& event) {
            if (event.name == "SHUTDOWN") {
                bool guest = event.data.IsObject() && event.data.HasMember("guest") &&
                             event.data["guest"].IsBool() && event.data["guest"].GetBool();
                handler({QmpNotice::Kind::Shutdown, guest});
            } else if (event.name == "STOP") {
                handler({QmpNotice::Kind::Stop, false});
            } else if (event.name == "RESUME") {
                handler({QmpNotice::Kind::Resume, false});
            }
        });
}

void QmpLink::onDisconnect(std::function<void()> handler) {
    client_->onDisconnect([handler = std::move(handler)](const monitor::Error&) { handler(); });
}

bool QmpLink::connected() const {
    return client_->connected();
}

void QmpLink::close() {
    subscription_.reset();
    client_->close();
}

}  // namespace corral::supervisor
