#include "supervisor/autostart.hpp"

#include <fstream>
#include <sstream>
#include <system_error>

namespace corral::supervisor {

namespace fs = std::filesystem;

namespace {

std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

std::optional<std::string> readMarker(const fs::path& file) {
    std::ifstream in(file);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return trimmed(text.str());
}

}  // namespace

bool isNewBoot(const std::optional<std::string>& marker, std::string_view currentBootId) {
    if (!marker) return true;
    if (currentBootId.empty()) return false;
    return *marker != currentBootId;
}

std::string readBootId(const fs::path& file) {
    return readMarker(file).value_or("");
}

bool claimBoot(const fs::path& runtimeDir, std::string_view currentBootId, std::string& problem) {
    auto marker = runtimeDir / kBootMarkerName;
    bool fresh = isNewBoot(readMarker(marker), currentBootId);
    if (!fresh) return false;
    auto temporary = runtimeDir / (std::string(kBootMarkerName) + ".tmp");
    std::error_code ec;
    fs::create_directories(runtimeDir, ec);
    {
        std::ofstream out(temporary, std::ios::trunc);
        out << currentBootId << "\n";
        out.flush();
        if (!out) {
            problem = "cannot write " + temporary.string();
            return fresh;
        }
    }
    fs::rename(temporary, marker, ec);
    if (ec) {
        problem = "cannot write " + marker.string() + ": " + ec.message();
        fs::remove(temporary, ec);
    }
    return fresh;
}

}  // namespace corral::supervisor
