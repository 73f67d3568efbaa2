#include "tests/unit/supervisor/fake_vm.hpp"

namespace corral::supervisor::test {

namespace {

class FakeTimer : public TimerHandle {
  public:
    explicit FakeTimer(std::shared_ptr<bool> cancelled) : cancelled_(std::move(cancelled)) {}
    ~FakeTimer() override { *cancelled_ = true; }

  private:
    std::shared_ptr<bool> cancelled_;
};

}  // namespace

std::unique_ptr<TimerHandle> FakeClock::schedule(Duration delay, std::function<void()> fn) {
    auto entry = std::make_shared<Entry>();
    entry->due = now_ + delay;
    entry->fn = std::move(fn);
    auto cancelled = std::make_shared<bool>(false);
    timers_.emplace(entry->due, entry);
    // The entry watches the flag the handle sets.
    entry->fn = [cancelled, fn = std::move(entry->fn)] {
        if (!*cancelled) fn();
    };
    return std::make_unique<FakeTimer>(cancelled);
}

void FakeClock::advance(Duration by) {
    auto end = now_ + by;
    while (!timers_.empty() && timers_.begin()->first <= end) {
        auto entry = timers_.begin()->second;
        timers_.erase(timers_.begin());
        now_ = entry->due;
        entry->fn();
    }
    now_ = end;
}

std::size_t FakeClock::pendingTimers() const {
    return timers_.size();
}

std::uint64_t FakeClock::realtimeUsec() const {
    auto since = std::chrono::duration_cast<std::chrono::microseconds>(now_.time_since_epoch());
    return 1'700'000'000'000'000ull + static_cast<std::uint64_t>(since.count());
}

std::optional<TimePoint> FakeClock::nextDue() const {
    if (timers_.empty()) return std::nullopt;
    return timers_.begin()->first;
}

void FakeVm::launch(std::function<void(Outcome<pid_t>)> done) {
    ++launches;
    if (autoLaunchPid) return done(*autoLaunchPid);
    launchDone_ = std::move(done);
}

void FakeVm::finishLaunch(Outcome<pid_t> result) {
    auto done = std::move(launchDone_);
    launchDone_ = nullptr;
    if (done) done(std::move(result));
}

void FakeVm::command(VmCommand command, Done done) {
    commands.push_back(command);
    if (answerCommands) return done(okStatus());
    pendingCommands.push_back(std::move(done));
}

}  // namespace corral::supervisor::test
