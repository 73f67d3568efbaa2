#include "supervisor/ctl_define.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <toml++/toml.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "supervisor/ctl_output.hpp"

namespace corral::supervisor::ctl {

namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kCallTimeout = 60'000'000;
constexpr const char* kInvalidDefinition = "org.corral1.Error.InvalidDefinition";

std::string readText(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw CtlError(kFailed, "cannot read " + file.string() + ": " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The "name" key when the text is TOML and has one; else the file stem. corrald checks it.
std::string instanceName(const fs::path& file, const std::string& text) {
    try {
        auto root = toml::parse(text, file.string());
        if (auto name = root["name"].value<std::string>()) return *name;
    } catch (const toml::parse_error&) {
    }
    return file.stem().string();
}

std::string getDefinition(Client& client, const std::string& name) {
    auto reply = client.callInstance(name, "GetDefinition", kCallTimeout);
    const char* text = "";
    check(sd_bus_message_read(reply.get(), "s", &text), "bad reply");
    return text;
}

void printPending(const std::string& name, const std::vector<std::string>& pending, bool json) {
    std::string keys;
    for (const auto& key : pending) keys += (keys.empty() ? "" : ", ") + key;
    if (json)
        printLines(pending, true);
    else if (keys.empty())
        std::printf("%s: updated\n", name.c_str());
    else
        std::printf("%s: updated; takes effect at the next start: %s\n", name.c_str(),
                    keys.c_str());
}

// Runs the editor on `file` through the shell, as git and virsh do ("code --wait" works).
void runEditor(const fs::path& file) {
    const char* editor = std::getenv("VISUAL");
    if (!editor || !*editor) editor = std::getenv("EDITOR");
    if (!editor || !*editor) editor = "vi";
    std::string command = std::string(editor) + " \"$1\"";
    pid_t pid = fork();
    if (pid < 0) throw CtlError(kFailed, std::string("cannot run the editor: ") + strerror(errno));
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", command.c_str(), "sh", file.c_str(),
              static_cast<char*>(nullptr));
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw CtlError(kFailed, std::string("the editor (") + editor + ") failed; nothing saved");
}

// The copy the editor works on; removed when the edit is done unless keep() was called.
class EditCopy {
  public:
    EditCopy(const std::string& name, const std::string& text) {
        const char* tmp = std::getenv("TMPDIR");
        path_ =
            (fs::path(tmp && *tmp ? tmp : "/tmp") / ("corral-" + name + "-XXXXXX.toml")).string();
        int fd = mkstemps(path_.data(), 5);
        if (fd < 0)
            throw CtlError(kFailed,
                           "cannot create a temporary file: " + std::string(strerror(errno)));
        bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
        if (::close(fd) < 0 || !written) {
            ::unlink(path_.c_str());
            throw CtlError(kFailed, "cannot write " + path_);
        }
    }
    ~EditCopy() {
        if (!kept_) ::unlink(path_.c_str());
    }
    EditCopy(const EditCopy&) = delete;
    EditCopy& operator=(const EditCopy&) = delete;
    const std::string& path() const { return path_; }
    void keep() { kept_ = true; }

  private:
    std::string path_;
    bool kept_ = false;
};

bool askEditAgain() {
    std::fprintf(stderr, "edit again? [y/N] ");
    std::string answer;
    if (!std::getline(std::cin, answer)) return false;
    return answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace

int defineVerb(const Args& a) {
    fs::path file = a.args[0];
    auto text = readText(file);
    auto name = instanceName(file, text);
    Client client(a.bus, a.address);
    MessageRef reply;
    try {
        reply = client.callManager("Define", kCallTimeout, [&](sd_bus_message* m) {
            int r = sd_bus_message_append(m, "ss", name.c_str(), text.c_str());
            if (r >= 0) r = sd_bus_message_open_container(m, 'a', "{sv}");
            return r < 0 ? r : sd_bus_message_close_container(m);
        });
    } catch (const CtlError& e) {
        if (e.dbusError != kInvalidDefinition) throw;
        std::fprintf(stderr, "%s\n", e.what());
        return kFailed;
    }
    const char* path = "";
    check(sd_bus_message_read(reply.get(), "o", &path), "bad reply");
    if (a.json)
        printValue("path", path, true);
    else
        std::printf("%s: defined (%s)\n", name.c_str(), path);
    return kOk;
}

int showVerb(const Args& a) {
    Client client(a.bus, a.address);
    auto text = getDefinition(client, a.args[0]);
    if (a.json)
        printValue("definition", text, true);
    else
        std::fwrite(text.data(), 1, text.size(), stdout);
    return kOk;
}

int editVerb(const Args& a) {
    const auto& name = a.args[0];
    Client client(a.bus, a.address);
    auto original = getDefinition(client, name);
    EditCopy copy(name, original);
    bool terminal = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
    for (;;) {
        runEditor(copy.path());
        auto edited = readText(copy.path());
        if (edited == original) {
            std::printf("%s: no changes\n", name.c_str());
            return kOk;
        }
        try {
            auto reply = client.callInstance(name, "Update", kCallTimeout, [&](sd_bus_message* m) {
                return sd_bus_message_append(m, "s", edited.c_str());
            });
            printPending(name, readStrings(reply), a.json);
            return kOk;
        } catch (const CtlError& e) {
            bool invalid = e.dbusError == kInvalidDefinition;
            std::fprintf(stderr, invalid ? "%s\n" : "corralctl: %s\n", e.what());
            if (invalid && terminal && askEditAgain()) continue;
            if (invalid && terminal) return kFailed;
            // Whatever went wrong, the edits are not lost.
            copy.keep();
            std::fprintf(stderr, "corralctl: the edited copy is kept in %s\n", copy.path().c_str());
            return e.exit;
        }
    }
}

int undefineVerb(const Args& a) {
    Client client(a.bus, a.address);
    bool removeStorage = a.has(kRemoveStorage);
    auto reply = client.callInstance(a.args[0], "Undefine", kCallTimeout, [&](sd_bus_message* m) {
        int r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && removeStorage) r = sd_bus_message_append(m, "{sv}", "remove_storage", "b", 1);
        return r < 0 ? r : sd_bus_message_close_container(m);
    });
    auto removed = readStrings(reply);
    if (a.json) {
        printLines(removed, true);
        return kOk;
    }
    std::printf("%s: undefined\n", a.args[0].c_str());
    for (const auto& file : removed) std::printf("removed %s\n", file.c_str());
    return kOk;
}

}  // namespace corral::supervisor::ctl
