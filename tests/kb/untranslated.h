// untranslated.h — what counts as an untranslated English sentence in a
// translated knowledge-base text (docs/knowledge-base.md, "Translations").
//
// A translation may keep English where English is what the reader types or
// reads on the device: commands, message ids and quoted message texts. So:
// - A quoted span (「…」, 『…』, "…" or `…`) is a literal, and skipped, when
//   its content (each piece around a "..." ellipsis) occurs, ignoring case, in
//   a literal of the knowledge base: a command, an example log line, an id, or
//   a span the English text itself quotes. Other quoted spans are checked like
//   the rest of the text.
// - Outside literals, a run of kEnglishRun or more English words separated
//   only by spaces is an untranslated sentence, unless the whole run is a
//   literal (a command written without quotes). A word is an ASCII letter
//   followed by letters, digits, '-' or '\''; anything else (a CJK character,
//   punctuation, a number, %ASA-3-305006) ends a run.
// - A translated text holds at least one CJK character.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace tunneldoc::untranslated {

inline constexpr int kEnglishRun = 4;

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The strings a translation may quote: commands, example lines, ids, and what
// the English quotes. Stored lower-case.
class Literals {
 public:
  void add(std::string_view s) {
    if (!trim(s).empty()) items_.push_back(lower(s));
  }
  // The quoted spans of an English text ("..." and `...`).
  void add_quoted(std::string_view english) {
    for (char q : {'"', '`'}) {
      std::size_t at = 0;
      while ((at = english.find(q, at)) != std::string_view::npos) {
        const std::size_t end = english.find(q, at + 1);
        if (end == std::string_view::npos) break;
        add(english.substr(at + 1, end - at - 1));
        at = end + 1;
      }
    }
  }
  // True when every piece of `content` around "..." occurs in some literal.
  bool covers(std::string_view content) const {
    std::string text(content);
    for (std::string_view dots : {"\xe2\x80\xa6", "..."}) {  // … and ...
      for (std::size_t at; (at = text.find(dots)) != std::string::npos;) text.replace(at, dots.size(), "\n");
    }
    std::size_t b = 0;
    bool any = false;
    for (;;) {
      const std::size_t e = text.find('\n', b);
      const std::string piece = lower(trim(std::string_view(text).substr(b, e == std::string::npos ? e : e - b)));
      if (!piece.empty()) {
        any = true;
        if (std::none_of(items_.begin(), items_.end(),
                         [&](const std::string& l) { return l.find(piece) != std::string::npos; }))
          return false;
      }
      if (e == std::string::npos) break;
      b = e + 1;
    }
    return any;
  }

 private:
  std::vector<std::string> items_;
};

// `text` with every literal quoted span replaced by a byte that ends a run.
inline std::string without_literals(std::string_view text, const Literals& literals) {
  struct Quote {
    std::string_view open, close;
  };
  static constexpr Quote kQuotes[] = {
      {"\xe3\x80\x8c", "\xe3\x80\x8d"},  // 「」
      {"\xe3\x80\x8e", "\xe3\x80\x8f"},  // 『』
      {"\"", "\""},
      {"`", "`"},
  };
  std::string out(text);
  for (const Quote& q : kQuotes) {
    std::size_t at = 0;
    while ((at = out.find(q.open, at)) != std::string::npos) {
      const std::size_t begin = at + q.open.size();
      const std::size_t end = out.find(q.close, begin);
      if (end == std::string::npos) break;
      if (literals.covers(std::string_view(out).substr(begin, end - begin))) {
        out.replace(at, end + q.close.size() - at, "\x80");
        at += 1;
      } else {
        at = end + q.close.size();
      }
    }
  }
  return out;
}

// The first run of kEnglishRun or more English words outside literals, or "".
// A run that is itself a literal (a command written without quotes) is fine.
inline std::string english_run(std::string_view text, const Literals& literals) {
  const std::string t = without_literals(text, literals);
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  auto word_char = [&](char c) { return letter(c) || (c >= '0' && c <= '9') || c == '-' || c == '\''; };
  int words = 0;
  std::size_t start = 0, end = 0;
  auto finish = [&]() -> std::string {
    std::string run = words >= kEnglishRun ? t.substr(start, end - start) : std::string();
    words = 0;
    return run.empty() || literals.covers(run) ? std::string() : run;
  };
  for (std::size_t i = 0; i < t.size();) {
    const char c = t[i];
    if (c == ' ') {
      ++i;
      continue;
    }
    if (letter(c) && (i == 0 || !word_char(t[i - 1]))) {
      std::size_t j = i;
      while (j < t.size() && word_char(t[j])) ++j;
      if (words++ == 0) start = i;
      end = i = j;
      continue;
    }
    // Anything else ends a run: CJK, punctuation, a number.
    if (std::string run = finish(); !run.empty()) return run;
    ++i;
  }
  return finish();
}

// True when `text` holds a CJK unified ideograph (U+4E00..U+9FFF).
inline bool has_cjk(std::string_view text) {
  for (std::size_t i = 0; i + 2 < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b >= 0xe4 && b <= 0xe9) return true;
  }
  return false;
}

}  // namespace tunneldoc::untranslated
