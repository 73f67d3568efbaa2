// The last sample of every VM, refreshed on demand at a bounded rate. Readers (the D-Bus Stats
// interface, the Prometheus endpoint, corralctl top through D-Bus) get the cached sample at once;
// a read that finds it older than maxAge starts one asynchronous refresh of that VM, and
// `sampled` is raised when it lands. At most maxPerSecond refreshes start in any second, so
// however often and however many clients read, the VMs' monitors see a bounded load.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/signal.hpp"
#include "supervisor/clock.hpp"
#include "supervisor/registry.hpp"
#include "supervisor/stats.hpp"

namespace corral::supervisor {

class StatsCache {
  public:
    struct Limits {
        Duration maxAge = std::chrono::seconds(1);
        unsigned maxPerSecond = 256;
    };

    StatsCache(Registry& registry, Clock& clock, Limits limits);
    ~StatsCache();
    StatsCache(const StatsCache&) = delete;
    StatsCache& operator=(const StatsCache&) = delete;

    // The cached sample of `vm` with its current state (zeros before the first sample lands);
    // starts a refresh if it is stale, or if qemu started or ended since it was taken.
    VmSample read(Vm& vm);
    // read() of every instance, in name order.
    std::vector<VmSample> readAll();
    // A refresh of the named VM landed.
    Signal<const std::string&>& sampled() { return sampled_; }

  private:
    struct Entry {
        VmSample sample;
        TimePoint takenAt{};
        bool taken = false;
        bool inFlight = false;
    };
    void refresh(Vm& vm, Entry& entry);
    bool takeBudget();

    Registry& registry_;
    Clock& clock_;
    Limits limits_;
    std::map<std::string, Entry, std::less<>> entries_;
    TimePoint windowStart_{};
    unsigned startedInWindow_ = 0;
    // Replies that land after the cache is gone find this expired.
    std::shared_ptr<StatsCache*> self_;
    Connection removing_;
    Signal<const std::string&> sampled_;
};

}  // namespace corral::supervisor
