// The photo of a stored vCard (XEP-0054) as vCard-based avatars see it (XEP-0153): its
// hash for presence, and a vCard with a new photo, for the PEP avatar conversion of
// XEP-0398 (the pep module writes it, the vcard module announces it in presence).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hongyan::modules::vcard {

// The vcard module's table and key (one vCard per user).
inline constexpr const char* kTable = "vcards";
inline constexpr const char* kKey = "vcard";
inline constexpr std::string_view kUpdateNs = "vcard-temp:x:update";

// XEP-0153 §4.1: the SHA-1 of the PHOTO's image in lowercase hex; "" for a vCard with no
// photo (or one whose BINVAL is not base64).
std::string photo_hash(std::string_view vcard_xml);
// `vcard_xml` (or an empty vCard) with its PHOTO replaced by an image of MIME type `type`
// given in base64.
std::string with_photo(const std::optional<std::string>& vcard_xml, std::string_view type,
                       std::string_view base64);
// Base64 without the whitespace vCards and XML payloads wrap it in; nothing when invalid.
std::optional<std::string> decode_base64(std::string_view text);
std::string sha1_hex(std::string_view data);

}  // namespace hongyan::modules::vcard
