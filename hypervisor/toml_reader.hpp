// Reading TOML tables with diagnostics (private to the instance loader). Every problem becomes a
// Diagnostic at the toml++ source position of the offending key or value; reading goes on after
// an error so that one run reports them all.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/device_options.hpp"
#include "hypervisor/instance_spec.hpp"

namespace corral::hypervisor {

using Keys = std::vector<std::string_view>;

// "a table", "an integer", ...
const char* typeName(toml::node_type type);
std::string inQuotes(std::string_view s);
// "\"pc\" | \"q35\"".
std::string choiceList(const std::vector<std::string_view>& choices);

// " by uid N (corrald checks and opens it as root: validate as root)" when the caller is not
// root, else "": why a file corrald can use may look unusable to corral-validate.
std::string nonRootHint();

class TomlReader {
  public:
    explicit TomlReader(std::string file) : file_(std::move(file)) {}

    std::vector<Diagnostic> diagnostics;

    void error(const toml::source_region& where, std::string message);

    // Reports keys of `table` that are not in `known`, with the closest known key as a hint.
    void checkKeys(const toml::table& table, const Keys& known, std::string_view section);

    // The value at `key` if it has type T (toml::table, toml::array or a native value type);
    // nullptr if absent or of another type, the latter reported.
    template <typename T>
    auto get(const toml::table& table, std::string_view key, std::string_view expected) {
        const toml::node* node = table.get(key);
        decltype(node->as<T>()) value = node ? node->as<T>() : nullptr;
        if (node && !value) {
            error(node->source(), std::string(key) + ": expected " + std::string(expected) +
                                      ", got " + typeName(node->type()));
        }
        return value;
    }

    // A string that must be one of the spellings of `values`.
    template <typename E, std::size_t N>
    std::optional<E> choice(const toml::table& table, std::string_view key,
                            const StringTable<E, N>& values) {
        auto* value = get<std::string>(table, key, "a string");
        if (!value) return std::nullopt;
        if (auto known = values.fromString(value->get())) return known;
        error(value->source(), std::string(key) + ": expected one of " +
                                   choiceList(spellings(values)) + ", got " +
                                   inQuotes(value->get()));
        return std::nullopt;
    }

    // A size such as "2G" of at least `min` bytes.
    void size(const toml::table& table, std::string_view key, std::uint64_t min,
              std::uint64_t& out);
    void integer(const toml::table& table, std::string_view key, std::int64_t min, std::int64_t max,
                 unsigned& out);
    void boolean(const toml::table& table, std::string_view key, bool& out);
    // What a path may name besides existing and being readable by corrald: anything but a
    // directory (an entropy source is a character device), a regular file (a kernel), or a
    // regular file or block device (a disk image).
    enum class PathKind { NotDirectory, RegularFile, Disk };
    void readablePath(const toml::table& table, std::string_view key, std::filesystem::path& out,
                      PathKind kind = PathKind::NotDirectory);
    // The tables of an array of tables such as [[disk]]; reports a plain [disk] as a type error.
    std::vector<const toml::table*> tables(const toml::table& root, std::string_view key);
    const toml::table* section(const toml::table& root, std::string_view key);

    // An option value its schema refused, at the value.
    void valueProblem(const toml::source_region& where, const OptionProblem& problem);
    // A rule between options of one device table (`section`, e.g. "[[nic]]") that failed.
    void ruleProblem(const toml::source_region& where, const std::string& section,
                     const OptionProblem& problem);

  private:
    std::string file_;
};

}  // namespace corral::hypervisor
