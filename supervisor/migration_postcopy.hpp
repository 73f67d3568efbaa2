// Postcopy (Migrate's `postcopy` option): when the source switches a running precopy to
// postcopy, and whether the destination host can take a postcopy stream at all. Pure logic, no
// QMP here: MigrationSource (migration_source_postcopy.cpp) and MigrationTarget act on it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace corral::supervisor {

enum class PostcopyMode { Never, Auto, Always };

// "never", "auto", "always"; nullopt for anything else.
std::optional<PostcopyMode> postcopyModeOf(const std::string& text);

// The switch rule. QEMU counts its passes over the guest's RAM (query-migrate's
// ram.dirty-sync-count: 1 while the first pass runs, +1 at each dirty-bitmap sync); postcopy can
// only start once the first pass is over (count ≥ 2). `always` switches then. `auto` lets
// precopy try: it switches when the RAM still to send did not shrink by at least a tenth over
// the last kAutoRounds passes, i.e. the guest dirties memory about as fast as the link sends it
// and precopy would only end at `timeout`.
class PostcopySwitch {
  public:
    static constexpr std::uint64_t kAutoRounds = 3;
    // Shrinking to less than 9/10 of the earlier figure counts as progress.
    static constexpr std::uint64_t kProgressNumerator = 9, kProgressDenominator = 10;

    explicit PostcopySwitch(PostcopyMode mode) : mode_(mode) {}
    // One query-migrate of an active precopy: its pass counter and the RAM left to send. True
    // when it is time for migrate-start-postcopy (then, and later, always true).
    bool observe(std::uint64_t dirtySyncCount, std::uint64_t remaining);

  private:
    PostcopyMode mode_;
    bool due_ = false;
    std::uint64_t lastCount_ = 0;
    // The remaining RAM at the start of the last passes, oldest first.
    std::uint64_t atPass_[kAutoRounds + 1] = {};
    std::uint64_t passes_ = 0;
};

// Why a destination qemu cannot receive a postcopy stream here, or nullopt when it can. QEMU
// 7.2 asks the kernel for a userfaultfd with the userfaultfd() system call (it does not use
// /dev/userfaultfd, which QEMU 8.1 learnt); for a qemu running as an unprivileged uid (a
// confined VM) the kernel allows that only when vm.unprivileged_userfaultfd is 1.
// `confinedUid`: the uid the qemu runs as, nullopt for an unconfined (root) qemu;
// `sysctlValue`: the content of /proc/sys/vm/unprivileged_userfaultfd (nullopt: unreadable).
std::optional<std::string> postcopyHostProblem(std::optional<std::uint32_t> confinedUid,
                                               std::optional<std::string> sysctlValue);

// /proc/sys/vm/unprivileged_userfaultfd, trimmed; nullopt when it cannot be read.
std::optional<std::string> readUnprivilegedUserfaultfd();

}  // namespace corral::supervisor
