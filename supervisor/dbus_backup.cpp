// Instance.Backup, CancelBackup, ListBackups and the BackupState / BackupProgress properties:
// the options are checked here, the rest is the VM's (backup_vm.cpp).
#include <set>

#include "supervisor/dbus_internal.hpp"
#include "supervisor/dbus_reply.hpp"

namespace corral::supervisor {

namespace {

constexpr std::size_t kMaxBackupOptions = 8;
constexpr std::size_t kMaxBackupDisks = 64;

InstanceRef& ref(void* userdata) {
    return *static_cast<InstanceRef*>(userdata);
}

// The type each option takes.
const std::map<std::string, std::string>& optionTypes() {
    static const std::map<std::string, std::string> types = {
        {"mode", "s"}, {"disks", "as"}, {"format", "s"}, {"speed", "t"}};
    return types;
}

std::optional<OpError> setOption(BackupRequest& request, const std::string& key,
                                 const std::string& text, std::vector<std::string> list,
                                 std::uint64_t number) {
    if (key == "mode") {
        if (text != "full" && text != "incremental")
            return OpError{ErrorKind::InvalidArgument,
                           "Backup: mode is full or incremental, not \"" + text + "\"."};
        request.incremental = text == "incremental";
    } else if (key == "format") {
        if (text != "qcow2")
            return OpError{ErrorKind::InvalidArgument,
                           "Backup: format is qcow2 (an incremental backup stands on the one "
                           "before as its backing file), not \"" +
                               text + "\"."};
    } else if (key == "disks") {
        if (list.empty() || list.size() > kMaxBackupDisks)
            return OpError{ErrorKind::InvalidArgument,
                           "Backup: disks names 1 to " + std::to_string(kMaxBackupDisks) +
                               " disk ids (leave it out for every writable disk)."};
        request.disks = std::move(list);
    } else if (key == "speed") {
        request.speed = number;
    }
    return std::nullopt;
}

int readBackupOptions(sd_bus_message* m, BackupRequest& request, std::optional<OpError>& bad) {
    std::set<std::string> seen;
    return readVariantDict(
        m, kMaxBackupOptions, [&](sd_bus_message* m, const char* key, const std::string& type) {
            std::string k = key;
            std::string text;
            std::vector<std::string> list;
            std::uint64_t number = 0;
            int r = 0;
            auto known = optionTypes().find(k);
            bool typed = known != optionTypes().end() && known->second == type;
            if (typed && type == "s") {
                const char* value = nullptr;
                r = sd_bus_message_read(m, "v", "s", &value);
                if (r >= 0) text = value;
            } else if (typed && type == "t") {
                r = sd_bus_message_read(m, "v", "t", &number);
            } else if (typed && type == "as") {
                char** strv = nullptr;
                if ((r = sd_bus_message_enter_container(m, 'v', "as")) >= 0 &&
                    (r = sd_bus_message_read_strv(m, &strv)) >= 0)
                    r = sd_bus_message_exit_container(m);
                for (char** s = strv; s && *s; ++s) {
                    list.emplace_back(*s);
                    free(*s);
                }
                free(strv);
            } else {
                r = sd_bus_message_skip(m, "v");
            }
            if (r < 0) return r;
            if (!bad && known == optionTypes().end())
                bad = OpError{ErrorKind::InvalidArgument, "Backup: unknown option \"" + k + "\"."};
            else if (!bad && !typed)
                bad =
                    OpError{ErrorKind::InvalidArgument, "Backup: option \"" + k + "\" is " +
                                                            known->second + ", not " + type + "."};
            else if (!bad && !seen.insert(k).second)
                bad = OpError{ErrorKind::InvalidArgument,
                              "Backup: option \"" + k + "\" is given twice."};
            else if (!bad)
                bad = setOption(request, k, text, std::move(list), number);
            return static_cast<int>(seen.size());
        });
}

}  // namespace

int methodBackup(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    const char* target = nullptr;
    int r = sd_bus_message_read(m, "s", &target);
    if (r < 0) return r;
    BackupRequest request;
    request.target = target;
    std::optional<OpError> bad;
    if ((r = readBackupOptions(m, request, bad)) < 0) return r;
    if (r == 0 && !bad) bad = OpError{ErrorKind::InvalidArgument, "Backup: too many options."};
    if (bad) return setError(error, *bad);
    auto call = PendingCall(ref(userdata).loop, m);
    ref(userdata).vm->backup(std::move(request), [call](Status s) { call.finish(s); });
    return 1;
}

int methodCancelBackup(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto call = PendingCall(ref(userdata).loop, m);
    ref(userdata).vm->cancelBackup([call](Status s) { call.finish(s); });
    return 1;
}

// a(sstsa(ss)): each checkpoint, oldest first: name, mode, creation time (µs since the
// epoch), target directory and per disk the id and the file.
int methodListBackups(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    auto record = ref(userdata).vm->backups();
    if (!record) return setError(error, record.error());
    MessageRef reply;
    int r = sd_bus_message_new_method_return(m, reply.put());
    if (r < 0) return r;
    sd_bus_message* raw = reply.get();
    if ((r = sd_bus_message_open_container(raw, 'a', "(sstsa(ss))")) < 0) return r;
    for (const auto& c : record.value().checkpoints) {
        if ((r = sd_bus_message_open_container(raw, 'r', "sstsa(ss)")) < 0) return r;
        if ((r = sd_bus_message_append(raw, "ssts", c.name.c_str(), c.mode.c_str(), c.createdUsec,
                                       c.target.c_str())) < 0)
            return r;
        if ((r = sd_bus_message_open_container(raw, 'a', "(ss)")) < 0) return r;
        for (const auto& f : c.files)
            if ((r = sd_bus_message_append(raw, "(ss)", f.disk.c_str(), f.file.c_str())) < 0)
                return r;
        if ((r = sd_bus_message_close_container(raw)) < 0) return r;
        if ((r = sd_bus_message_close_container(raw)) < 0) return r;
    }
    if ((r = sd_bus_message_close_container(raw)) < 0) return r;
    return sd_bus_send(nullptr, raw, nullptr);
}

int getBackupState(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                   void* userdata, sd_bus_error*) {
    return sd_bus_message_append(reply, "s", ref(userdata).vm->backupStatus().state.c_str());
}

// (tt): bytes copied, bytes to copy.
int getBackupProgress(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                      void* userdata, sd_bus_error*) {
    auto status = ref(userdata).vm->backupStatus();
    return sd_bus_message_append(reply, "(tt)", status.done, status.total);
}

}  // namespace corral::supervisor
