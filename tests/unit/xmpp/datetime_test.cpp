// XEP-0082 DateTime: what archive queries (XEP-0313 start/end) and delay stamps use.
#include "xmpp/datetime.hpp"

#include <gtest/gtest.h>

namespace hongyan::datetime {
namespace {

TEST(DateTime, FormatsInUtcWithMicroseconds) {
    EXPECT_EQ(format_us(0), "1970-01-01T00:00:00.000000Z");
    EXPECT_EQ(format_us(1'764'776'743'123'456), "2025-12-03T15:45:43.123456Z");
}

TEST(DateTime, ParsesWhatItFormatsAndTheOtherProfiles) {
    for (std::int64_t us : {std::int64_t{0}, std::int64_t{1'764'776'743'123'456},
                            std::int64_t{951'782'400'000'000}})  // 2000-02-29
        EXPECT_EQ(parse_us(format_us(us)), us);
    // XEP-0082 §3.2 examples: no fraction, a time zone offset, a long fraction.
    EXPECT_EQ(parse_us("1969-07-21T02:56:15Z"), std::int64_t{-14'159'025} * 1'000'000);
    EXPECT_EQ(parse_us("1969-07-20T21:56:15-05:00"), std::int64_t{-14'159'025} * 1'000'000);
    EXPECT_EQ(parse_us("2002-09-10T23:08:25.123456789+02:00"),
              std::int64_t{1'031'692'105} * 1'000'000 + 123'456);
}

TEST(DateTime, RefusesWhatIsNotADateTime) {
    for (const char* bad :
         {"", "yesterday", "2002-09-10", "2002-09-10T23:08:25", "2002-13-10T23:08:25Z",
          "2002-02-30T23:08:25Z", "2002-09-10T24:00:00Z", "2002-09-10T23:08:25.Z",
          "2002-09-10T23:08:25+2:00", "2002-09-10T23:08:25Zjunk", "2002-09-10 23:08:25Z"})
        EXPECT_FALSE(parse_us(bad)) << bad;
}

}  // namespace
}  // namespace hongyan::datetime
