// XEP-0082 date and time profiles: the DateTime of delay stamps (XEP-0203) and of archive
// queries (XEP-0313), as microseconds since the Unix epoch, UTC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hongyan::datetime {

// "2026-12-03T15:45:43.123456Z".
std::string format_us(std::int64_t us);
// CCYY-MM-DDThh:mm:ss[.sss...](Z|(+|-)hh:mm); nullopt for anything else or an impossible
// date. Fractions past microseconds are cut.
std::optional<std::int64_t> parse_us(std::string_view text);
// Now, in microseconds since the epoch.
std::int64_t now_us();

}  // namespace hongyan::datetime
