// corralctl migrate: Instance.Migrate called asynchronously, progress from the instance's
// PropertiesChanged (MigrationState, MigrationProgress) while it runs: a bar on a terminal,
// one line per change otherwise.
#include "supervisor/ctl_migrate.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

namespace corral::supervisor::ctl {

namespace {

using Clock = std::chrono::steady_clock;

std::optional<std::uint64_t> positive(const Args& a, Option option, const char* what) {
    const std::string* text = a.option(option);
    if (!text) return std::nullopt;
    std::uint64_t value = 0;
    std::size_t used = 0;
    try {
        value = std::stoull(*text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text->size() || value == 0 || text->front() == '-')
        throw CtlError(kUsage,
                       std::string(what) + " wants a positive whole number, got '" + *text + "'");
    return value;
}

struct Progress {
    std::string state;
    std::uint64_t transferred = 0, remaining = 0, total = 0;
    std::uint64_t storageTransferred = 0, storageTotal = 0;
    bool changed = false;
};

struct Watch {
    Progress progress;
    bool done = false;
    std::string error;
    std::string errorName;
};

int readProgress(sd_bus_message* m, Progress& p) {
    int r = sd_bus_message_enter_container(m, 'a', "{st}");
    if (r < 0) return r;
    while ((r = sd_bus_message_enter_container(m, 'e', "st")) > 0) {
        const char* key = nullptr;
        std::uint64_t value = 0;
        if ((r = sd_bus_message_read(m, "st", &key, &value)) < 0) return r;
        if (std::strcmp(key, "transferred") == 0) p.transferred = value;
        if (std::strcmp(key, "remaining") == 0) p.remaining = value;
        if (std::strcmp(key, "total") == 0) p.total = value;
        if (std::strcmp(key, "storage_transferred") == 0) p.storageTransferred = value;
        if (std::strcmp(key, "storage_total") == 0) p.storageTotal = value;
        if ((r = sd_bus_message_exit_container(m)) < 0) return r;
    }
    return r < 0 ? r : sd_bus_message_exit_container(m);
}

// PropertiesChanged(s interface, a{sv} changed, as invalidated) of the instance.
int onChanged(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto& watch = *static_cast<Watch*>(userdata);
    const char* interface = nullptr;
    if (sd_bus_message_read(m, "s", &interface) < 0) return 0;
    if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0) return 0;
    while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
        const char* name = nullptr;
        if (sd_bus_message_read(m, "s", &name) < 0) return 0;
        if (std::strcmp(name, "MigrationState") == 0) {
            const char* state = nullptr;
            if (sd_bus_message_read(m, "v", "s", &state) < 0) return 0;
            watch.progress.state = state;
            watch.progress.changed = true;
        } else if (std::strcmp(name, "MigrationProgress") == 0) {
            if (sd_bus_message_enter_container(m, 'v', "a{st}") < 0) return 0;
            if (readProgress(m, watch.progress) < 0) return 0;
            sd_bus_message_exit_container(m);
            watch.progress.changed = true;
        } else {
            sd_bus_message_skip(m, "v");
        }
        sd_bus_message_exit_container(m);
    }
    return 0;
}

int onReply(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto& watch = *static_cast<Watch*>(userdata);
    watch.done = true;
    if (const sd_bus_error* e = sd_bus_message_get_error(m)) {
        watch.errorName = e->name ? e->name : "";
        watch.error = e->message ? e->message : watch.errorName;
    }
    return 0;
}

std::string mib(std::uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", static_cast<double>(bytes) / (1 << 20));
    return text;
}

class Printer {
  public:
    explicit Printer(bool bar) : bar_(bar) {}
    void show(const std::string& name, const Progress& progress) {
        // The disks first (storage copy), then the RAM: each with its own figures and rate.
        Progress p = progress;
        if (p.state == "copying-storage") {
            p.transferred = p.storageTransferred;
            p.total = p.storageTotal;
            p.remaining = p.total > p.transferred ? p.total - p.transferred : 0;
        }
        if (p.state != lastState_) haveLast_ = false;
        lastState_ = p.state;
        auto now = Clock::now();
        double rate = 0;
        if (haveLast_) {
            double seconds = std::chrono::duration<double>(now - lastAt_).count();
            if (seconds > 0 && p.transferred >= last_)
                rate = static_cast<double>(p.transferred - last_) / seconds;
        }
        if (!haveLast_ || rate > 0) {
            haveLast_ = true;
            last_ = p.transferred;
            lastAt_ = now;
            rate_ = rate;
        }
        std::string eta =
            rate_ > 0 ? std::to_string(static_cast<long>(p.remaining / rate_)) + "s" : "?";
        std::string figures = mib(p.transferred) + "/" + mib(p.total) + " MiB, " +
                              mib(static_cast<std::uint64_t>(rate_)) + " MiB/s, ETA " + eta;
        if (!bar_) {
            std::printf("%s: %s %s\n", name.c_str(), p.state.c_str(), figures.c_str());
            std::fflush(stdout);
            return;
        }
        constexpr int kWidth = 30;
        double done = p.total ? static_cast<double>(p.transferred) / p.total : 0;
        if (done > 1) done = 1;
        int filled = static_cast<int>(done * kWidth);
        std::printf("\r%s %-10s [%s%s] %3d%% %s\033[K", name.c_str(), p.state.c_str(),
                    std::string(filled, '#').c_str(), std::string(kWidth - filled, ' ').c_str(),
                    static_cast<int>(done * 100), figures.c_str());
        std::fflush(stdout);
        drawn_ = true;
    }
    void end() {
        if (drawn_) std::printf("\n");
    }

