#include "supervisor/ctl_run.hpp"

#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include <cstdio>

#include "supervisor/enum_names.hpp"

namespace corral::supervisor::ctl {
namespace {

constexpr const char* kBusName = "org.corral1";
constexpr std::uint64_t kStartTimeoutUsec = 300'000'000;

std::string text(const Properties& props, const char* key) {
    auto it = props.find(key);
    if (it == props.end()) return "";
    if (const auto* s = std::get_if<std::string>(&it->second)) return *s;
    if (const auto* n = std::get_if<std::uint64_t>(&it->second)) return std::to_string(*n);
    return "";
}

// The State property, parsed with corrald's own table; nullopt for a state this corralctl does
// not know (a newer corrald), which is followed like any passing state.
std::optional<State> stateOf(const Properties& props) {
    return parseState(text(props, "State"));
}

bool ended(std::optional<State> state) {
    return state == State::Stopped || state == State::Crashed;
}

// Set by the match callbacks; the loop re-reads the properties whenever something changed.
struct Watch {
    bool changed = false;
    bool ownerGone = false;
};

int onChange(sd_bus_message*, void* userdata, sd_bus_error*) {
    static_cast<Watch*>(userdata)->changed = true;
    return 0;
}

int onOwner(sd_bus_message* m, void* userdata, sd_bus_error*) {
    const char *name = nullptr, *oldOwner = nullptr, *newOwner = nullptr;
    if (sd_bus_message_read(m, "sss", &name, &oldOwner, &newOwner) < 0) return 0;
    auto* watch = static_cast<Watch*>(userdata);
    watch->ownerGone = newOwner == nullptr || *newOwner == '\0';
    watch->changed = true;
    return 0;
}

void addMatches(sd_bus* bus, const std::string& path, Watch& watch) {
    std::string props = "type='signal',sender='" + std::string(kBusName) +
                        "',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                        "path='" +
                        path + "',arg0='org.corral1.Instance'";
    std::string owner =
        "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
        "member='NameOwnerChanged',arg0='" +
        std::string(kBusName) + "'";
    if (sd_bus_add_match(bus, nullptr, props.c_str(), onChange, &watch) < 0 ||
        sd_bus_add_match(bus, nullptr, owner.c_str(), onOwner, &watch) < 0) {
        throw CtlError(kFailed, "cannot subscribe to the state changes of " + path);
    }
}

// A restarted corrald may own its name a moment before it has published the instance again.
Properties reread(Client& client, const std::string& name) {
    for (int attempt = 0;; ++attempt) {
        try {
            return client.properties(name);
        } catch (const CtlError&) {
            if (attempt == 50) throw;
            sd_bus_wait(client.bus(), 200'000);
            sd_bus_process(client.bus(), nullptr);
        }
    }
}

}  // namespace

int runInstance(Client& client, const std::string& name) {
    Watch watch;
    addMatches(client.bus(), client.instancePath(name), watch);

    auto props = client.properties(name);
    if (stateOf(props) == State::Invalid) {
        std::fprintf(stderr, "%s: invalid definition: %s\n", name.c_str(),
                     text(props, "LastExit").c_str());
        return kFailed;
    }
    if (ended(stateOf(props))) {
        std::printf("%s: starting\n", name.c_str());
        std::fflush(stdout);
        client.callInstance(name, "Start", kStartTimeoutUsec);
        props = client.properties(name);
    } else {
        std::printf("%s: already %s (pid %s), following it\n", name.c_str(),
                    text(props, "State").c_str(), text(props, "Pid").c_str());
    }

    bool ready = false;
    bool announced = false;  // STATUS= already tells systemd the current state
    std::string last;
    while (true) {
        std::string state = text(props, "State");
        auto parsed = parseState(state);
        if (state != last) {
            std::printf(
                "%s: %s%s\n", name.c_str(), state.c_str(),
                parsed == State::Running ? (" (pid " + text(props, "Pid") + ")").c_str() : "");
            std::fflush(stdout);
            announced = false;
            last = state;
        }
        if ((parsed == State::Running || parsed == State::Paused) && !announced) {
            sd_notifyf(0, "%sSTATUS=%s %s, pid %s", ready ? "" : "READY=1\n", name.c_str(),
                       state.c_str(), text(props, "Pid").c_str());
            ready = announced = true;
        }
        if (ended(parsed)) {
            std::printf("%s: ended: %s\n", name.c_str(), text(props, "LastExit").c_str());
            return parsed == State::Stopped ? kOk : kFailed;
        }
        watch.changed = false;
        while (!watch.changed) {
            int r = sd_bus_process(client.bus(), nullptr);
            if (r < 0) throw CtlError(kUnreachable, "lost the bus connection");
            if (r == 0 && sd_bus_wait(client.bus(), UINT64_MAX) < 0)
                throw CtlError(kUnreachable, "lost the bus connection");
        }
        if (watch.ownerGone) {
            std::printf("%s: corrald left the bus; the VM keeps running, waiting for it\n",
                        name.c_str());
            std::fflush(stdout);
            sd_notify(0, "STATUS=waiting for corrald");
            announced = false;
            continue;
        }
        props = reread(client, name);
    }
}

}  // namespace corral::supervisor::ctl
