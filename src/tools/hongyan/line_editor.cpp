#include "tools/hongyan/line_editor.hpp"

#include <cwchar>

namespace hongyan::cli {

namespace {

bool continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

bool word_char(char c) {
    return c != ' ' && c != '\t';
}

}  // namespace

std::size_t display_width(const std::string& text) {
    std::mbstate_t state{};
    std::size_t width = 0;
    const char* p = text.data();
    const char* end = p + text.size();
    while (p < end) {
        wchar_t wc = 0;
        std::size_t n = std::mbrtowc(&wc, p, static_cast<std::size_t>(end - p), &state);
        if (n == static_cast<std::size_t>(-1) || n == static_cast<std::size_t>(-2)) {
            // Not UTF-8 in this locale: one column per byte, as most terminals show it.
            state = {};
            ++width;
            ++p;
            continue;
        }
        if (n == 0) n = 1;
        int w = ::wcwidth(wc);
        width += w > 0 ? static_cast<std::size_t>(w) : 0;
        p += n;
    }
    return width;
}

std::size_t LineEditor::prev_char(std::size_t at) const {
    if (at == 0) return 0;
    --at;
    while (at > 0 && continuation(text_[at])) --at;
    return at;
}

std::size_t LineEditor::next_char(std::size_t at) const {
    if (at >= text_.size()) return text_.size();
    ++at;
    while (at < text_.size() && continuation(text_[at])) ++at;
    return at;
}

void LineEditor::recall(int step) {
    if (history_.empty()) return;
    if (recalled_ == history_.size()) typed_ = text_;
    if (step < 0 && recalled_ > 0) --recalled_;
    if (step > 0 && recalled_ < history_.size()) ++recalled_;
    text_ = recalled_ == history_.size() ? typed_ : history_[recalled_];
    cursor_ = text_.size();
}

// The final byte of an escape sequence (ESC [ params final, or ESC O final).
void LineEditor::key(char final_byte, const std::string& params) {
    switch (final_byte) {
        case 'C':
            cursor_ = next_char(cursor_);
            break;
        case 'D':
            cursor_ = prev_char(cursor_);
            break;
        case 'A':
            recall(-1);
            break;
        case 'B':
            recall(+1);
            break;
        case 'H':
            cursor_ = 0;
            break;
        case 'F':
            cursor_ = text_.size();
            break;
        case '~':
            if (params == "3") {
                text_.erase(cursor_, next_char(cursor_) - cursor_);
            } else if (params == "1" || params == "7") {
                cursor_ = 0;
            } else if (params == "4" || params == "8") {
                cursor_ = text_.size();
            }
            break;
        default:
            break;
    }
}

std::optional<LineEditor::Event> LineEditor::feed(char c) {
    if (esc_ == Esc::escape) {
        esc_ = (c == '[' || c == 'O') ? Esc::csi : Esc::none;
        esc_params_.clear();
        return std::nullopt;
    }
    if (esc_ == Esc::csi) {
        if ((c >= '0' && c <= '9') || c == ';') {
            esc_params_ += c;
        } else {
            esc_ = Esc::none;
            key(c, esc_params_);
        }
        return std::nullopt;
    }
    switch (c) {
        case '\x1b':
            esc_ = Esc::escape;
            return std::nullopt;
        case '\r':
        case '\n': {
            Event e{Event::line, std::move(text_)};
            text_.clear();
            cursor_ = 0;
            if (!e.text.empty() && (history_.empty() || history_.back() != e.text))
                history_.push_back(e.text);
            recalled_ = history_.size();
            typed_.clear();
            return e;
        }
        case '\x03':  // ^C
            return Event{Event::quit, {}};
        case '\x04':  // ^D: end of input on an empty line, else delete forward
            if (text_.empty()) return Event{Event::quit, {}};
            text_.erase(cursor_, next_char(cursor_) - cursor_);
            return std::nullopt;
        case '\x7f':
        case '\x08': {
            std::size_t from = prev_char(cursor_);
            text_.erase(from, cursor_ - from);
            cursor_ = from;
            return std::nullopt;
        }
        case '\x01':
            cursor_ = 0;
            return std::nullopt;
        case '\x05':
            cursor_ = text_.size();
            return std::nullopt;
        case '\x02':
            cursor_ = prev_char(cursor_);
            return std::nullopt;
        case '\x06':
            cursor_ = next_char(cursor_);
            return std::nullopt;
        case '\x15':  // ^U
            text_.erase(0, cursor_);
            cursor_ = 0;
            return std::nullopt;
        case '\x0b':  // ^K
            text_.erase(cursor_);
            return std::nullopt;
        case '\x17': {  // ^W: the spaces before the cursor, then the word
            std::size_t from = cursor_;
            while (from > 0 && !word_char(text_[from - 1])) --from;
            while (from > 0 && word_char(text_[from - 1])) --from;
            text_.erase(from, cursor_ - from);
            cursor_ = from;
            return std::nullopt;
        }
        default:
            break;
    }
    if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;  // other control keys
    text_.insert(cursor_, 1, c);
    ++cursor_;
    return std::nullopt;
}

std::string LineEditor::render() const {
    std::string out = clear() + prompt_ + text_;
    std::size_t back = display_width(text_.substr(cursor_));
    if (back > 0) out += "\x1b[" + std::to_string(back) + "D";
    return out;
}

}  // namespace hongyan::cli
