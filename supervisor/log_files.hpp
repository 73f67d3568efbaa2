// A VM's log files in <log_dir>/<name>/ (qemu.log, console.log): corrald's own lines in qemu.log,
// the reason qemu gave for an exit, and rotation bounded in size. qemu keeps its descriptors of
// both files open for as long as it runs, so a running VM's file is rotated by copy and truncate
// (logrotate's copytruncate): its writes are O_APPEND and land at the start of the emptied file.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace corral::supervisor {

// [logs] in corral.toml: each of FILE.1 ... FILE.<keep> holds at most `maxBytes`, and FILE is
// rotated once it has reached `maxBytes` (at a start, or at the next check while qemu runs).
struct LogBound {
    std::uint64_t maxBytes = std::uint64_t{1} << 20;
    unsigned keep = 5;
};

// The accepted ranges of [logs] max_size and keep.
inline constexpr std::uint64_t kMinLogBytes = 4096;
inline constexpr std::uint64_t kMaxLogBytes = std::uint64_t{1} << 30;
inline constexpr unsigned kMaxLogKeep = 100;

// How often corrald looks at the size of a running VM's logs.
inline constexpr std::chrono::seconds kLogCheckInterval{10};

// What one rotation did.
struct Rotation {
    bool rotated = false;
    std::uint64_t droppedBytes = 0;  // the oldest part of a file that had grown past maxBytes
};

// If `file` has reached `bound.maxBytes`: FILE.<keep-1> becomes FILE.<keep> (the oldest goes),
// ..., FILE.1 becomes FILE.2, the last maxBytes of FILE are copied to FILE.1 (written to a
// temporary file and renamed, same mode and group) and FILE is truncated to 0. Lines a writer
// appends between the copy and the truncation are lost. A missing FILE is no error. On failure
// the sentence names the file; FILE is then left as it was.
std::optional<std::string> rotateLog(const std::filesystem::path& file, const LogBound& bound,
                                     Rotation& done);

// Appends "<UTC time, as qemu's -msg timestamp=on writes it> corrald: <text>\n" to `file`; a
// sentence if that failed.
std::optional<std::string> appendCorraldLine(const std::filesystem::path& file,
                                             std::string_view text);

// qemu's own reason for its last exit or refusal to start: the last line of qemu.log in its error
// form "[TIMESTAMP ]PROGRAM: message" (a hint such as "Use -machine help ..." may follow it),
// without the timestamp, else the last non-empty line, of the lines after corrald's last
// "starting qemu" line (corrald's own lines skipped). Reads the file's last 64 KiB only. "" when
// there is none.
std::string lastQemuLine(const std::filesystem::path& file);

}  // namespace corral::supervisor
