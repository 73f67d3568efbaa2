// corralctl status: what the guest tells about itself (Instance.GuestInfo), shown with the
// instance's properties when its agent answers.
#pragma once

#include <string>

#include "supervisor/ctl_client.hpp"

namespace corral::supervisor::ctl {

// Adds GuestOS, GuestRelease, GuestCodename and GuestAddresses to `properties` when the
// instance's agent is connected and answers; leaves them out otherwise (status still works).
void addGuestInfo(Client& client, const std::string& name, Properties& properties);

}  // namespace corral::supervisor::ctl
