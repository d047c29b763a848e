// kb_eval.h — runs the knowledge-base evaluation set (eval.tsv) and the
// negative corpus (negative.log) through the parser and matcher, and computes
// per-signature agreement and per-slug precision and recall.
//
// eval.tsv: `expected_signature<TAB>expected_slugs<TAB>line`, `-` for "no
// diagnosis"; expected_slugs is a comma-separated list (the slugs the guide's
// catalogue ties the trigger to). negative.log: one line per line, none of which
// may yield a diagnosis. Lines starting with '#' are comments in both files.
//
// For one line, the predicted slugs are the sections of the signature that
// matched (none when nothing matched); per slug, a line counts as a true
// positive when the slug is both expected and predicted, a false positive when
// only predicted, a false negative when only expected.
#pragma once

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/matcher.h"
#include "tunneldoc/parse.h"

namespace tunneldoc::kbeval {

struct Row {
  std::string expected;         // signature id or "-"
  std::set<std::string> slugs;  // expected slugs
  std::string line;
  int number = 0;  // 1-based line number in its file
};

struct Mismatch {
  std::string file;
  int number = 0;
  std::string expected;
  std::string got;  // "-" when nothing matched
  std::string line;
};

struct SlugCounts {
  int tp = 0, fp = 0, fn = 0;
  double precision() const { return tp + fp == 0 ? 1.0 : double(tp) / (tp + fp); }
  double recall() const { return tp + fn == 0 ? 1.0 : double(tp) / (tp + fn); }
};

struct Result {
  int eval_lines = 0;
  int negative_lines = 0;
  int negative_hits = 0;
  std::vector<Mismatch> mismatches;                    // eval and negative lines that got the wrong answer
  std::map<std::string, SlugCounts> per_slug;          // predicted = every section of the signature
  std::map<std::string, SlugCounts> per_slug_primary;  // predicted = its first (primary) section only
  bool ok() const { return mismatches.empty(); }
};

// "0.83": two decimals, for the Markdown reports.
inline std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t b = 0;
  for (;;) {
    const std::size_t e = s.find(sep, b);
    out.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) return out;
    b = e + 1;
  }
}

// Calls `row(text, number)` for each data line of `path` (blank lines and
// lines starting with '#' are skipped); an unreadable file is a problem.
template <class F>
void for_each_data_line(const std::string& path, std::vector<std::string>& problems, F row) {
  std::ifstream in(path);
  if (!in) problems.push_back(path + ": cannot read");
  std::string text;
  int n = 0;
  while (std::getline(in, text)) {
    ++n;
    if (text.empty() || text[0] == '#') continue;
    row(text, n);
  }
}

// Reads eval.tsv; malformed rows are reported in `problems`.
inline std::vector<Row> read_eval(const std::string& path, std::vector<std::string>& problems) {
  std::vector<Row> rows;
  for_each_data_line(path, problems, [&](const std::string& text, int n) {
    const std::size_t t1 = text.find('\t');
    const std::size_t t2 = t1 == std::string::npos ? t1 : text.find('\t', t1 + 1);
    if (t2 == std::string::npos) {
      problems.push_back(path + ":" + std::to_string(n) + ": needs three tab-separated columns");
      return;
    }
    Row r;
    r.expected = text.substr(0, t1);
    for (const auto& s : split(text.substr(t1 + 1, t2 - t1 - 1), ','))
      if (!s.empty() && s != "-") r.slugs.insert(s);
    r.line = text.substr(t2 + 1);
    r.number = n;
    rows.push_back(std::move(r));
  });
  return rows;
}

inline std::vector<Row> read_negative(const std::string& path, std::vector<std::string>& problems) {
  std::vector<Row> rows;
  for_each_data_line(path, problems, [&](const std::string& text, int n) { rows.push_back({"-", {}, text, n}); });
  return rows;
}

inline void count(const std::set<std::string>& predicted, const std::set<std::string>& expected,
                  std::map<std::string, SlugCounts>& per_slug) {
  for (const auto& s : predicted) {
    if (expected.count(s)) {
      ++per_slug[s].tp;
    } else {
      ++per_slug[s].fp;
    }
  }
  for (const auto& s : expected)
    if (!predicted.count(s)) ++per_slug[s].fn;
}

