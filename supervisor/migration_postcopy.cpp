#include "supervisor/migration_postcopy.hpp"

#include <fstream>

namespace corral::supervisor {

std::optional<PostcopyMode> postcopyModeOf(const std::string& text) {
    if (text == "never") return PostcopyMode::Never;
    if (text == "auto") return PostcopyMode::Auto;
    if (text == "always") return PostcopyMode::Always;
    return std::nullopt;
}

bool PostcopySwitch::observe(std::uint64_t dirtySyncCount, std::uint64_t remaining) {
    if (due_ || mode_ == PostcopyMode::Never) return due_;
    // The first pass is still running.
    if (dirtySyncCount < 2) return false;
    if (mode_ == PostcopyMode::Always) return due_ = true;
    if (dirtySyncCount != lastCount_) {
        // A new pass began: what it starts with is what the last one left.
        lastCount_ = dirtySyncCount;
        for (std::uint64_t i = 0; i < kAutoRounds; ++i) atPass_[i] = atPass_[i + 1];
        atPass_[kAutoRounds] = remaining;
        ++passes_;
    }
    if (passes_ <= kAutoRounds) return false;
    const std::uint64_t before = atPass_[0], now = atPass_[kAutoRounds];
    // Not below 9/10 of what it was kAutoRounds passes ago: precopy does not converge.
    due_ = now * kProgressDenominator >= before * kProgressNumerator;
    return due_;
}

std::optional<std::string> postcopyHostProblem(std::optional<std::uint32_t> confinedUid,
                                               std::optional<std::string> sysctlValue) {
    if (!confinedUid) return std::nullopt;  // root may always ask for a userfaultfd
    if (sysctlValue && *sysctlValue == "1") return std::nullopt;
    return "postcopy needs a userfaultfd for the destination's qemu, which runs confined as uid " +
           std::to_string(*confinedUid) + ", and this host's vm.unprivileged_userfaultfd is " +
           (sysctlValue ? *sysctlValue : std::string("unreadable")) +
           " (QEMU 7.2 does not use /dev/userfaultfd): set sysctl vm.unprivileged_userfaultfd=1 "
           "on the destination, or migrate with postcopy never";
}

std::optional<std::string> readUnprivilegedUserfaultfd() {
    std::ifstream in("/proc/sys/vm/unprivileged_userfaultfd");
    std::string value;
    if (!(in >> value)) return std::nullopt;
    return value;
}

}  // namespace corral::supervisor
