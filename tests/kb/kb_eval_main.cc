// kb_eval — prints the knowledge-base evaluation report (per-slug precision and
// recall over tests/kb/eval.tsv and tests/kb/negative.log) and fails when any
// line gets the wrong signature.
//
//   kb_eval SIGNATURE_DIR EVAL_TSV NEGATIVE_LOG
//   kb_eval --lines SIGNATURE_DIR REAL_TSV EVAL_TSV NEGATIVE_LOG
//
// --lines prints line precision and recall on the real lines and on the
// invented set (the evaluation section of docs/coverage.md); it scores by
// section only, so it also runs against older knowledge bases.
#include <cstring>
#include <iostream>

#include "kb_eval.h"

int main(int argc, char** argv) {
  const bool lines = argc == 6 && std::strcmp(argv[1], "--lines") == 0;
  if (argc != 4 && !lines) {
    std::cerr << "usage: kb_eval SIGNATURE_DIR EVAL_TSV NEGATIVE_LOG\n"
                 "       kb_eval --lines SIGNATURE_DIR REAL_TSV EVAL_TSV NEGATIVE_LOG\n";
    return 2;
  }
  const int base = lines ? 2 : 1;
  const tunneldoc::LoadResult loaded = tunneldoc::load_knowledge_base(argv[base]);
  if (!loaded.ok()) {
    for (const auto& p : loaded.problems) std::cerr << p.to_string() << '\n';
    return 2;
  }
  std::vector<std::string> problems;
  if (lines) {
    namespace ke = tunneldoc::kbeval;
    const tunneldoc::Matcher matcher(loaded.kb);
    const auto real = ke::score_real(matcher, ke::read_real(argv[3], problems), argv[3]);
    const auto invented =
        ke::score_invented(matcher, ke::read_eval(argv[4], problems), ke::read_negative(argv[5], problems));
    for (const auto& p : problems) std::cerr << p << '\n';
    ke::report_lines(real, invented, std::cout);
    return problems.empty() ? 0 : 1;
  }
  const auto result = tunneldoc::kbeval::evaluate(loaded.kb, argv[2], argv[3], problems);
  for (const auto& p : problems) std::cerr << p << '\n';
  tunneldoc::kbeval::report(*loaded.kb, result, std::cout);
  return problems.empty() && result.ok() ? 0 : 1;
}
