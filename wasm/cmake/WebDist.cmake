# The web root's caching layout, run after every build of the client or the page
# (cmake -P, from wasm/CMakeLists.txt):
#   - content-hashed copies of the assets the page loads (NAME.<8 hex of SHA-256>.EXT), which the
#     gateway serves with `Cache-Control: public, max-age=31536000, immutable`; the plain names
#     stay (docs and the JavaScript API's default load switchboard.js / switchboard.wasm)
#   - index.html from the page's source, referring to the hashed names (it is served `no-cache`,
#     so a new build is picked up at the next load)
#   - FILE.gz (gzip -9 -n) and, with the `brotli` tool, FILE.br next to every text and wasm file,
#     which the gateway sends to clients that accept them
# Variables: WEB_DIR (the web root), PAGE (the source index.html), GZIP, BROTLI (optional).
cmake_minimum_required(VERSION 3.21)

set(assets switchboard.js switchboard.wasm app.js style.css)
file(READ "${PAGE}" page)
foreach(asset ${assets})
  string(REGEX MATCH "^(.*)(\\.[a-z]+)$" _ "${asset}")
  set(stem "${CMAKE_MATCH_1}")
  set(ext "${CMAKE_MATCH_2}")
  file(SHA256 "${WEB_DIR}/${asset}" sha)
  string(SUBSTRING "${sha}" 0 8 hash)
  set(hashed "${stem}.${hash}${ext}")
  # Earlier builds' copies (and their variants) of this asset go.
  file(GLOB old "${WEB_DIR}/${stem}.*${ext}" "${WEB_DIR}/${stem}.*${ext}.gz" "${WEB_DIR}/${stem}.*${ext}.br")
  foreach(f ${old})
    get_filename_component(name "${f}" NAME)
    if(name MATCHES "^${stem}\\.[0-9a-f]+${ext}(\\.gz|\\.br)?$" AND NOT name MATCHES "^${hashed}")
      file(REMOVE "${f}")
    endif()
  endforeach()
  file(COPY_FILE "${WEB_DIR}/${asset}" "${WEB_DIR}/${hashed}" ONLY_IF_DIFFERENT)
  string(REPLACE "\"${asset}\"" "\"${hashed}\"" page "${page}")
endforeach()
file(WRITE "${WEB_DIR}/index.html.new" "${page}")
file(COPY_FILE "${WEB_DIR}/index.html.new" "${WEB_DIR}/index.html" ONLY_IF_DIFFERENT)
file(REMOVE "${WEB_DIR}/index.html.new")

file(GLOB compressible "${WEB_DIR}/*.js" "${WEB_DIR}/*.wasm" "${WEB_DIR}/*.css" "${WEB_DIR}/*.html" "${WEB_DIR}/*.ts")
foreach(f ${compressible})
  if("${f}" IS_NEWER_THAN "${f}.gz")
    execute_process(COMMAND "${GZIP}" -9 -n -k -f "${f}" RESULT_VARIABLE rc)
    if(rc)
      message(FATAL_ERROR "gzip failed on ${f}")
    endif()
  endif()
  if(BROTLI AND "${f}" IS_NEWER_THAN "${f}.br")
    execute_process(COMMAND "${BROTLI}" -q 11 -k -f "${f}" RESULT_VARIABLE rc)
    if(rc)
      message(FATAL_ERROR "brotli failed on ${f}")
    endif()
  endif()
endforeach()
