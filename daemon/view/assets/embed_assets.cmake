# Writes OUTPUT, a C++ source holding the status page's CSS and script as
# string constants (tunneldoc::assets::kPageCss, kPageJs). Run at build time:
#   cmake -DCSS=page.css -DJS=page.js -DOUTPUT=view_assets.cc -P embed_assets.cmake
# No network, no tool beyond CMake: the bytes are written as hex escapes.
function(embed name file out)
  file(READ "${file}" hex HEX)
  string(LENGTH "${hex}" len)
  math(EXPR size "${len} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${hex}")
  # Split into lines of 32 bytes so that no line gets too long.
  string(REGEX REPLACE "((\\\\x[0-9a-f][0-9a-f]){32})" "\\1\"\n    \"" escaped "${escaped}")
  set(${out} "const std::string_view ${name}(\n    \"${escaped}\",\n    ${size});\n" PARENT_SCOPE)
endfunction()
embed(kPageCss "${CSS}" css)
embed(kPageJs "${JS}" js)
file(WRITE "${OUTPUT}.new" "// Generated from daemon/view/assets/ by embed_assets.cmake. Do not edit.\n"
  "#include <string_view>\n\nnamespace tunneldoc::assets {\n\nextern const std::string_view kPageCss;\n"
  "extern const std::string_view kPageJs;\n${css}${js}\n}  // namespace tunneldoc::assets\n")
file(COPY_FILE "${OUTPUT}.new" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.new")
