#include "hypervisor/toml_reader.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace corral::hypervisor {

namespace {

std::size_t editDistance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace

const char* typeName(toml::node_type type) {
    switch (type) {
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        default:
            return "a date/time";
    }
}

std::string inQuotes(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

// "\"pc\" | \"q35\"".
std::string choiceList(const std::vector<std::string_view>& choices) {
    std::string list;
    for (auto c : choices) list += (list.empty() ? "" : " | ") + inQuotes(c);
    return list;
}

void TomlReader::error(const toml::source_region& where, std::string message) {
    diagnostics.push_back({file_, static_cast<int>(where.begin.line),
                           static_cast<int>(where.begin.column), std::move(message)});
}

void TomlReader::checkKeys(const toml::table& table, const Keys& known, std::string_view section) {
    for (auto&& [key, value] : table) {
        if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
        std::string message = "unknown key " + inQuotes(key.str()) + " in " + std::string(section);
        std::string_view best;
        std::size_t bestDistance = 3;
        for (auto candidate : known) {
            std::size_t d = editDistance(key.str(), candidate);
            if (d < bestDistance) bestDistance = d, best = candidate;
        }
        if (!best.empty()) message += "; did you mean " + inQuotes(best) + "?";
        error(key.source(), message);
    }
}

void TomlReader::size(const toml::table& table, std::string_view key, std::uint64_t min,
                      std::uint64_t& out) {
    auto* value = get<std::string>(table, key, "a size string such as \"2G\"");
    if (!value) return;
    auto bytes = parseSize(value->get());
    if (!bytes) {
        error(value->source(), std::string(key) + ": expected a size such as \"512M\" or " +
                                   "\"2G\", got " + inQuotes(value->get()));
    } else if (*bytes < min) {
        error(value->source(), std::string(key) + ": " + inQuotes(value->get()) +
                                   " is too small; at least " + std::to_string(min >> 20) +
                                   "M is needed");
    } else {
        out = *bytes;
    }
}

void TomlReader::integer(const toml::table& table, std::string_view key, std::int64_t min,
                         std::int64_t max, unsigned& out) {
    auto* value = get<std::int64_t>(table, key, "an integer");
    if (!value) return;
    if (value->get() < min || value->get() > max) {
        error(value->source(), std::string(key) + ": expected an integer from " +
                                   std::to_string(min) + " to " + std::to_string(max) + ", got " +
                                   std::to_string(value->get()));
        return;
    }
    out = static_cast<unsigned>(value->get());
}

void TomlReader::boolean(const toml::table& table, std::string_view key, bool& out) {
    if (auto* value = get<bool>(table, key, "a boolean (true or false)")) out = value->get();
}

namespace {

// Why `path` (which exists) cannot serve as `kind`; empty when it can. stat follows symlinks, as
// qemu does when it opens the file.
std::string unfitFile(const std::filesystem::path& path, TomlReader::PathKind kind) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return "cannot be examined";
    auto type = st.st_mode & S_IFMT;
    if (type == S_IFDIR) return "is a directory";
    if (kind == TomlReader::PathKind::RegularFile && type != S_IFREG)
        return "is not a regular file";
    if (kind == TomlReader::PathKind::Disk && type != S_IFREG && type != S_IFBLK) {
        return type == S_IFCHR ? "is a character device, not a disk image or block device"
                               : "is neither a regular file nor a block device";
    }
    return {};
}

}  // namespace

std::string nonRootHint() {
    uid_t uid = ::geteuid();
    if (uid == 0) return {};
    return " by uid " + std::to_string(uid) +
           " (corrald checks and opens it as root: validate as root)";
}

void TomlReader::readablePath(const toml::table& table, std::string_view key,
                              std::filesystem::path& out, PathKind kind) {
    auto* value = get<std::string>(table, key, "a path string");
    if (!value) return;
    std::filesystem::path path = value->get();
    if (!path.is_absolute()) {
        error(value->source(),
              std::string(key) + ": expected an absolute path, got " + inQuotes(value->get()));
    } else if (::access(path.c_str(), F_OK) != 0) {
        // EACCES: a directory on the way may not be searched by whoever validates.
        error(value->source(),
              std::string(key) + ": " + inQuotes(value->get()) +
                  (errno == EACCES
                       ? " cannot be checked: " + std::string(std::strerror(EACCES)) + nonRootHint()
                       : " does not exist"));
    } else if (::access(path.c_str(), R_OK) != 0) {
        error(value->source(), std::string(key) + ": " + inQuotes(value->get()) +
                                   " is not readable" + nonRootHint());
    } else if (auto why = unfitFile(path, kind); !why.empty()) {
        error(value->source(), std::string(key) + ": " + inQuotes(value->get()) + " " + why);
    } else {
        out = path;
    }
}

std::vector<const toml::table*> TomlReader::tables(const toml::table& root, std::string_view key) {
    std::vector<const toml::table*> out;
    auto* array = get<toml::array>(root, key, "an array of tables ([[" + std::string(key) + "]])");
    if (!array) return out;
    for (auto& element : *array) {
        if (auto* table = element.as_table()) {
            out.push_back(table);
        } else {
            error(element.source(),
                  std::string(key) + ": expected a table, got " + typeName(element.type()));
        }
    }
    return out;
}

const toml::table* TomlReader::section(const toml::table& root, std::string_view key) {
    return get<toml::table>(root, key, "a table ([" + std::string(key) + "])");
}

void TomlReader::valueProblem(const toml::source_region& where, const OptionProblem& problem) {
    const auto& option = *problem.option;
    std::string key(option.key);
    if (problem.what == OptionProblem::What::NotAChoice) {
        error(where, key + ": expected one of " + choiceList(option.choices) + ", got " +
                         inQuotes(problem.value));
    } else if (!problem.reason.empty()) {
        error(where, key + ": expected " + std::string(option.expected) + ": " + problem.reason);
    } else {
        error(where, key + ": expected " + std::string(option.expected) + ", got " +
                         inQuotes(problem.value));
    }
}

void TomlReader::ruleProblem(const toml::source_region& where, const std::string& section,
                             const OptionProblem& problem) {
    const auto& option = *problem.option;
    std::string key(option.key);
    if (problem.what == OptionProblem::What::OnlyWith) {
        error(where, key + ": only meaningful with " + std::string(option.onlyWith->key) + " = " +
                         inQuotes(option.onlyWith->value));
    } else if (problem.what == OptionProblem::What::Needs) {
        error(where, section + ": " + std::string(option.onlyWith->key) + " = " +
                         inQuotes(option.onlyWith->value) + " needs " + inQuotes(key) + " (the " +
                         std::string(option.noun) + ")");
    } else if (problem.what == OptionProblem::What::Conflict) {
        error(where, key + ": " + problem.reason);
    } else {
        error(where, section + ": " + inQuotes(key) + " is required");
    }
}

}  // namespace corral::hypervisor
