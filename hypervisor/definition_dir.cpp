#include "hypervisor/definition_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <system_error>

#include "hypervisor/instance_name.hpp"

namespace corral::hypervisor {

namespace fs = std::filesystem;

std::string unusableDefinitionFile(const fs::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        if (errno == ELOOP) return "symlink loop (" + std::string(std::strerror(ELOOP)) + ")";
        return "cannot be examined: " + std::string(std::strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) return "is a directory, not a definition file";
    if (!S_ISREG(st.st_mode)) return "is not a regular file";
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "cannot be read: " + std::string(std::strerror(errno));
    ::close(fd);
    return {};
}

DefinitionScan scanDefinitions(
    const fs::path& dir,
    const std::function<bool(const std::string&, const fs::path&)>& keepSecond) {
    DefinitionScan scan;
    std::vector<fs::path> files;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
        scan.problem = "cannot read instances directory " + dir.string() + ": " + ec.message();
        return scan;
    }
    for (const auto& entry : it)
        if (entry.path().extension() == ".toml") files.push_back(entry.path());
    std::sort(files.begin(), files.end());

    std::map<std::string, DefinitionFile> chosen;
    for (const auto& file : files) {
        if (auto why = unusableDefinitionFile(file); !why.empty()) {
            scan.ignored.push_back({file, why});
            continue;
        }
        auto result = loadInstanceSpec(file);
        std::string name = result.spec ? result.spec->name : file.stem().string();
        if (auto why = checkInstanceName(name)) {
            scan.ignored.push_back({file, "bad instance name: " + *why});
            continue;
        }
        auto found = chosen.find(name);
        if (found == chosen.end()) {
            chosen.emplace(name, DefinitionFile{name, file, std::move(result)});
            continue;
        }
        auto ignored = file;
        bool second = keepSecond ? keepSecond(name, file) : file.stem() == name;
        if (second) {
            ignored = found->second.file;
            found->second = DefinitionFile{name, file, std::move(result)};
        }
        scan.ignored.push_back({ignored, "instance " + name + " is already defined by " +
                                             chosen.at(name).file.string()});
    }
    for (auto& [name, definition] : chosen) scan.definitions.push_back(std::move(definition));
    std::sort(scan.ignored.begin(), scan.ignored.end(),
              [](const IgnoredFile& a, const IgnoredFile& b) { return a.file < b.file; });
    return scan;
}

}  // namespace corral::hypervisor
