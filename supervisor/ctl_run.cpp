#include "supervisor/ctl_run.hpp"

#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include <toml++/toml.h>

#include <cerrno>
#include <csignal>
#include <cstdio>

#include "supervisor/enum_names.hpp"

namespace corral::supervisor::ctl {
namespace {

constexpr const char* kBusName = "org.corral1";
constexpr std::uint64_t kStartTimeoutUsec = 300'000'000;
// The VM's own shutdown_timeout bounds its Shutdown; this only bounds waiting for the answer.
constexpr std::uint64_t kShutdownReplyUsec = 3'700'000'000;
// How long one wait for a bus event may last before the stop request flag is looked at again.
constexpr std::uint64_t kWaitSliceUsec = 1'000'000;

volatile std::sig_atomic_t stopRequested = 0;

void onStopSignal(int) {
    stopRequested = 1;
}

// SIGTERM (systemctl kill corral@NAME, or systemd's stop after ExecStop=) and SIGINT: shut the
// VM down and follow it until it has stopped, instead of leaving it running unfollowed.
void catchStopSignals() {
    struct sigaction action {};
    action.sa_handler = onStopSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: the wait returns at once
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
}

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

// GetInstance of a name corrald does not know: a definition file written since the last
// Reload is picked up by one Reload (the unit runs as root), then asked for again.
std::string pathOrReload(Client& client, const std::string& name) {
    try {
        return client.instancePath(name);
    } catch (const CtlError& e) {
        if (e.exit != kNoSuchInstance) throw;
    }
    std::printf("%s: not known to corrald yet; reloading the instances directory\n", name.c_str());
    std::fflush(stdout);
    client.reload();
    return client.instancePath(name);
}

// A crash that corrald answers with a restart ([lifecycle] on_crash = "restart", within its
// restart limit): the unit stays active and goes on following the VM.
bool restartFollows(Client& client, const std::string& name, const Properties& props) {
    if (text(props, "LastExit").find("restart limit reached") != std::string::npos) return false;
    try {
        auto reply = client.callInstance(name, "GetDefinition", 0);
        const char* definition = "";
        if (sd_bus_message_read(reply.get(), "s", &definition) < 0) return false;
        auto root = toml::parse(definition);
        return root["lifecycle"]["on_crash"].value_or(std::string("stop")) == "restart";
    } catch (const std::exception&) {
        return false;
    }
}

void shutdownOnRequest(Client& client, const std::string& name) {
    std::printf("%s: asked to stop, shutting the VM down\n", name.c_str());
    std::fflush(stdout);
    sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
    try {
        client.callInstance(name, "Shutdown", kShutdownReplyUsec,
                            [](sd_bus_message* m) { return sd_bus_message_append(m, "t", 0); });
    } catch (const CtlError& e) {
        std::printf("%s: shutdown: %s\n", name.c_str(), e.what());
        std::fflush(stdout);
    }
}

}  // namespace

int runInstance(Client& client, const std::string& name) {
    catchStopSignals();
    Watch watch;
    addMatches(client.bus(), pathOrReload(client, name), watch);

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
        if (parsed == State::Crashed && !stopRequested && restartFollows(client, name, props)) {
            std::printf("%s: crashed (%s); corrald restarts it (on_crash = restart), following\n",
                        name.c_str(), text(props, "LastExit").c_str());
            std::fflush(stdout);
            sd_notifyf(0, "STATUS=%s crashed, restart pending", name.c_str());
        } else if (ended(parsed)) {
            std::printf("%s: ended: %s\n", name.c_str(), text(props, "LastExit").c_str());
            return parsed == State::Stopped ? kOk : kFailed;
        }
        if (stopRequested == 1) {
            stopRequested = 2;
            shutdownOnRequest(client, name);
            props = reread(client, name);
            continue;
        }
        watch.changed = false;
        while (!watch.changed && stopRequested != 1) {
            int r = sd_bus_process(client.bus(), nullptr);
            if (r < 0) throw CtlError(kUnreachable, "lost the bus connection");
            if (r > 0) continue;
            r = sd_bus_wait(client.bus(), kWaitSliceUsec);
            if (r < 0 && r != -EINTR) throw CtlError(kUnreachable, "lost the bus connection");
        }
        if (stopRequested == 1) {
            props = reread(client, name);
            continue;
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
