// Shared between the two halves of DbusService (manager and instance objects) and their tests;
// not public API.
#pragma once

#include <systemd/sd-bus.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/signal.hpp"
#include "supervisor/dbus_args.hpp"
#include "supervisor/dbus_service.hpp"

namespace corral::supervisor {

// userdata of an instance object, resolved by the fallback vtable's find callback. It exists
// exactly while the object is published; destroying it ends its subscriptions.
class StatsCache;
class MigrationControl;
class IncomingControl;

struct InstanceRef {
    Vm* vm;
    Registry* registry;
    StatsCache* stats;  // null unless DbusService::serveStats was called
    std::shared_ptr<BusLoop> loop;
    std::string path;  // instancePath(vm->name())
    Connection stateChanged;
    Connection devicesChanged;
    MigrationControl* migration = nullptr;  // null unless DbusService::serveMigration was called
};

extern const sd_bus_vtable kManagerVtable[];
extern const sd_bus_vtable kInstanceVtable[];
// org.corral1.Instance.Stats (dbus_stats.cpp) and its properties, null-terminated.
extern const sd_bus_vtable kStatsVtable[];
extern const char* const kStatsProperties[];

// One row per property a ChangedProperty bit stands for; a bit may name several properties.
struct ChangedName {
    unsigned bit;
    const char* property;
};

// Every row, in the order PropertiesChanged lists the properties.
std::span<const ChangedName> changedNames();

// The properties of org.corral1.Instance that a mask of ChangedProperty bits says changed, each
// once, in table order.
std::vector<const char*> changedProperties(unsigned changed);

// Migration (dbus_migration.cpp): Manager.PrepareIncoming / FinishIncoming / AbortIncoming on
// `target` (null: refused), Instance.Migrate / CancelMigration / StartWithOptions and the
// MigrationState / MigrationProgress getters.
int methodPrepareIncoming(sd_bus_message* m, IncomingControl* target,
                          const std::shared_ptr<BusLoop>& loop, sd_bus_error* error);
int methodFinishIncoming(sd_bus_message* m, IncomingControl* target,
                         const std::shared_ptr<BusLoop>& loop, sd_bus_error* error);
int methodAbortIncoming(sd_bus_message* m, IncomingControl* target,
                        const std::shared_ptr<BusLoop>& loop, sd_bus_error* error);
int methodIncomingState(sd_bus_message* m, IncomingControl* target, sd_bus_error* error);
int methodRecoverIncoming(sd_bus_message* m, IncomingControl* target,
                          const std::shared_ptr<BusLoop>& loop, sd_bus_error* error);
int methodMigrate(sd_bus_message* m, void* userdata, sd_bus_error* error);
int methodCancelMigration(sd_bus_message* m, void* userdata, sd_bus_error* error);
int methodStartWithOptions(sd_bus_message* m, void* userdata, sd_bus_error* error);
int getMigrationState(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                      void* userdata, sd_bus_error*);
int getMigrationProgress(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                         void* userdata, sd_bus_error*);

// Instance.AttachDeviceWithOptions and DetachWithOptions: option persist also changes the
// definition file (persist_dbus.cpp).
int methodAttachDeviceWithOptions(sd_bus_message* m, void* userdata, sd_bus_error* error);
int methodDetachWithOptions(sd_bus_message* m, void* userdata, sd_bus_error* error);

// Managed save (dbus_save.cpp): Instance.Save() and the HasSavedState getter.
int methodSave(sd_bus_message* m, void* userdata, sd_bus_error* error);
int getHasSavedState(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                     void* userdata, sd_bus_error*);

// Instance.GuestInfo() (dbus_guest_info.cpp).
int methodGuestInfo(sd_bus_message* m, void* userdata, sd_bus_error* error);

// Copies an a{sv} into plain entries for the validators in dbus_args: strings and booleans with
// their value, any other type by its signature only, so that the refusal can name it. Stops
// after kMaxOptionEntries + 1 entries, which the validators refuse whatever follows.
int readOptionDict(sd_bus_message* m, OptionDict& out);
// The loop under every a{sv} reader: for each entry, `entry(m, key, type)` reads (or skips) the
// variant, `type` being its contents' signature, and returns how many entries are kept so far
// or a negative errno. Reading stops, returning 0, once more than `limit` are kept (the caller
// refuses that many anyway).
int readVariantDict(
    sd_bus_message* m, std::size_t limit,
    const std::function<int(sd_bus_message* m, const char* key, const std::string& type)>& entry);

// Instance.Screenshot and the Display property (dbus_display.cpp).
int methodScreenshot(sd_bus_message* m, void* userdata, sd_bus_error* error);
int getDisplayProperty(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                       void* userdata, sd_bus_error*);

// Instance.ResizeDisk, SetDiskLimits and GetDiskLimits (dbus_disks.cpp).
int methodResizeDisk(sd_bus_message* m, void* userdata, sd_bus_error* error);
int methodSetDiskLimits(sd_bus_message* m, void* userdata, sd_bus_error* error);
int methodGetDiskLimits(sd_bus_message* m, void* userdata, sd_bus_error* error);

// Instance.Snapshot, ListSnapshots, RevertSnapshot and DeleteSnapshot (dbus_snapshot.cpp).
int methodSnapshot(sd_bus_message* m, void* userdata, sd_bus_error* error);
int methodListSnapshots(sd_bus_message* m, void* userdata, sd_bus_error* error);
int methodRevertSnapshot(sd_bus_message* m, void* userdata, sd_bus_error* error);
int methodDeleteSnapshot(sd_bus_message* m, void* userdata, sd_bus_error* error);
// Instance.Backup, CancelBackup, ListBackups, BackupState and BackupProgress (dbus_backup.cpp).
int methodBackup(sd_bus_message* m, void* userdata, sd_bus_error* error);
int methodCancelBackup(sd_bus_message* m, void* userdata, sd_bus_error* error);
int methodListBackups(sd_bus_message* m, void* userdata, sd_bus_error* error);
int getBackupState(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                   void* userdata, sd_bus_error*);
int getBackupProgress(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                      void* userdata, sd_bus_error*);

// Manager.Define (registry in userdata) and Instance.Update, Undefine, GetDefinition
// (dbus_define.cpp).
int methodDefine(sd_bus_message* m, Registry& registry, sd_bus_error* error);
int methodUpdate(sd_bus_message* m, void* userdata, sd_bus_error* error);
int methodUndefine(sd_bus_message* m, void* userdata, sd_bus_error* error);
int methodGetDefinition(sd_bus_message* m, void* userdata, sd_bus_error* error);

}  // namespace corral::supervisor
