// One string table per enum, used by every parser and printer of it (TOML, D-Bus arguments,
// properties, logs), so the spelling of a value exists once. Entries are listed in any order;
// lookups are linear, which for tables of a handful of rows beats anything cleverer.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace corral {

template <typename E, std::size_t N>
class StringTable {
  public:
    using Entry = std::pair<E, std::string_view>;

    constexpr explicit StringTable(std::array<Entry, N> entries) : entries_(entries) {}

    // The spelling of `value`; "" for a value missing from the table (a bug the tests catch).
    constexpr std::string_view toString(E value) const {
        for (const auto& [v, name] : entries_)
            if (v == value) return name;
        return {};
    }

    constexpr std::optional<E> fromString(std::string_view name) const {
        for (const auto& [v, n] : entries_)
            if (n == name) return v;
        return std::nullopt;
    }

    // "\"pc\" or \"q35\"" / "\"a\", \"b\" or \"c\"": for errors that list what is accepted.
    std::string expected() const {
        std::string out;
        for (std::size_t i = 0; i < N; ++i) {
            if (i > 0) out += i + 1 == N ? " or " : ", ";
            out.append("\"").append(entries_[i].second).append("\"");
        }
        return out;
    }

    constexpr const std::array<Entry, N>& entries() const { return entries_; }

  private:
    std::array<Entry, N> entries_;
};

// makeStringTable<E>({{E::A, "a"}, {E::B, "b"}}).
template <typename E, std::size_t N>
constexpr StringTable<E, N> makeStringTable(const std::pair<E, std::string_view> (&entries)[N]) {
    std::array<std::pair<E, std::string_view>, N> a{};
    for (std::size_t i = 0; i < N; ++i) a[i] = entries[i];
    return StringTable<E, N>(a);
}

}  // namespace corral
