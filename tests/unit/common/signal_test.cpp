#include "common/signal.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

namespace corral {
namespace {

TEST(Signal, EverySubscriberHearsEveryEmit) {
    Signal<int> signal;
    std::vector<int> a, b;
    auto ca = signal.connect([&](int v) { a.push_back(v); });
    auto cb = signal.connect([&](int v) { b.push_back(v); });
    signal.emit(1);
    signal.emit(2);
    EXPECT_EQ(a, (std::vector<int>{1, 2}));
    EXPECT_EQ(b, (std::vector<int>{1, 2}));
}

TEST(Signal, DestroyedConnectionStopsDelivery) {
    Signal<> signal;
    int calls = 0;
    {
        auto c = signal.connect([&] { ++calls; });
        signal.emit();
    }
    signal.emit();
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(signal.size(), 0u);
}

TEST(Signal, SlotMayDisconnectAnotherDuringEmit) {
    Signal<> signal;
    int second = 0;
    Connection c2;
    auto c1 = signal.connect([&] { c2.disconnect(); });
    c2 = signal.connect([&] { ++second; });
    signal.emit();
    EXPECT_EQ(second, 0);
}

TEST(Signal, SlotMayDisconnectItselfAndAddOthers) {
    Signal<> signal;
    int added = 0;
    std::optional<Connection> self;
    std::vector<Connection> more;
    self = signal.connect([&] {
        self->disconnect();
        more.push_back(signal.connect([&] { ++added; }));
    });
    signal.emit();
    EXPECT_EQ(added, 0) << "a slot added during an emit waits for the next one";
    signal.emit();
    EXPECT_EQ(added, 1);
}

TEST(Signal, ConnectionMayOutliveTheSignal) {
    auto signal = std::make_unique<Signal<>>();
    auto c = signal->connect([] {});
    signal.reset();
    c.disconnect();
    EXPECT_FALSE(c.connected());
}

TEST(Signal, MovedConnectionKeepsTheSubscription) {
    Signal<> signal;
    int calls = 0;
    Connection moved;
    {
        auto c = signal.connect([&] { ++calls; });
        moved = std::move(c);
    }
    signal.emit();
    EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace corral
