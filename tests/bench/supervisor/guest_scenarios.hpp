// Items 5 and 6 of issue 8 through D-Bus on a real TCG guest under corrald: GuestExecute round
// trips (the direct-channel half is agent-bench) and disk hotplug attach+detach.
#pragma once

#include <filesystem>

namespace corral::bench {

struct GuestFigures {
    int executeCalls = 0;
    double executePerSecond = 0;  // sequential GuestExecute(["true"]) calls
    int hotplugRuns = 0;
    double attachP50Ms = 0;
    double detachP50Ms = 0;  // Detach replies once the guest released the device
    double cycleP50Ms = 0;   // attach + detach
};

// Boots the guest image in `imageDir` (vmlinuz, initrd.img) as a pc/TCG instance under corrald.
GuestFigures measureGuest(const std::filesystem::path& imageDir, double executeSeconds,
                          int hotplugRuns);

}  // namespace corral::bench
