#include "supervisor/stats_cache.hpp"

#include <algorithm>

namespace corral::supervisor {

StatsCache::StatsCache(Registry& registry, Clock& clock, Limits limits)
    : registry_(registry),
      clock_(clock),
      limits_(limits),
      self_(std::make_shared<StatsCache*>(this)),
      removing_(registry.removing().connect([this](Vm& vm) { entries_.erase(vm.name()); })) {}

StatsCache::~StatsCache() = default;

VmSample StatsCache::read(Vm& vm) {
    auto& entry = entries_[vm.name()];
    bool running = vm.lifecycle().pid() != 0;
    bool stale = !entry.taken || clock_.now() - entry.takenAt >= limits_.maxAge ||
                 entry.sample.running != running;
    if (stale && !entry.inFlight && takeBudget()) refresh(vm, entry);
    // refresh() may have landed at once (no qemu): read the entry afresh.
    auto& current = entries_[vm.name()];
    VmSample out = current.sample;
    out.name = vm.name();
    out.state = toString(vm.lifecycle().state());
    return out;
}

std::vector<VmSample> StatsCache::readAll() {
    std::vector<VmSample> out;
    for (Vm* vm : registry_.all()) out.push_back(read(*vm));
    std::sort(out.begin(), out.end(),
              [](const VmSample& a, const VmSample& b) { return a.name < b.name; });
    return out;
}

bool StatsCache::takeBudget() {
    auto now = clock_.now();
    if (now - windowStart_ >= std::chrono::seconds(1)) {
        windowStart_ = now;
        startedInWindow_ = 0;
    }
    if (startedInWindow_ >= limits_.maxPerSecond) return false;
    ++startedInWindow_;
    return true;
}

void StatsCache::refresh(Vm& vm, Entry& entry) {
    entry.inFlight = true;
    std::weak_ptr<StatsCache*> weak = self_;
    vm.sample([weak, name = vm.name()](Outcome<VmSample> result) {
        auto alive = weak.lock();
        if (!alive) return;
        auto& cache = **alive;
        auto it = cache.entries_.find(name);
        if (it == cache.entries_.end()) return;  // the instance was removed meanwhile
        auto& e = it->second;
        e.inFlight = false;
        e.taken = true;
        e.takenAt = cache.clock_.now();
        // A qemu that exited during the sample leaves nothing to report.
        if (result) {
            e.sample = std::move(result.value());
        } else {
            e.sample = VmSample{};
            e.sample.name = name;
        }
        cache.sampled_.emit(name);
    });
}

}  // namespace corral::supervisor
