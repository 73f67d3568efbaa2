// escapeOption (qemu_argv.hpp) on its own: pure, so that what only needs it (the display's
// argv, the libFuzzer build of the loader) does not link the whole argv builder.
#include "hypervisor/qemu_argv.hpp"

namespace corral::hypervisor {

std::string escapeOption(std::string_view value) {
    std::string out;
    for (char c : value) {
        out += c;
        if (c == ',') out += ',';
    }
    return out;
}

}  // namespace corral::hypervisor
