// A private network namespace for tests that need taps and bridges: created with `ip netns add`,
// entered by the calling thread (so taps, qemu and commands started from it live there), left
// and deleted in the destructor whatever the test outcome.
#pragma once

#include <string>
#include <vector>

namespace corral::test {

class NetNamespace {
  public:
    NetNamespace();
    ~NetNamespace();
    NetNamespace(const NetNamespace&) = delete;
    NetNamespace& operator=(const NetNamespace&) = delete;

    const std::string& name() const { return name_; }
    // Runs argv inside the namespace (bounded); returns its output, throws unless it exits 0.
    std::string run(const std::vector<std::string>& argv);

  private:
    std::string name_;
    int original_ = -1;  // the namespace to return to
};

}  // namespace corral::test