  private:
    bool bar_;
    bool drawn_ = false;
    // Not a std::optional: g++ 12 -O3 then warns of an uninitialised read.
    bool haveLast_ = false;
    std::uint64_t last_ = 0;
    Clock::time_point lastAt_{};
    double rate_ = 0;
    std::string lastState_;
};

int cancel(const Args& a) {
    if (a.args.size() != 1)
        throw CtlError(kUsage, "usage: corralctl migrate --cancel NAME (no destination)");
    Client(a.bus, a.address).callInstance(a.args[0], "CancelMigration", 30'000'000);
    if (!a.json) std::printf("%s: cancel requested\n", a.args[0].c_str());
    return kOk;
}

}  // namespace

int migrateVerb(const Args& a) {
    if (a.has(kCancel)) {
        if (a.has(kBandwidth) || a.has(kDowntime) || a.has(kTimeout) || a.has(kTls) ||
            a.has(kCopyStorage) || a.has(kPostcopy))
            throw CtlError(kUsage,
                           "--cancel takes no --bandwidth, --downtime, --timeout, --tls, "
                           "--copy-storage or --postcopy");
        return cancel(a);
    }
    if (a.args.size() != 2) throw CtlError(kUsage, verbUsage(*a.verb));
    auto bandwidth = positive(a, kBandwidth, "--bandwidth");
    auto downtime = positive(a, kDowntime, "--downtime");
    auto timeout = positive(a, kTimeout, "--timeout");
    const std::string* postcopy = a.option(kPostcopy);
    if (postcopy && *postcopy != "never" && *postcopy != "auto" && *postcopy != "always")
        throw CtlError(kUsage, "--postcopy wants never, auto or always, got '" + *postcopy + "'");
    const std::string& name = a.args[0];
    const std::string& destination = a.args[1];
    Client client(a.bus, a.address);
    auto path = client.instancePath(name);
    Watch watch;
    sd_bus* bus = client.bus();
    sd_bus_slot* match = nullptr;
    check(sd_bus_match_signal(bus, &match, "org.corral1", path.c_str(),
                              "org.freedesktop.DBus.Properties", "PropertiesChanged", onChanged,
                              &watch),
          "cannot watch the migration");
    MessageRef call;
    check(sd_bus_message_new_method_call(bus, call.put(), "org.corral1", path.c_str(),
                                         "org.corral1.Instance", "Migrate"),
          "cannot call Migrate");
    sd_bus_message* m = call.get();
    int r = sd_bus_message_append(m, "s", destination.c_str());
    if (r >= 0) r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0 && bandwidth) r = sd_bus_message_append(m, "{sv}", "bandwidth", "t", *bandwidth);
    if (r >= 0 && downtime) r = sd_bus_message_append(m, "{sv}", "downtime_ms", "t", *downtime);
    if (r >= 0 && timeout) r = sd_bus_message_append(m, "{sv}", "timeout", "t", *timeout);
    if (r >= 0 && a.has(kTls)) r = sd_bus_message_append(m, "{sv}", "tls", "b", 1);
    if (r >= 0 && a.has(kCopyStorage)) r = sd_bus_message_append(m, "{sv}", "storage", "s", "copy");
    if (r >= 0 && postcopy)
        r = sd_bus_message_append(m, "{sv}", "postcopy", "s", postcopy->c_str());
    if (r >= 0) r = sd_bus_message_close_container(m);
    check(r, "cannot call Migrate");
    // The reply comes when the VM runs there: as long as the transfer may take, and a margin.
    std::uint64_t wait = (timeout ? *timeout + 300 : 24ull * 3600) * 1'000'000;
    sd_bus_slot* pending = nullptr;
    check(sd_bus_call_async(bus, &pending, m, onReply, &watch, wait), "cannot call Migrate");
    Printer printer(!a.json && ::isatty(STDOUT_FILENO));
    while (!watch.done) {
        r = sd_bus_process(bus, nullptr);
        if (r < 0) break;
        if (watch.progress.changed && !watch.done) {
            watch.progress.changed = false;
            if (!a.json) printer.show(name, watch.progress);
        }
        if (r == 0 && !watch.done && (r = sd_bus_wait(bus, 1'000'000)) < 0) break;
    }
    printer.end();
    sd_bus_slot_unref(pending);
    sd_bus_slot_unref(match);
    if (r < 0) throw CtlError(kUnreachable, std::string("lost the bus: ") + std::strerror(-r));
    if (!watch.error.empty()) {
        CtlError error(kFailed, watch.error, false);
        error.dbusError = watch.errorName;
        throw error;
    }
    if (!a.json) std::printf("%s: running on %s\n", name.c_str(), destination.c_str());
    return kOk;
}

}  // namespace corral::supervisor::ctl
