// Owning handles for sd-bus objects: the reference is dropped on every way out of a scope, so a
// handler that returns early on an error leaks nothing (what systemd writes as
// `_cleanup_(sd_bus_message_unrefp)`). Header-only: corrald and corralctl both use it.
#pragma once

#include <systemd/sd-bus.h>

#include <utility>

namespace corral::supervisor {

template <typename T, T* (*Unref)(T*)>
class BusRef {
  public:
    BusRef() = default;
    // Takes over one reference the caller holds.
    explicit BusRef(T* adopted) noexcept : p_(adopted) {}
    BusRef(BusRef&& other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
    BusRef& operator=(BusRef&& other) noexcept {
        reset(std::exchange(other.p_, nullptr));
        return *this;
    }
    BusRef(const BusRef&) = delete;
    BusRef& operator=(const BusRef&) = delete;
    ~BusRef() { reset(); }

    T* get() const { return p_; }
    explicit operator bool() const { return p_ != nullptr; }

    // For sd-bus out-parameters (`sd_bus_message_new_method_return(m, reply.put())`): drops
    // what is held and returns the place for the new reference.
    T** put() {
        reset();
        return &p_;
    }

    void reset(T* adopted = nullptr) {
        if (p_) Unref(p_);
        p_ = adopted;
    }

  private:
    T* p_ = nullptr;
};

using MessageRef = BusRef<sd_bus_message, sd_bus_message_unref>;
using SlotRef = BusRef<sd_bus_slot, sd_bus_slot_unref>;

}  // namespace corral::supervisor
