// Base64 (RFC 4648, with padding): how corral_run carries bytes through the negotiator's JSON,
// whose strings must be text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace corral::agent {

std::string encodeBase64(std::string_view bytes);
// nullopt unless `text` is padded base64 of the standard alphabet (no whitespace).
std::optional<std::string> decodeBase64(std::string_view text);

}  // namespace corral::agent