// The signature that diagnoses `line`: clearing and observed lines are
// recognised but diagnose nothing.
inline const Signature* diagnosing(const Matcher& matcher, std::string_view line, Fields& fields) {
  const Signature* sig = matcher.match(parse_line(line), fields);
  return sig != nullptr && sig->role == Role::diagnosis ? sig : nullptr;
}

inline void score(const Matcher& matcher, const std::vector<Row>& rows, const std::string& file, Result& out,
                  bool negative) {
  Fields fields;
  for (const Row& r : rows) {
    const Signature* sig = diagnosing(matcher, r.line, fields);
    const std::string got = sig ? sig->id : "-";
    if (negative) {
      ++out.negative_lines;
      if (sig) ++out.negative_hits;
    } else {
      ++out.eval_lines;
    }
    if (got != r.expected) out.mismatches.push_back({file, r.number, r.expected, got, r.line});
    std::set<std::string> predicted, primary;
    if (sig) {
      predicted.insert(sig->sections.begin(), sig->sections.end());
      if (!sig->sections.empty()) primary.insert(sig->sections.front());
    }
    count(predicted, r.slugs, out.per_slug);
    count(primary, r.slugs, out.per_slug_primary);
  }
}

inline Result evaluate(const std::shared_ptr<const KnowledgeBase>& kb, const std::string& eval_path,
                       const std::string& negative_path, std::vector<std::string>& problems) {
  Result out;
  const Matcher matcher(kb);
  score(matcher, read_eval(eval_path, problems), eval_path, out, false);
  score(matcher, read_negative(negative_path, problems), negative_path, out, true);
  return out;
}

// Markdown report: totals, mismatches, and one row per catalogue slug.
inline void report(const KnowledgeBase& kb, const Result& r, std::ostream& out) {
  out << "Evaluation lines: " << r.eval_lines << "; negative lines: " << r.negative_lines
      << " (diagnosed: " << r.negative_hits << "); wrong answers: " << r.mismatches.size() << "\n\n";
  for (const auto& m : r.mismatches)
    out << "MISMATCH " << m.file << ":" << m.number << ": expected " << m.expected << ", got " << m.got << ": "
        << m.line << "\n";
  out << "Per slug. \"all\": a line predicts every section of the signature it matched; \"primary\":\n"
         "only the signature's first section. Expected slugs come from the guide catalogue.\n\n"
      << "| slug | all TP | all FP | all FN | all precision | all recall | primary TP | primary FP | primary FN | "
         "primary precision | primary recall |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  SlugCounts all, prim;
  std::vector<std::string> untested;
  for (const auto& c : kb.catalogue()) {
    auto a = r.per_slug.find(c.slug);
    if (a == r.per_slug.end()) {
      untested.push_back(c.slug);
      continue;
    }
    SlugCounts p;
    if (auto it = r.per_slug_primary.find(c.slug); it != r.per_slug_primary.end()) p = it->second;
    const SlugCounts& s = a->second;
    all.tp += s.tp, all.fp += s.fp, all.fn += s.fn;
    prim.tp += p.tp, prim.fp += p.fp, prim.fn += p.fn;
    out << "| " << c.slug << " | " << s.tp << " | " << s.fp << " | " << s.fn << " | " << pct(s.precision()) << " | "
        << pct(s.recall()) << " | " << p.tp << " | " << p.fp << " | " << p.fn << " | " << pct(p.precision()) << " | "
        << pct(p.recall()) << " |\n";
  }
  out << "| (micro-average) | " << all.tp << " | " << all.fp << " | " << all.fn << " | " << pct(all.precision())
      << " | " << pct(all.recall()) << " | " << prim.tp << " | " << prim.fp << " | " << prim.fn << " | "
      << pct(prim.precision()) << " | " << pct(prim.recall()) << " |\n\n";
  out << "Slugs with no evaluation line (" << untested.size() << "):";
  for (const auto& s : untested) out << ' ' << s;
  out << "\n";
}

// ------------------------------------------------------------ real lines
//
// real.tsv: `expected_signature<TAB>expected_slugs<TAB>source<TAB>line`; every
// line is quoted from the public source named in its third column. Scored by
// section, not by signature id, so that knowledge bases with other ids (an
// older version) can be compared: a diagnosed line is correct when one of the
// signature's sections is an expected slug; a line with expected slugs is
// recalled when it is diagnosed correctly.

