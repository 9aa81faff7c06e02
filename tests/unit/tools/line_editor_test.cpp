#include "tools/hongyan/line_editor.hpp"

#include <gtest/gtest.h>

#include <clocale>

namespace hongyan::cli {
namespace {

// Feeds the keys; returns the lines entered, "<quit>" for a quit.
std::vector<std::string> type(LineEditor& e, const std::string& keys) {
    std::vector<std::string> out;
    for (char c : keys)
        if (auto ev = e.feed(c))
            out.push_back(ev->kind == LineEditor::Event::quit ? "<quit>" : ev->text);
    return out;
}

const std::string left = "\x1b[D", right = "\x1b[C", up = "\x1b[A", down = "\x1b[B";

TEST(LineEditor, InsertsAtTheCursorAndEndsLines) {
    LineEditor e("> ");
    EXPECT_EQ(type(e, "wrld" + left + left + left + "o\r"), std::vector<std::string>{"world"});
    EXPECT_EQ(e.text(), "");
    EXPECT_EQ(type(e,
                   "ab\x01"
                   "c\x05"
                   "d\n"),
              std::vector<std::string>{"cabd"});
}

TEST(LineEditor, DeletesCharactersWordsAndLines) {
    LineEditor e("> ");
    EXPECT_EQ(type(e,
                   "junk\x15"
                   "fine\r"),
              std::vector<std::string>{"fine"});
    EXPECT_EQ(type(e, "one two  \x17three\r"), std::vector<std::string>{"one three"});
    EXPECT_EQ(type(e,
                   "abc\x7f\x7f"
                   "d\r"),
              std::vector<std::string>{"ad"});
    EXPECT_EQ(type(e, "abcd" + left + left + "\x0b\r"), std::vector<std::string>{"ab"});
    EXPECT_EQ(type(e, "abc\x01\x1b[3~\r"), std::vector<std::string>{"bc"});
}

TEST(LineEditor, BackspaceAndArrowsMoveByWholeUtf8Characters) {
    LineEditor e("> ");
    // 你 and 好 are three bytes each.
    EXPECT_EQ(type(e, "\xe4\xbd\xa0\xe5\xa5\xbd" + left + "x\r"),
              std::vector<std::string>{"\xe4\xbd\xa0x\xe5\xa5\xbd"});
    EXPECT_EQ(type(e,
                   "a\xe5\xa5\xbd\x7f"
                   "b\r"),
              std::vector<std::string>{"ab"});
}

TEST(LineEditor, RecallsEarlierLines) {
    LineEditor e("> ");
    type(e, "first\rsecond\r");
    EXPECT_EQ(type(e, "draft" + up + up + "!\r"), std::vector<std::string>{"first!"});
    type(e, up + up + down + down);
    EXPECT_EQ(e.text(), "");
    EXPECT_EQ(type(e, "x" + up + down + "y\r"), std::vector<std::string>{"xy"});
}

TEST(LineEditor, QuitsOnControlCAndOnControlDWhenEmpty) {
    LineEditor e("> ");
    EXPECT_EQ(type(e, "ab" + left + "\x04\r"), std::vector<std::string>{"a"});
    EXPECT_EQ(type(e, "\x04"), std::vector<std::string>{"<quit>"});
    EXPECT_EQ(type(e, "text\x03"), std::vector<std::string>{"<quit>"});
}

TEST(LineEditor, RenderPutsTheCursorBackByColumns) {
    std::setlocale(LC_CTYPE, "C.UTF-8");
    LineEditor e("> ");
    type(e,
         "a\xe4\xbd\xa0"
         "b" +
             left + left);
    // 你 is two columns wide: the cursor goes back three columns, before it.
    EXPECT_EQ(e.render(),
              "\r\x1b[K> a\xe4\xbd\xa0"
              "b\x1b[3D");
    EXPECT_EQ(display_width("\xe4\xbd\xa0\xe5\xa5\xbd"), 4u);
}

}  // namespace
}  // namespace hongyan::cli
