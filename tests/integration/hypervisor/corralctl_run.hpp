// corralctl as the device tests under corrald run it: against the fixture's private bus.
#pragma once

#include <string>
#include <vector>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {

// corralctl --address `address` ARGS..., to completion (bounded), with its exit code and output.
inline CommandResult corralctl(const std::string& address, const std::vector<std::string>& args,
                               const std::filesystem::path& scratch) {
    std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                                     "--address", address};
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(argv, std::chrono::seconds(60), scratch);
}

}  // namespace corral::test
