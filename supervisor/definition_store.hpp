// Instance files on disk: written so that a reader (Reload, a crash, a power cut) sees the old
// file or the new one and never a part of either, and removed durably. Plain POSIX, no bus.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace corral::supervisor {

// Define, Update and GetDefinition handle at most this much text (1 MiB): far more than any
// definition needs, small enough for any D-Bus message limit.
inline constexpr std::size_t kMaxDefinitionBytes = 1u << 20;

struct StoreError {
    enum class What { Exists, Failed } what = What::Failed;
    std::string message;  // names the file and the errno text
};

enum class Replace { No, Yes };

// Writes `text` to `file` (mode `mode`, 0644 unless given): a temp file ".<name>.tmp-XXXXXX" in the
// same directory (O_EXCL), fsync, rename over `file`, fsync of the directory. With Replace::No an
// existing `file` is left alone and What::Exists returned (renameat2 RENAME_NOREPLACE, or link(2)
// where the file system lacks it). On every failure the temp file is gone and `file` is untouched.
std::optional<StoreError> writeDefinitionFile(const std::filesystem::path& file,
                                              std::string_view text, Replace replace,
                                              unsigned mode = 0644);

// Unlinks `file` and fsyncs its directory; a file already gone is not an error.
std::optional<StoreError> removeDefinitionFile(const std::filesystem::path& file);

// The file's bytes exactly; an error for a file that cannot be read or is larger than
// kMaxDefinitionBytes.
std::optional<std::string> readDefinitionFile(const std::filesystem::path& file,
                                              std::string& problem);

}  // namespace corral::supervisor
