// kb_eval — prints the knowledge-base evaluation report (per-slug precision and
// recall over tests/kb/eval.tsv and tests/kb/negative.log) and fails when any
// line gets the wrong signature.
//
//   kb_eval SIGNATURE_DIR EVAL_TSV NEGATIVE_LOG
#include <iostream>

#include "kb_eval.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: kb_eval SIGNATURE_DIR EVAL_TSV NEGATIVE_LOG\n";
    return 2;
  }
  const tunneldoc::LoadResult loaded = tunneldoc::load_knowledge_base(argv[1]);
  if (!loaded.ok()) {
    for (const auto& p : loaded.problems) std::cerr << p.to_string() << '\n';
    return 2;
  }
  std::vector<std::string> problems;
  const auto result = tunneldoc::kbeval::evaluate(loaded.kb, argv[2], argv[3], problems);
  for (const auto& p : problems) std::cerr << p << '\n';
  tunneldoc::kbeval::report(*loaded.kb, result, std::cout);
  return problems.empty() && result.ok() ? 0 : 1;
}
