// A signal with any number of subscribers (D-Bus, metrics, an event log, migration all listen to
// the same source; none displaces another). connect() returns a Connection that disconnects when
// destroyed. Single-threaded (corrald runs one io_context); a slot may connect or disconnect
// slots, including itself, while the signal is being emitted: removed slots are not called,
// slots added during an emit are called from the next emit on.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace corral {

class Connection {
  public:
    Connection() = default;
    explicit Connection(std::function<void()> disconnect) : disconnect_(std::move(disconnect)) {}
    Connection(Connection&& other) noexcept : disconnect_(std::exchange(other.disconnect_, {})) {}
    Connection& operator=(Connection&& other) noexcept {
        if (this != &other) {
            disconnect();
            disconnect_ = std::exchange(other.disconnect_, {});
        }
        return *this;
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() { disconnect(); }

    void disconnect() {
        if (auto d = std::exchange(disconnect_, {})) d();
    }
    bool connected() const { return static_cast<bool>(disconnect_); }

  private:
    std::function<void()> disconnect_;
};

template <typename... Args>
class Signal {
  public:
    using Slot = std::function<void(Args...)>;

    Signal() : slots_(std::make_shared<Slots>()) {}
    Signal(const Signal&) = delete;
    Signal& operator=(const Signal&) = delete;

    // The Connection may outlive the Signal: disconnecting then does nothing.
    [[nodiscard]] Connection connect(Slot slot) {
        auto id = ++slots_->next;
        slots_->entries.push_back({id, std::make_shared<Slot>(std::move(slot))});
        std::weak_ptr<Slots> weak = slots_;
        return Connection([weak, id] {
            if (auto s = weak.lock())
                std::erase_if(s->entries, [id](auto& e) { return e.id == id; });
        });
    }

    void emit(Args... args) const {
        auto keep = slots_;  // a slot may destroy the signal's owner
        std::vector<std::pair<std::uint64_t, std::weak_ptr<Slot>>> now;
        now.reserve(keep->entries.size());
        for (auto& e : keep->entries) now.emplace_back(e.id, e.slot);
        for (auto& [id, weak] : now) {
            auto still = std::any_of(keep->entries.begin(), keep->entries.end(),
                                     [id = id](auto& e) { return e.id == id; });
            if (!still) continue;
            if (auto slot = weak.lock()) (*slot)(args...);
        }
    }

    std::size_t size() const { return slots_->entries.size(); }

  private:
    struct Entry {
        std::uint64_t id;
        std::shared_ptr<Slot> slot;
    };
    struct Slots {
        std::uint64_t next = 0;
        std::vector<Entry> entries;
    };
    std::shared_ptr<Slots> slots_;
};

}  // namespace corral
