#include "results/char_escape.hpp"

namespace fabricbench::results::detail {

std::string escape_chars(std::string_view text, std::initializer_list<CharEscape> table) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (const char ch : text) {
    const CharEscape* match = nullptr;
    for (const auto& e : table) {
      if (e.ch == ch) {
        match = &e;
        break;
      }
    }
    if (match != nullptr) {
      out += match->with;
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace fabricbench::results::detail
