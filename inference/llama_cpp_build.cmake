# Read by llama.cpp's CMake right after its project() call (CMAKE_PROJECT_llama.cpp_INCLUDE, set in
# the Makefile). llama-cpp-python forces LLAMA_BUILD_COMMON on in its cache, but the bindings load
# only libllama and libggml*; a normal variable shadows that cache entry, so llama.cpp's common
# library (argument parsing, chat templates, JSON: about half the compile time) is not built.
set(LLAMA_BUILD_COMMON OFF)