struct RealRow {
  std::string expected;         // signature id or "-"
  std::set<std::string> slugs;  // expected slugs; empty: no diagnosis expected
  std::string source;
  std::string line;
  int number = 0;
};

inline std::vector<RealRow> read_real(const std::string& path, std::vector<std::string>& problems) {
  std::vector<RealRow> rows;
  for_each_data_line(path, problems, [&](const std::string& text, int n) {
    const auto cols = split(text, '\t');
    if (cols.size() != 4 || cols[2].empty()) {
      problems.push_back(path + ":" + std::to_string(n) + ": needs four tab-separated columns, with a source");
      return;
    }
    RealRow r;
    r.expected = cols[0];
    for (const auto& s : split(cols[1], ','))
      if (!s.empty() && s != "-") r.slugs.insert(s);
    r.source = cols[2];
    r.line = cols[3];
    r.number = n;
    rows.push_back(std::move(r));
  });
  return rows;
}

struct LineScore {
  int lines = 0, problem_lines = 0, diagnosed = 0, correct = 0, recalled = 0;
  std::vector<Mismatch> wrong_signature;  // expected signature differs from the one matched
  double precision() const { return diagnosed == 0 ? 1.0 : double(correct) / diagnosed; }
  double recall() const { return problem_lines == 0 ? 1.0 : double(recalled) / problem_lines; }
};

inline void score_line(const Signature* sig, const std::set<std::string>& slugs, LineScore& s) {
  ++s.lines;
  if (!slugs.empty()) ++s.problem_lines;
  if (sig == nullptr) return;
  ++s.diagnosed;
  bool hit = false;
  for (const auto& sec : sig->sections) hit = hit || slugs.count(sec) != 0;
  if (hit) {
    ++s.correct;
    ++s.recalled;
  }
}

inline LineScore score_real(const Matcher& matcher, const std::vector<RealRow>& rows, const std::string& file) {
  LineScore out;
  Fields fields;
  for (const RealRow& r : rows) {
    const Signature* sig = diagnosing(matcher, r.line, fields);
    score_line(sig, r.slugs, out);
    const std::string got = sig ? sig->id : "-";
    if (got != r.expected) out.wrong_signature.push_back({file, r.number, r.expected, got, r.line});
  }
  return out;
}

// The same line score over eval.tsv (invented lines) and negative.log.
inline LineScore score_invented(const Matcher& matcher, const std::vector<Row>& eval,
                                const std::vector<Row>& negative) {
  LineScore out;
  Fields fields;
  for (const auto* rows : {&eval, &negative}) {
    for (const Row& r : *rows) score_line(diagnosing(matcher, r.line, fields), r.slugs, out);
  }
  return out;
}

// Markdown: line precision and recall on real lines, and on the invented set.
inline void report_lines(const LineScore& real, const LineScore& invented, std::ostream& out) {
  out << "## Evaluation\n\n"
      << "Generated by `kb_eval --lines signatures tests/kb/real.tsv tests/kb/eval.tsv tests/kb/negative.log`.\n"
      << "A diagnosed line is correct when one of its signature's sections is a slug the line is expected\n"
      << "to point to; precision = correct / diagnosed, recall = correctly diagnosed / lines that show a\n"
      << "problem. Real lines (`tests/kb/real.tsv`) are quoted from public sources, each named in the file;\n"
      << "the invented set (`tests/kb/eval.tsv` and `tests/kb/negative.log`) shares its wordings with the\n"
      << "patterns, so it cannot catch a wrong wording.\n\n"
      << "| set | lines | with a problem | diagnosed | correct | precision | recall "
         "|\n|---|---:|---:|---:|---:|---:|---:|\n"
      << "| real lines | " << real.lines << " | " << real.problem_lines << " | " << real.diagnosed << " | "
      << real.correct << " | " << pct(real.precision()) << " | " << pct(real.recall()) << " |\n"
      << "| invented lines | " << invented.lines << " | " << invented.problem_lines << " | " << invented.diagnosed
      << " | " << invented.correct << " | " << pct(invented.precision()) << " | " << pct(invented.recall()) << " |\n";
}

}  // namespace tunneldoc::kbeval
