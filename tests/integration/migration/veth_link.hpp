// Two network namespaces joined by a veth pair, the two "hosts" of a migration test: the source
// at 10.241.0.1, the destination at 10.241.0.2. The link can be taken down and up again. Both
// namespaces are deleted in the destructor whatever the test outcome.
#pragma once

#include <string>

namespace corral::test {

class VethLink {
  public:
    VethLink();
    ~VethLink();
    VethLink(const VethLink&) = delete;
    VethLink& operator=(const VethLink&) = delete;

    const std::string& source() const { return source_; }
    const std::string& destination() const { return destination_; }
    static constexpr const char* kSourceAddress = "10.241.0.1";
    static constexpr const char* kDestinationAddress = "10.241.0.2";
    // The destination's end of the pair down (the stream stalls) or up.
    void setDown(bool down);

  private:
    std::string source_;
    std::string destination_;
};

}  // namespace corral::test
