#include "supervisor/persist_toml.hpp"

#include <cstdio>
#include <vector>

namespace corral::supervisor {
namespace {

std::string tomlString(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", u);
            out += escaped;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string tomlValue(const hypervisor::OptionValue& value) {
    if (const auto* text = std::get_if<std::string>(&value)) return tomlString(*text);
    return std::get<bool>(value) ? "true" : "false";
}

std::string_view trim(std::string_view line) {
    auto first = line.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    auto last = line.find_last_not_of(" \t\r\n");
    return line.substr(first, last - first + 1);
}

struct Line {
    std::size_t begin;
    std::size_t end;  // after its newline
    std::string_view text;
};

std::vector<Line> splitLines(std::string_view text) {
    std::vector<Line> lines;
    std::size_t at = 0;
    while (at < text.size()) {
        auto newline = text.find('\n', at);
        auto end = newline == std::string_view::npos ? text.size() : newline + 1;
        lines.push_back({at, end, text.substr(at, end - at)});
        at = end;
    }
    return lines;
}

// A table header line, "[x]" or "[[x]]" (a comment may follow), outside multi-line strings.
bool isHeader(std::string_view line) {
    return trim(line).starts_with('[');
}

// What the header names without brackets and spaces: "[[ disk ]] # x" -> "[[disk]]".
std::string headerName(std::string_view line) {
    std::string out;
    for (char c : trim(line)) {
        if (c == '#') break;
        if (c != ' ' && c != '\t') out += c;
    }
    return out;
}

// The value of a line `id = "..."` or `id = '...'`, if it is one.
std::optional<std::string> idValue(std::string_view line) {
    auto t = trim(line);
    if (!t.starts_with("id")) return std::nullopt;
    t = trim(t.substr(2));
    if (!t.starts_with('=')) return std::nullopt;
    t = trim(t.substr(1));
    if (t.size() < 2 || (t[0] != '"' && t[0] != '\'')) return std::nullopt;
    auto close = t.find(t[0], 1);
    if (close == std::string_view::npos) return std::nullopt;
    return std::string(t.substr(1, close - 1));
}

bool blankOrComment(std::string_view line) {
    auto t = trim(line);
    return t.empty() || t.starts_with('#');
}

}  // namespace

std::string withDeviceTable(std::string_view definition, const hypervisor::Device& device) {
    std::string out(definition);
    if (!out.empty() && out.back() != '\n') out += '\n';
    if (!out.empty()) out += '\n';
    out += "[[" + std::string(device.kindName()) + "]]\n";
    out += "id = " + tomlString(device.id) + "\n";
    for (const auto& option : device.kind->options) {
        auto it = device.options.find(option.key);
        if (it == device.options.end()) continue;
        if (option.fallback && *option.fallback == it->second) continue;
        out += std::string(option.key) + " = " + tomlValue(it->second) + "\n";
    }
    return out;
}

std::optional<std::string> withoutDeviceTable(std::string_view definition,
                                              const hypervisor::DeviceKind& kind,
                                              std::string_view id) {
    auto lines = splitLines(definition);
    std::vector<std::size_t> headers;  // line indexes of table headers
    bool inMultiline = false;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (!inMultiline && isHeader(lines[i].text)) headers.push_back(i);
        for (std::string_view quote : {"\"\"\"", "'''"}) {
            std::size_t count = 0;
            for (auto at = lines[i].text.find(quote); at != std::string_view::npos;
                 at = lines[i].text.find(quote, at + 3))
                ++count;
            if (count % 2) inMultiline = !inMultiline;
        }
    }
    const std::string wanted = "[[" + std::string(kind.name) + "]]";
    std::size_t index = 0;
    for (std::size_t h = 0; h < headers.size(); ++h) {
        if (headerName(lines[headers[h]].text) != wanted) continue;
        std::size_t first = headers[h];
        std::size_t stop = h + 1 < headers.size() ? headers[h + 1] : lines.size();
        std::string tableId = std::string(kind.idPrefix) + std::to_string(index++);
        for (std::size_t i = first + 1; i < stop; ++i)
            if (auto given = idValue(lines[i].text)) tableId = *given;
        if (tableId != id) continue;
        std::size_t last = stop;  // one past the last key line
        while (last > first + 1 && blankOrComment(lines[last - 1].text)) --last;
        if (first > 0 && trim(lines[first - 1].text).empty()) --first;
        std::string out(definition.substr(0, lines[first].begin));
        out += definition.substr(lines[last - 1].end);
        return out;
    }
    return std::nullopt;
}

}  // namespace corral::supervisor
