// The line editor of `hongyan chat`: a prompt line the user edits while messages are printed
// above it. It knows keys and UTF-8, not the terminal: feed() takes the bytes typed (raw
// mode) and says when a line is done; render() is what redraws the line.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace hongyan::cli {

class LineEditor {
  public:
    struct Event {
        enum Kind { line, quit } kind;
        std::string text;  // the line entered (kind line)
    };

    explicit LineEditor(std::string prompt) : prompt_(std::move(prompt)) {}

    // One byte typed. Keys: printable text (UTF-8) inserts; Enter ends the line; Backspace,
    // Delete, Left, Right, Home/^A, End/^E, ^U (to the start), ^K (to the end), ^W (a word
    // back), Up/Down (earlier lines); ^D on an empty line and ^C quit.
    std::optional<Event> feed(char c);

    // Clears the terminal line and draws prompt and text, with the cursor in place.
    std::string render() const;
    // Clears the terminal line, so that something else can be printed there.
    static std::string clear() { return "\r\x1b[K"; }

    const std::string& text() const { return text_; }
    std::size_t cursor() const { return cursor_; }  // a byte offset in text()

  private:
    std::size_t prev_char(std::size_t at) const;
    std::size_t next_char(std::size_t at) const;
    void key(char final_byte, const std::string& params);
    void recall(int step);

    std::string prompt_;
    std::string text_;
    std::size_t cursor_ = 0;
    std::vector<std::string> history_;
    std::size_t recalled_ = 0;  // index into history_; history_.size(): the line being typed
    std::string typed_;         // the line being typed while an earlier one is shown
    enum class Esc { none, escape, csi } esc_ = Esc::none;
    std::string esc_params_;
};

// Columns `text` takes on a terminal (wide characters count two).
std::size_t display_width(const std::string& text);

}  // namespace hongyan::cli
