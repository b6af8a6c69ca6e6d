# The run driver's sources, shared by the in-tree build
# (tools/gecko-device-check/CMakeLists.txt) and the standalone one the GPU
# machine builds (standalone/CMakeLists.txt). Plain C++17 + libdl; the JSON
# parser is the runtime's (runtime/model/Json.cpp, include/ on the include
# path), compiled from source here so the GPU machine needs nothing else.
get_filename_component(GECKO_DEVICE_RUN_ROOT ${CMAKE_CURRENT_LIST_DIR}/../../..
  ABSOLUTE)
set(GECKO_DEVICE_RUN_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/gecko-device-run.cpp
  ${GECKO_DEVICE_RUN_ROOT}/runtime/model/Json.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Manifest.cpp
  ${CMAKE_CURRENT_LIST_DIR}/MemrefCopy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/TensorFile.cpp
)
