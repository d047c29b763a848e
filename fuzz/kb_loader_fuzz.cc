// kb_loader_fuzz.cc — the knowledge-base loader over arbitrary YAML: the
// input replaces signatures.yaml of the small test knowledge base
// (tests/data/mini-kb) in a private temporary directory. The loader never
// throws or crashes; it either loads or reports problems with a file and
// line; what it loads can be matched and rendered.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_check.h"
#include "tunneldoc/event.h"
#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/matcher.h"
#include "tunneldoc/output.h"
#include "tunneldoc/parse.h"
#include "tunneldoc/render.h"

namespace fs = std::filesystem;

namespace {

const fs::path& directory() {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("tunneldoc-fuzz-kb-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    for (const char* f : {"catalogue.tsv", "sections.yaml"})
      fs::copy_file(fs::path(TUNNELDOC_FUZZ_MINI_KB) / f, d / f, fs::copy_options::overwrite_existing);
    std::atexit([] { fs::remove_all(directory()); });
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path dir = directory();
  {
    std::ofstream out(dir / "signatures.yaml", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  const tunneldoc::LoadResult r = tunneldoc::load_knowledge_base(dir);
  FUZZ_CHECK(r.ok() == r.problems.empty());
  for (const auto& p : r.problems) {
    FUZZ_CHECK(!p.where.file.empty());
    FUZZ_CHECK(!p.message.empty());
  }
  if (!r.ok()) return 0;
  // A knowledge base that loads must serve: match its own examples and render them.
  tunneldoc::Matcher matcher(r.kb);
  tunneldoc::JsonRenderer renderer;
  tunneldoc::Fields fields;
  std::string out;
  for (const auto& sig : r.kb->signatures()) {
    for (const auto& example : sig.examples) {
      const auto record = tunneldoc::parse_line(example.line);
      const tunneldoc::Signature* hit = matcher.match(record, fields);
      FUZZ_CHECK(hit != nullptr);  // the loader ran the examples; the matcher must agree
      auto event = std::make_shared<tunneldoc::Event>();
      event->set_signature(hit->id, tunneldoc::KnowledgeBase::incident_class(*hit));
      event->set_device(record.host);
      event->set_stream("fuzz");
      event->set_message_id(record.message_id);
      event->set_line(record.line);
      event->set_fields(fields);
      event->set_peer(tunneldoc::peer_of(*event));
      out.clear();
      renderer.render(*tunneldoc::line_output(r.kb, event), out);
      FUZZ_CHECK(!out.empty() && out.back() == '\n');
    }
  }
  return 0;
}
