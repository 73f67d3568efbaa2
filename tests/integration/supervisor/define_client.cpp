#include "tests/integration/supervisor/define_client.hpp"

#include <cstring>
#include <stdexcept>

namespace corral::test {

namespace {

std::string instancePath(const std::string& name) {
    return "/org/corral1/instance/" + name;  // test names need no escaping
}

int appendOptions(sd_bus_message* m, const TestOptions& options) {
    int r = sd_bus_message_open_container(m, 'a', "{sv}");
    for (auto it = options.begin(); r >= 0 && it != options.end(); ++it) {
        const char* key = it->first.c_str();
        if (it->second == 'b')
            r = sd_bus_message_append(m, "{sv}", key, "b", 1);
        else if (it->second == 's')
            r = sd_bus_message_append(m, "{sv}", key, "s", "true");
        else
            r = sd_bus_message_append(m, "{sv}", key, "u", 1u);
    }
    return r < 0 ? r : sd_bus_message_close_container(m);
}

int onSignal(sd_bus_message* m, void* userdata, sd_bus_error*) {
    const char* name = "";
    const char* path = "";
    if (sd_bus_message_read(m, "so", &name, &path) < 0) return 0;
    static_cast<std::vector<std::string>*>(userdata)->push_back(
        std::string(sd_bus_message_get_member(m)) + " " + name + " " + path);
    return 0;
}

int onPropertiesChanged(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto& out = *static_cast<std::vector<std::string>*>(userdata);
    const char* interface = "";
    if (sd_bus_message_read(m, "s", &interface) < 0) return 0;
    if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0) return 0;
    while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
        const char* key = "";
        if (sd_bus_message_read(m, "s", &key) < 0 || sd_bus_message_skip(m, "v") < 0) return 0;
        out.push_back(std::string("PropertiesChanged ") + key);
        if (sd_bus_message_exit_container(m) < 0) return 0;
    }
    return 0;
}

}  // namespace

DefineClient::DefineClient(const std::string& address) {
    int r = sd_bus_new(&bus_);
    if (r >= 0) r = sd_bus_set_address(bus_, address.c_str());
    if (r >= 0) r = sd_bus_set_bus_client(bus_, 1);
    if (r >= 0) r = sd_bus_start(bus_);
    if (r < 0) {
        bus_ = sd_bus_unref(bus_);
        throw std::runtime_error(std::string("cannot connect to the test bus: ") + strerror(-r));
    }
}

DefineClient::~DefineClient() {
    sd_bus_slot_unref(match_);
    sd_bus_slot_unref(propertiesMatch_);
    sd_bus_flush_close_unref(bus_);
}

BusResult DefineClient::call(const std::string& path, const char* interface, const char* method,
                             const std::string& signature, const std::vector<std::string>& strings,
                             const TestOptions* options, char reply) {
    BusResult result;
    sd_bus_message* m = nullptr;
    int r =
        sd_bus_message_new_method_call(bus_, &m, "org.corral1", path.c_str(), interface, method);
    for (std::size_t i = 0; r >= 0 && i < strings.size(); ++i)
        r = sd_bus_message_append_basic(m, signature[i], strings[i].c_str());
    if (r >= 0 && options) r = appendOptions(m, *options);
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* answer = nullptr;
    if (r >= 0) r = sd_bus_call(bus_, m, 30'000'000, &error, &answer);
    if (r < 0) {
        result.error = error.name ? error.name : "errno";
        result.message = error.message ? error.message : strerror(-r);
    } else if (reply == 's' || reply == 'o') {
        const char* text = "";
        if (sd_bus_message_read_basic(answer, reply, &text) >= 0) result.text = text;
    } else if (reply == 'a') {
        char** list = nullptr;
        if (sd_bus_message_read_strv(answer, &list) >= 0) {
            for (char** s = list; s && *s; ++s) {
                result.strings.emplace_back(*s);
                free(*s);
            }
            free(list);
        }
    }
    sd_bus_error_free(&error);
    sd_bus_message_unref(answer);
    sd_bus_message_unref(m);
    return result;
}

BusResult DefineClient::define(const std::string& name, const std::string& toml,
                               const TestOptions& options) {
    return call("/org/corral1", "org.corral1.Manager", "Define", "ss", {name, toml}, &options, 'o');
}

BusResult DefineClient::update(const std::string& name, const std::string& toml) {
    return call(instancePath(name), "org.corral1.Instance", "Update", "s", {toml}, nullptr, 'a');
}

BusResult DefineClient::undefine(const std::string& name, const TestOptions& options) {
    return call(instancePath(name), "org.corral1.Instance", "Undefine", "", {}, &options, 'a');
}

BusResult DefineClient::getDefinition(const std::string& name) {
    return call(instancePath(name), "org.corral1.Instance", "GetDefinition", "", {}, nullptr, 's');
}

void DefineClient::watchManagerSignals() {
    int r = sd_bus_match_signal(bus_, &match_, "org.corral1", "/org/corral1", "org.corral1.Manager",
                                nullptr, onSignal, &signals_);
    if (r < 0) throw std::runtime_error(std::string("cannot add the match: ") + strerror(-r));
}

void DefineClient::watchProperties(const std::string& name) {
    int r = sd_bus_match_signal(bus_, &propertiesMatch_, "org.corral1", instancePath(name).c_str(),
                                "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                onPropertiesChanged, &signals_);
    if (r < 0) throw std::runtime_error(std::string("cannot add the match: ") + strerror(-r));
}

bool DefineClient::waitSignal(const std::string& signal, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        while (sd_bus_process(bus_, nullptr) > 0) {
        }
        for (const auto& s : signals_)
            if (s == signal) return true;
        auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::milliseconds(0)) return false;
        sd_bus_wait(bus_, std::chrono::duration_cast<std::chrono::microseconds>(left).count());
    }
}

bool DefineClient::sawSignal(const std::string& member) {
    while (sd_bus_process(bus_, nullptr) > 0) {
    }
    for (const auto& s : signals_)
        if (s.rfind(member + " ", 0) == 0) return true;
    return false;
}

}  // namespace corral::test
