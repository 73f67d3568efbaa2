#include "agent/host/bus_client.hpp"

#include <systemd/sd-bus.h>

#include <cstdio>
#include <cstring>
#include <regex>

#include "agent/cli_support.hpp"

namespace corral::agent {

namespace {

constexpr const char* kService = "org.corral1";
constexpr const char* kInstanceInterface = "org.corral1.Instance";
// Slack over the guest call's own timeout so that corrald, not D-Bus, reports a timeout.
constexpr std::uint64_t kBusSlackUsec = 5'000'000;
// A zero timeout means none, as with the original; corrald takes 0 for its own default, so
// "none" is sent as the longest timeout the original could have had.
constexpr std::uint64_t kNoLimitUsec = static_cast<std::uint64_t>(kMaxTimeoutSeconds) * 1'000'000;

int fail(const std::string& message) {
    std::fprintf(stderr, "negotiator-host: %s\n", message.c_str());
    return 1;
}

std::string describe(const sd_bus_error& error, int r) {
    if (sd_bus_error_is_set(&error)) return std::string(error.name) + ": " + error.message;
    return std::strerror(-r);
}

}  // namespace

BusClient::BusClient(const std::string& address) {
    int r = 0;
    if (address.empty()) {
        r = sd_bus_open_system(&bus_);
    } else {
        r = sd_bus_new(&bus_);
        if (r >= 0) r = sd_bus_set_address(bus_, address.c_str());
        if (r >= 0) r = sd_bus_set_bus_client(bus_, 1);
        if (r >= 0) r = sd_bus_start(bus_);
    }
    if (r < 0) {
        error_ = "cannot connect to D-Bus" + (address.empty() ? "" : " at " + address) + ": " +
                 std::strerror(-r);
        bus_ = sd_bus_unref(bus_);
    }
}

BusClient::~BusClient() {
    sd_bus_flush_close_unref(bus_);
}

std::string BusClient::instancePath(const std::string& guest) {
    static const std::regex kName("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}");
    if (!std::regex_match(guest, kName)) {
        error_ = "invalid guest name '" + guest + "'";
        return {};
    }
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(bus_, kService, "/org/corral1", "org.corral1.Manager", "GetInstance",
                               &error, &reply, "s", guest.c_str());
    std::string path;
    const char* p = nullptr;
    if (r >= 0 && sd_bus_message_read(reply, "o", &p) >= 0) {
        path = p;
    } else {
        error_ = "guest '" + guest + "': " + describe(error, r);
    }
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
    return path;
}

int BusClient::listGuests() {
    if (!bus_) return fail(error_);
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(bus_, kService, "/org/corral1", "org.corral1.Manager",
                               "ListInstances", &error, &reply, "");
    if (r < 0) {
        auto message = "ListInstances: " + describe(error, r);
        sd_bus_error_free(&error);
        return fail(message);
    }
    r = sd_bus_message_enter_container(reply, 'a', "(ssuo)");
    const char *name = nullptr, *state = nullptr, *path = nullptr;
    std::uint32_t pid = 0;
    std::vector<std::string> running;
    while (r >= 0 && sd_bus_message_read(reply, "(ssuo)", &name, &state, &pid, &path) > 0) {
        if (std::strcmp(state, "running") == 0) running.emplace_back(name);
    }
    sd_bus_message_unref(reply);
    std::fputs(printableList(std::move(running)).c_str(), stdout);
    return 0;
}

int BusClient::listCommands(const std::string& guest) {
    if (!bus_) return fail(error_);
    auto path = instancePath(guest);
    if (path.empty()) return fail(error_);
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(bus_, kService, path.c_str(), kInstanceInterface,
                               "GuestListCommands", &error, &reply, "");
    char** names = nullptr;
    if (r >= 0) r = sd_bus_message_read_strv(reply, &names);
    auto message = describe(error, r);
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
    if (r < 0) return fail(guest + ": " + message);
    std::vector<std::string> list;
    for (char** n = names; n && *n; ++n) {
        list.emplace_back(*n);
        std::free(*n);
    }
    std::free(names);
    std::fputs(printableList(std::move(list)).c_str(), stdout);
    return 0;
}

int BusClient::execute(const std::string& guest, const std::vector<std::string>& argv,
                       std::chrono::milliseconds timeout) {
    if (!bus_) return fail(error_);
    auto path = instancePath(guest);
    if (path.empty()) return fail(error_);
    sd_bus_message* request = nullptr;
    int r = sd_bus_message_new_method_call(bus_, &request, kService, path.c_str(),
                                           kInstanceInterface, "GuestExecute");
    std::vector<char*> strv;
    for (const auto& a : argv) strv.push_back(const_cast<char*>(a.c_str()));
    strv.push_back(nullptr);
    auto usec =
        timeout.count() > 0 ? static_cast<std::uint64_t>(timeout.count()) * 1000 : kNoLimitUsec;
    if (r >= 0) r = sd_bus_message_append_strv(request, strv.data());
    if (r >= 0) r = sd_bus_message_append(request, "st", "", usec);
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    auto busUsec = usec + kBusSlackUsec;
    if (r >= 0) r = sd_bus_call(bus_, request, busUsec, &error, &reply);
    const char* output = nullptr;
    if (r >= 0) r = sd_bus_message_read(reply, "s", &output);
    int code = 0;
    if (r < 0) {
        code = fail(guest + ": " + describe(error, r));
    } else {
        std::fputs(printableOutput(output).c_str(), stdout);
    }
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
    sd_bus_message_unref(request);
    return code;
}

}  // namespace corral::agent
