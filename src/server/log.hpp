#pragma once

#include <string>

namespace hongyan {
// Logs to stderr with timestamps at the given level ("trace" ... "off").
void setup_logging(const std::string& level);
}  // namespace hongyan
