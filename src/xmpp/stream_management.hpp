// XEP-0198 values both ends read: the counts in <a h/>, <resumed h/>, <failed h/> and the
// 'max' of <enable/>, unsigned 32-bit decimal integers (§4, §5).
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hongyan {

// The number, or nothing when the text is empty, not all digits, or beyond 2^32 - 1.
inline std::optional<std::uint32_t> parse_sm_count(std::string_view s) {
    std::uint32_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace hongyan
