# The run driver's sources, shared by the in-tree build
# (tools/gecko-device-check/CMakeLists.txt) and the standalone one the GPU
# machine builds (standalone/CMakeLists.txt). Plain C++17 + libdl.
set(GECKO_DEVICE_RUN_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/gecko-device-run.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Json.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Manifest.cpp
  ${CMAKE_CURRENT_LIST_DIR}/MemrefCopy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/TensorFile.cpp
)
