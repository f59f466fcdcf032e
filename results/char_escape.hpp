#pragma once
// Internal to fb_results: escaping text character by character for an output format (HTML and
// XML entities, markdown table cells, OpenMetrics label values).
#include <initializer_list>
#include <string>
#include <string_view>

namespace fabricbench::results::detail {

// A character and what stands for it in the output.
struct CharEscape {
  char ch;
  std::string_view with;
};

// `text` with every character that has an entry in `table` replaced by that entry's text.
std::string escape_chars(std::string_view text, std::initializer_list<CharEscape> table);

}  // namespace fabricbench::results::detail
