// config_fuzz.cc — the serve/tail configuration loader over arbitrary YAML:
// never throws or crashes; every problem names the file and a line; a
// configuration it accepts passes validation's own invariants.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_check.h"
#include "tunneldoc/config.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fs::path file = fs::temp_directory_path() / ("tunneldoc-fuzz-config-" + std::to_string(::getpid()));
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  tunneldoc::ConfigResult r = tunneldoc::load_config(file);
  for (const std::string& e : r.errors) FUZZ_CHECK(e.rfind(file.string(), 0) == 0);
  if (r.ok()) {
    for (const auto& l : r.config.listeners) {
      FUZZ_CHECK(l.max_connections >= 1);
      FUZZ_CHECK(tunneldoc::effective_reserve(l) < l.max_connections);
      FUZZ_CHECK(l.max_frame >= 256);
    }
    FUZZ_CHECK(r.config.threads >= 1 && r.config.threads <= 64);
    std::vector<std::string> errors;
    tunneldoc::validate_config(r.config, errors);
    FUZZ_CHECK(tunneldoc::descriptors_needed(r.config) >= 64);
  }
  return 0;
}
