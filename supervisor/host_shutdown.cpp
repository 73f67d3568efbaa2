#include "supervisor/host_shutdown.hpp"

#include <algorithm>

namespace corral::supervisor {

namespace {

bool ended(State state) {
    return state == State::Stopped || state == State::Crashed || state == State::Invalid;
}

long long secondsOf(Duration d) {
    return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

std::string joined(const std::map<std::string, Instance*>& names) {
    std::string out;
    for (const auto& [name, instance] : names) out += (out.empty() ? "" : ", ") + name;
    return out;
}

}  // namespace

HostShutdown::HostShutdown(std::vector<Instance*> instances, Clock& clock, Duration bound,
                           LogSink log, Finished finished, Saver save)
    : clock_(clock),
      bound_(bound),
      log_(std::move(log)),
      finished_(std::move(finished)),
      save_(std::move(save)),
      began_(clock.now()) {
    for (Instance* instance : instances) {
        // A crashed VM waiting for its restart must not come back while the host goes down.
        if (instance->state() == State::Crashed) instance->kill([](Status) {});
        if (ended(instance->state())) continue;
        pending_[instance->name()] = instance;
    }
    if (pending_.empty()) {
        log_(5, "host shutdown: no VM runs");
        checkDone();
        return;
    }
    log_(5, std::string("host shutdown: ") + (save_ ? "saving " : "shutting down ") +
                std::to_string(pending_.size()) + " VM(s) in parallel (" + joined(pending_) +
                "), at most " + std::to_string(secondsOf(bound_)) + " s");
    for (auto& [name, instance] : pending_) {
        watches_[name] = instance->changed().connect([this, instance](unsigned bits) {
            if (bits & kChangedState) changed(*instance);
        });
    }
    timer_ = clock_.schedule(bound_, [this, alive = std::weak_ptr<bool>(alive_)] {
        if (alive.lock()) boundReached();
    });
    // Copy: a shutdown that completes at once (a VM that just exited) edits pending_.
    auto all = pending_;
    for (auto& [name, instance] : all) request(*instance);
}

HostShutdown::~HostShutdown() = default;

void HostShutdown::request(Instance& instance) {
    auto state = instance.state();
    if (state != State::Running && state != State::Paused) return;  // starting / shutting down
    if (save_ && saveTried_.insert(instance.name()).second) {
        return save_(
            instance.name(), [this, alive = std::weak_ptr<bool>(alive_), &instance](Status status) {
                if (status || !alive.lock() || !pending_.count(instance.name())) return;
                log_(4, "host shutdown: " + status.error().message + "; shutting it down instead");
                request(instance);  // the graceful shutdown, unless its resume began it already
            });
    }
    // Timeout 0: the VM's own shutdown_timeout and escalation; the phase's bound caps them all.
    instance.shutdown(Duration::zero(), [this, alive = std::weak_ptr<bool>(alive_),
                                         name = instance.name()](Status status) {
        if (!status && alive.lock() && pending_.count(name))
            log_(4, "host shutdown: " + name + ": " + status.error().message);
    });
}

void HostShutdown::changed(Instance& instance) {
    auto state = instance.state();
    if (state == State::Running) return request(instance);  // its start just finished
    if (!ended(state)) return;
    auto name = instance.name();
    if (!pending_.erase(name)) return;
    if (std::find(result_.killed.begin(), result_.killed.end(), name) == result_.killed.end())
        result_.stopped.push_back(name);
    log_(6, "host shutdown: " + name + " ended (" + instance.lastExit() + ")");
    checkDone();
}

void HostShutdown::boundReached() {
    if (pending_.empty()) return;
    log_(3, "host shutdown: still running after " + std::to_string(secondsOf(bound_)) +
                " s, killing: " + joined(pending_));
    auto all = pending_;
    for (auto& [name, instance] : all) {
        result_.killed.push_back(name);
        instance->kill([](Status) {});
    }
}

void HostShutdown::checkDone() {
    if (!pending_.empty() || !finished_) return;
    timer_.reset();
    watches_.clear();
    log_(5, "host shutdown: done after " + std::to_string(secondsOf(clock_.now() - began_)) +
                " s: " + std::to_string(result_.stopped.size()) + " stopped, " +
                std::to_string(result_.killed.size()) + " killed");
    // Both by value: `finished` may destroy this object.
    auto finished = std::exchange(finished_, {});
    auto result = result_;
    std::sort(result.stopped.begin(), result.stopped.end());
    std::sort(result.killed.begin(), result.killed.end());
    finished(result);
}

}  // namespace corral::supervisor
